"""Run folders: what a training run leaves behind, and how to load it back.

``runs/<name>/`` holds ``config.json`` (everything needed to rerun), ``metrics.csv`` (one row
appended as each epoch ends), ``curves.png`` (redrawn each epoch), ``model.pt`` (self-describing:
weights, model name and kwargs, config, class names) and ``summary.json``. Files that are replaced
are written to a temp file and ``os.replace``d, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.schema import DataConfig, ExperimentConfig
from ..core.errors import CifarlabError, RunError, UnsafeFileError
from ..core.fileio import atomic_write_bytes, atomic_write_json, open_file, read_text
from ..models.registry import count_parameters
from ..training.history import METRIC_COLUMNS, History
from ..training.step import as_float_images, predict_logits
from .folder import default_run_name, new_run_dir
from .model_file import build_saved_model, check_registered_shape, load_model_file, save_model


class MetricsWriter:
    """Appends one CSV row per epoch and flushes it to disk at once (a crash keeps every finished epoch)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open_file(self.path, "a", newline="") as f:
            if f.tell() == 0:
                csv.writer(f, lineterminator="\n").writerow(METRIC_COLUMNS)

    def append(self, row: dict[str, float]) -> None:
        values = [_csv_value(row.get(col, float("nan"))) for col in METRIC_COLUMNS]
        with open_file(self.path, "a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(values)
            f.flush()
            os.fsync(f.fileno())


def rewrite_metrics(path: str | Path, rows: list[dict[str, float]]) -> None:
    """Replace metrics.csv by exactly ``rows`` (atomically), e.g. the epochs a checkpoint holds."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for row in rows:
        writer.writerow([_csv_value(row.get(col, float("nan"))) for col in METRIC_COLUMNS])
    atomic_write_bytes(path, buf.getvalue().encode())


def _csv_value(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """metrics.csv's rows (epoch as int, blanks as NaN); a one-line RunError if the file is damaged."""
    try:
        with open_file(path, "r", newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and not set(METRIC_COLUMNS[:7]) <= set(rows[0]):  # epoch .. test_acc (older runs lack lr, seconds)
            raise ValueError("missing columns")
        return [
            {k: (int(v) if k == "epoch" else (float(v) if v != "" else float("nan"))) for k, v in row.items()}
            for row in rows
        ]
    except UnsafeFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, TypeError, csv.Error) as e:
        raise RunError(
            f"{path} is not a cifarlab metrics file ({type(e).__name__}); the run folder is damaged"
        ) from None


class RunWriter:
    """Trainer callback that writes the run folder as training goes."""

    def __init__(self, run_dir: str | Path, config: ExperimentConfig, classes, *, extra_summary: dict | None = None):
        self.run_dir = Path(run_dir)
        self.config = config
        self.classes = list(classes)
        self.extra_summary = dict(extra_summary or {})
        self.summary: dict[str, Any] = {}
        self.metrics = MetricsWriter(self.run_dir / "metrics.csv")
        # Imported here, before training starts: importing matplotlib takes seconds on a small CPU,
        # which the first epoch's plot would otherwise add to the timed training.
        from ..plots import plot_curves

        self._plot_curves = plot_curves
        self._rows: list[dict] = []
        self._plotted, self._last_plot, self._plot_cost = 0, -math.inf, 0.0

    def on_train_begin(self, trainer) -> None:
        atomic_write_json(self.run_dir / "config.json", self.config.to_dict())

    def on_epoch_end(self, trainer, row) -> None:
        self.metrics.append(row)
        self._rows = trainer.history.rows
        # Redraw curves.png only while that costs under ~5% of the time since the last redraw: after
        # every epoch on a CPU, every few seconds on a GPU, where an epoch can take less than a second,
        # not much longer than a redraw. The end of training always draws the final curves.
        if time.perf_counter() - self._last_plot >= 20 * self._plot_cost:
            self.finish_curves()

    def finish_curves(self) -> None:
        """Draw curves.png for every epoch so far, unless it already shows them all."""
        if self._plotted == len(self._rows):
            return
        t0 = time.perf_counter()
        self._plot_curves(self._rows, self.run_dir / "curves.png", title=self.run_dir.name)
        self._last_plot = time.perf_counter()
        self._plot_cost, self._plotted = self._last_plot - t0, len(self._rows)

    def on_train_end(self, trainer, summary) -> None:
        self.finish_curves()
        save_model(self.run_dir / "model.pt", trainer.net, self.config, self.classes)
        self._write_summary("completed", summary)

    def fail(self, trainer, status: str, error: BaseException) -> None:
        """The run ended early (``status``: interrupted, terminated, pruned, failed): draw the curves of
        every completed epoch and say so in summary.json, keeping the same keys as a completed run's
        where they are known. Never raises: the error that ended the run is the one to report."""
        rows = trainer.history.rows
        # An interrupt can land after the trainer recorded an epoch and before on_epoch_end appended
        # it (or while it did): metrics.csv is then one row short of (or, half-written, apart from)
        # the history. Rewrite it from the history, atomically, so it and summary.json agree.
        with contextlib.suppress(Exception):
            rewrite_metrics(self.metrics.path, rows)
            self._rows = rows
        with contextlib.suppress(Exception):
            self.finish_curves()
        known = {"epochs_run": len(rows), "epochs_trained": len(rows), "error": f"{type(error).__name__}: {error}"}
        with contextlib.suppress(Exception):
            self._write_summary(status, known)

    def _write_summary(self, status: str, fields: dict[str, Any]) -> None:
        """summary.json, written here only: how the run ended, the trainer's figures, the run's facts."""
        head = {"name": self.run_dir.name, "model": self.config.model, "recipe": self.config.recipe, "status": status}
        self.summary = {**head, **fields, **self.extra_summary}
        atomic_write_json(self.run_dir / "summary.json", self.summary)


@dataclass
class LoadedRun:
    """A trained model rebuilt from a run folder (or a bare model.pt)."""

    path: Path
    model: nn.Module
    config: ExperimentConfig
    classes: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> list[dict[str, float]]:
        f = self.path / "metrics.csv" if self.path.is_dir() else None
        return read_metrics(f) if f and f.exists() else []

    @property
    def history(self) -> History:
        """The run's epochs as a :class:`History` (``.to_frame()`` for pandas)."""
        return History(self.metrics)

    @property
    def name(self) -> str:
        return self.path.name

    def _repr_html_(self) -> str:
        """In Jupyter: the run's headline facts, its classes and its curves (every value escaped)."""
        from ..core.jupyter import esc, figure_html, fmt_value

        s = self.summary
        epochs = f"{s.get('best_epoch', '–')} of {s.get('epochs_run', '–')}"
        facts = [
            ("model", self.config.model),
            ("status", s.get("status")),
            ("test accuracy", fmt_value("test_acc", s.get("test_acc"))),
            ("best epoch", f"{epochs} (selected on {s.get('selected_on', '–')})"),
            ("parameters", fmt_value("parameters", s.get("parameters"))),
            ("training time", fmt_value("wall_seconds", s.get("wall_seconds"))),
            ("device", s.get("device_name") or s.get("device")),
            ("classes", ", ".join(map(str, self.classes))),
            ("folder", str(self.path)),
        ]
        rows = "".join(
            f'<tr><th style="text-align:left;padding:2px 8px">{esc(k)}</th>'
            f'<td style="text-align:left;padding:2px 8px">{esc(v)}</td></tr>'
            for k, v in facts
        )
        out = f"<h4>run {esc(self.name)}</h4><table>{rows}</table>"
        metrics = self.metrics
        if metrics:
            from ..plots import curves_figure

            out += figure_html(curves_figure(metrics))
        return out

    @torch.no_grad()
    def predict(self, images, batch_size: int = 1000, tta: str = "none") -> torch.Tensor:
        """Class probabilities ``(N, num_classes)``.

        ``images``: a tensor ``(N, 3, 32, 32)`` (uint8, or float in [0, 1]), or a list of image paths,
        PIL images or HWC uint8 arrays of any size and mode (resized to 32x32 RGB).
        """
        if not isinstance(images, torch.Tensor):
            from ..data.images import as_batch

            images = as_batch(images)
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, 32, 32):
            raise RunError(f"expected images of shape (N, 3, 32, 32), got {tuple(images.shape)}")
        return predict_logits(self.model, as_float_images(images), batch_size, tta=tta).softmax(dim=1)


