"""Run folders: what a training run leaves behind, and how to load it back.

``runs/<name>/`` holds ``config.json`` (everything needed to rerun), ``metrics.csv`` (one row
appended as each epoch ends), ``curves.png`` (redrawn each epoch), ``model.pt`` (self-describing:
weights, model name and kwargs, config, class names) and ``summary.json``. Files that are replaced
are written to a temp file and ``os.replace``d, so a crash never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ExperimentConfig
from .errors import RunError
from .models import create_model
from .trainer import METRIC_COLUMNS, as_float_images, predict_logits

MODEL_FORMAT = "cifarlab.model/1"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(_jsonable(obj), indent=2, allow_nan=True) + "\n").encode())


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None  # JSON has no NaN; null reads back everywhere
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, or raise a RunError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise RunError(f"cannot write to output folder {folder} ({e.strerror}); choose another with --out DIR") from None
    return folder


def new_run_dir(out: str | Path, name: str) -> Path:
    """A new, empty run folder ``out/name`` (``name-2``, ``name-3``... if taken); never reuses one."""
    out = check_writable(out)
    for k in range(1, 10_000):
        candidate = out / (name if k == 1 else f"{name}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunError(f"too many runs named '{name}' in {out}; pass another --name")


def default_run_name(config: ExperimentConfig) -> str:
    return f"{config.recipe or config.model}-{time.strftime('%Y%m%d-%H%M%S')}"


class MetricsWriter:
    """Appends one CSV row per epoch and flushes it to disk at once (a crash keeps every finished epoch)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(METRIC_COLUMNS)

    def append(self, row: dict[str, float]) -> None:
        values = [_csv_value(row.get(col, float("nan"))) for col in METRIC_COLUMNS]
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(values)
            f.flush()
            os.fsync(f.fileno())


def rewrite_metrics(path: str | Path, rows: list[dict[str, float]]) -> None:
    """Replace metrics.csv by exactly ``rows`` (atomically), e.g. the epochs a checkpoint holds."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(METRIC_COLUMNS)
    for row in rows:
        writer.writerow([_csv_value(row.get(col, float("nan"))) for col in METRIC_COLUMNS])
    atomic_write_bytes(path, buf.getvalue().encode())


def _csv_value(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [
            {k: (int(v) if k == "epoch" else (float(v) if v != "" else float("nan"))) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def save_model(path: str | Path, model: nn.Module, config: ExperimentConfig, classes, extra: dict | None = None) -> Path:
    """A self-describing model file: weights plus everything needed to rebuild the network."""
    payload = {
        "format": MODEL_FORMAT,
        "model": config.model,
        "model_kwargs": dict(config.model_kwargs),
        "num_classes": len(classes),
        "classes": list(classes),
        "config": config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "torch_version": str(torch.__version__),
        **(extra or {}),
    }
    return atomic_torch_save(payload, path)


class RunWriter:
    """Trainer callback that writes the run folder as training goes."""

    def __init__(self, run_dir: str | Path, config: ExperimentConfig, classes, *, extra_summary: dict | None = None):
        self.run_dir = Path(run_dir)
        self.config = config
        self.classes = list(classes)
        self.extra_summary = dict(extra_summary or {})
        self.metrics = MetricsWriter(self.run_dir / "metrics.csv")
        # Imported here, before training starts: importing matplotlib takes seconds on a small CPU,
        # which the first epoch's plot would otherwise add to the timed training.
        from .plots import plot_curves

        self._plot_curves = plot_curves
        self._rows: list[dict] = []
        self._plotted, self._last_plot, self._plot_cost = 0, -math.inf, 0.0

    def on_train_begin(self, trainer) -> None:
        atomic_write_json(self.run_dir / "config.json", self.config.to_dict())

    def on_epoch_end(self, trainer, row) -> None:
        self.metrics.append(row)
        self._rows = trainer.history.rows
        # Redraw curves.png only while that costs under ~5% of the time since the last redraw: after
        # every epoch on a CPU, every few seconds on a GPU, where an epoch (0.5-0.9 s for fast90 and
        # fast94 on an H200) is not much longer than a redraw (~0.2 s on a 2-core CPU). The end of
        # training always draws the final curves.
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
        atomic_write_json(
            self.run_dir / "summary.json",
            {"name": self.run_dir.name, "model": self.config.model, "recipe": self.config.recipe,
             "status": "completed", **summary, **self.extra_summary},
        )  # fmt: skip


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

    @torch.no_grad()
    def predict(self, images, batch_size: int = 1000, tta: str = "none") -> torch.Tensor:
        """Class probabilities ``(N, num_classes)``.

        ``images``: a tensor ``(N, 3, 32, 32)`` (uint8, or float in [0, 1]), or a list of image paths,
        PIL images or HWC uint8 arrays of any size and mode (resized to 32x32 RGB).
        """
        if not isinstance(images, torch.Tensor):
            from .predict import as_batch

            images = as_batch(images)
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, 32, 32):
            raise RunError(f"expected images of shape (N, 3, 32, 32), got {tuple(images.shape)}")
        return predict_logits(self.model, as_float_images(images), batch_size, tta=tta).softmax(dim=1)


def load_model_file(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist; pass a run folder that holds a model.pt")
    try:
        # weights_only: a model file must never run code on load. Files written by cifarlab 0.1.0
        # development builds stored torch.__version__ as a TorchVersion object: allow that one class.
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise RunError(f"{path} is not a readable model file ({type(e).__name__}); it may be truncated") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise RunError(
            f"{path} is not a cifarlab model file; for a bare state_dict use "
            "'cifarlab evaluate --model NAME --weights FILE'"
        )
    return payload


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the trained model of a run folder (or of a model.pt) in one call."""
    path = Path(path)
    model_file = path / "model.pt" if path.is_dir() else path
    if path.is_dir() and not model_file.exists():
        raise RunError(f"{path} has no model.pt (the run did not finish); train it again or pick another run")
    payload = load_model_file(model_file)
    model = create_model(payload["model"], num_classes=payload["num_classes"], **payload["model_kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    run_dir = model_file.parent
    summary_file = run_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return LoadedRun(run_dir, model, ExperimentConfig.from_dict(payload["config"]), payload["classes"], summary)
