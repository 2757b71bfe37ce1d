"""What a run records per epoch (:class:`History`, the metric columns) and the notebook's rule for
its best epoch and early stop (:class:`EarlyStopping`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr", "seconds")


class EarlyStopping:
    """The notebook's rule: an epoch improves only if it beats the best by more than ``min_delta``;
    stop after ``patience`` epochs in a row without improvement (``patience <= 0``: never stop)."""

    def __init__(self, patience: int = -1, min_delta: float = 0.001):
        self.patience = patience
        self.min_delta = min_delta
        self.best = -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value`` for ``epoch``; return True if it is a new best."""
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]


class History:
    """Per-epoch rows; ``history['test_acc']`` gives a column as a list, like the notebook's dict."""

    def __init__(self, rows: Iterable[dict[str, float]] = ()):
        self.rows: list[dict[str, float]] = list(rows)

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(row)

    def __getitem__(self, key: str | int):
        if isinstance(key, int):
            return self.rows[key]
        return [row[key] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs)"

    @property
    def columns(self) -> list[str]:
        """The metric columns present, in METRIC_COLUMNS order, then any others in first-seen order."""
        seen = {key: None for row in self.rows for key in row}
        return [c for c in METRIC_COLUMNS if c in seen] + [c for c in seen if c not in METRIC_COLUMNS]

    def figures(self, best_epoch: int) -> dict[str, Any]:
        """The summary's figures from the rows: bests, the best epoch's validation accuracy, finals."""
        rows = self.rows
        return {
            "epochs_run": len(rows),  # metric rows; a 4.5-epoch run has 5, the last a half epoch
            "best_val_acc": _nanmax(r["val_acc"] for r in rows),
            "best_test_acc": _nanmax(r["test_acc"] for r in rows),
            "val_acc_at_best": rows[best_epoch - 1]["val_acc"],
            "final_train_acc": rows[-1]["train_acc"],
            "final_val_acc": rows[-1]["val_acc"],
            "final_test_acc": rows[-1]["test_acc"],
        }

    def to_frame(self):
        """The rows as a pandas DataFrame indexed by epoch (1, 2, ...), one column per metric; NaN where
        an epoch was not evaluated. Needs pandas (``pip install pandas``, or the notebook extra)."""
        from ..core.jupyter import require_pandas

        pd = require_pandas("History.to_frame()")
        columns = self.columns or list(METRIC_COLUMNS)
        frame = pd.DataFrame([{c: row.get(c, math.nan) for c in columns} for row in self.rows], columns=columns)
        return frame.set_index("epoch") if "epoch" in frame.columns else frame

    def _repr_html_(self) -> str:
        """In Jupyter: the rows as a table, accuracies in percent (values escaped). The curves are
        LivePlot's (and a run's, ``LoadedRun``'s HTML)."""
        from ..core.jupyter import html_table

        caption = f"History: {len(self.rows)} epoch{'' if len(self.rows) == 1 else 's'}"
        return html_table(self.columns or list(METRIC_COLUMNS), self.rows, caption=caption, max_height=400)


def _nanmax(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else float("nan")


def epoch_line(row: dict[str, float], steps: int, steps_per_epoch: int, last_epoch: int) -> str:
    """The log line of an epoch's row (``steps`` of ``steps_per_epoch`` batches: a partial last epoch)."""

    def part(split: str) -> str:
        acc = row[f"{split}_acc"]
        return "" if math.isnan(acc) else f"  {split} loss {row[f'{split}_loss']:.4f} acc {100 * acc:.2f}%"

    partial = f" ({steps} of {steps_per_epoch} batches)" if steps < steps_per_epoch else ""
    return (
        f"epoch {row['epoch']:>3}/{last_epoch}{partial}  train loss {row['train_loss']:.4f} "
        f"acc {100 * row['train_acc']:.2f}%{part('val')}{part('test')}  lr {row['lr']:.2e}  {row['seconds']:.1f}s"
    )