def save_run(
    trainer,
    out: str | Path = "runs",
    *,
    model: str,
    classes,
    name: str | None = None,
    data: DataConfig | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> LoadedRun:
    """Save a :class:`~cifarlab.Trainer` that has finished ``train()`` as a run folder ``out/name``:
    config.json, metrics.csv, curves.png, model.pt and summary.json, as ``cifarlab train`` writes them,
    so :func:`load_run`, compare, evaluate, report and export work on it. Returns the run.

    ``model`` (and ``model_kwargs``) name the registered model the net was built with
    (``create_model(model, **model_kwargs)``): a run is rebuilt by name, so a net of another shape is
    refused before anything is written. ``data`` records how the training images were chosen (the
    ``DataConfig`` whose settings you passed to ``make_splits``); the default records the default.
    """
    rows = [dict(r) for r in trainer.history.rows]
    if not rows or not trainer.summary:
        raise RunError("save_run() saves a finished training: call trainer.train(...) first")
    kwargs = dict(model_kwargs or {})
    check_registered_shape(trainer.net, model, len(classes), kwargs)
    config = ExperimentConfig(
        model=model,
        model_kwargs=kwargs,
        name=name,
        out=str(out),
        data=copy.deepcopy(data) if data is not None else DataConfig(),
        train=copy.deepcopy(trainer.config),
    ).validate()
    run_dir = new_run_dir(out, name or default_run_name(config))
    config.name = run_dir.name
    sizes = {split: (len(pair[1]) if pair is not None else 0) for split, pair in trainer.sets.items()}
    facts = {
        "parameters": count_parameters(trainer.net),
        "train_images": len(trainer.loader) if trainer.loader is not None else None,
        "val_images": sizes.get("val", 0),
        "test_images": sizes.get("test", 0),
        "saved_from": "Trainer",
    }
    writer = RunWriter(run_dir, config, classes, extra_summary=facts)
    writer.on_train_begin(trainer)
    rewrite_metrics(run_dir / "metrics.csv", rows)
    writer._rows = rows
    writer.on_train_end(trainer, trainer.summary)
    return LoadedRun(run_dir, trainer.net.eval(), config, list(classes), writer.summary)


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the trained model of a run folder (or of a model.pt) in one call."""
    path = Path(path)
    model_file = path / "model.pt" if path.is_dir() else path
    if path.is_dir() and not model_file.exists():
        raise RunError(f"{path} has no model.pt (the run did not finish); train it again or pick another run")
    payload = load_model_file(model_file)
    model = build_saved_model(model_file, payload)
    model.to(device).eval()
    run_dir = model_file.parent
    summary = read_json(run_dir / "summary.json", required=False)
    try:
        config = ExperimentConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError):
        raise RunError(f"{model_file} holds no valid config; it is damaged: train the run again") from None
    return LoadedRun(run_dir, model, config, list(payload["classes"]), summary)


def read_config(path: Path) -> ExperimentConfig:
    """A run's config.json as an ExperimentConfig; a one-line RunError if it is missing or damaged."""
    try:
        return ExperimentConfig.from_dict(read_json(path)).validate()
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # ConfigError is a ValueError
        detail = str(e) if isinstance(e, CifarlabError) else type(e).__name__
        raise RunError(f"{path} is not a valid cifarlab config ({detail}); the run folder is damaged") from None


def read_json(path: Path, required: bool = True) -> dict[str, Any]:
    """A run file's JSON object; a one-line RunError if it is damaged (or missing, when ``required``)."""
    if not path.exists():
        if required:
            raise RunError(f"{path} is missing; the run did not finish or the folder is not a run: train it again")
        return {}
    try:
        obj = json.loads(read_text(path))
    except UnsafeFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path} is not valid JSON ({type(e).__name__}); the run folder is damaged") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path} holds no JSON object; the run folder is damaged")
    return obj
