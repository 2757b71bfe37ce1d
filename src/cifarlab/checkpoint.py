"""Training checkpoints: ``last.pt`` every epoch, ``best.pt`` when the watched accuracy improves.

A checkpoint holds the trainer's whole state (:meth:`cifarlab.trainer.Trainer.checkpoint_state`:
model, optimizer, schedule step, early-stopping state, every RNG state, history) plus the run's
config and class names. Files are written to a temp file and ``os.replace``d, so a kill at any moment
leaves either the old or the new checkpoint, never half of one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from .errors import RunError
from .runs import atomic_torch_save

CHECKPOINT_FORMAT = "cifarlab.checkpoint/1"


def save_checkpoint(path: str | Path, state: dict[str, Any], config: dict[str, Any], classes) -> Path:
    return atomic_torch_save({"format": CHECKPOINT_FORMAT, "config": config, "classes": list(classes), **state}, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint, or raise a one-line RunError naming the file and what to do."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist: the run has no completed epoch to resume from; start it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)  # our own file: RNG states are tensors
    except Exception as e:  # noqa: BLE001 - every unreadable file gets the same answer
        hint = " or resume from the best epoch with --resume-from best" if path.name == "last.pt" else ""
        raise RunError(f"{path} is truncated or corrupted ({type(e).__name__}); delete the run{hint}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} is not a cifarlab checkpoint")
    return state


class CheckpointWriter:
    """Trainer callback: ``last.pt`` after every epoch, a copy to ``best.pt`` when the epoch improved."""

    def __init__(self, run_dir: str | Path, config: dict[str, Any], classes):
        self.run_dir = Path(run_dir)
        self.config = config
        self.classes = list(classes)

    def on_epoch_end(self, trainer, row) -> None:
        last = save_checkpoint(self.run_dir / "last.pt", trainer.checkpoint_state(), self.config, self.classes)
        if trainer.improved:
            tmp = self.run_dir / ".best.pt.tmp"
            shutil.copyfile(last, tmp)
            tmp.replace(self.run_dir / "best.pt")
