"""Training checkpoints: ``last.pt`` every epoch, ``best.pt`` when the watched accuracy improves.

A checkpoint holds the trainer's whole state (:func:`trainer_state`:
model, optimizer, schedule step, early-stopping state, every RNG state, history) plus the run's
config and class names. Files are written to a temp file and ``os.replace``d, so a kill at any moment
leaves either the old or the new checkpoint, never half of one.

On CUDA the file is written in a background thread: the state is serialised to bytes at the end of
the epoch (a consistent snapshot), and writing and fsyncing them overlaps the next epoch. A fast
GPU epoch is under a second, and a synchronous write would add a large share to each (DEVELOPERS.md,
"Measurements behind the code"). At most one write is in flight;
a failed write is raised at the next epoch's end or at the end of training. A kill while one is in
flight leaves the previous epoch's checkpoint, and resuming repeats that epoch.
"""

from __future__ import annotations

import io
import pickle
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from ..core.errors import CifarlabError, RunError, UnsafeFileError
from ..core.fileio import atomic_path, atomic_write_bytes, open_file
from .history import History

CHECKPOINT_FORMAT = "cifarlab.checkpoint/1"


def trainer_state(trainer) -> dict[str, Any]:
    """What a checkpoint holds of a :class:`~cifarlab.training.trainer.Trainer` under way, at the end of
    an epoch: everything needed to continue its training exactly."""
    cuda = trainer.device.type == "cuda"
    return {
        "epoch": len(trainer.history),
        # steps taken; the length the config asked for, and the one a time budget's guard may have set
        **trainer.plan.state_dict(),
        "history": [dict(r) for r in trainer.history.rows],
        "model": {k: v.detach().cpu().clone() for k, v in trainer.net.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "stopper": trainer.stopper.state_dict(),
        "best_state": trainer.best_state,
        "lookahead": {k: v.cpu().clone() for k, v in trainer.lookahead.ema.items()} if trainer.lookahead else None,
        "selector": trainer.selector.state_dict() if trainer.selector is not None else None,
        "augment": trainer.loader.augment.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "shuffle": trainer.loader.shuffle.get_state(),
            "cuda": torch.cuda.get_rng_state(trainer.device) if cuda else None,
        },
        "seconds_to_target": trainer.seconds_to_target,
        "elapsed": trainer.plan.elapsed(),
    }


def restore_trainer_state(trainer, state: dict[str, Any]) -> float:
    """Restore a :func:`trainer_state` into a set-up Trainer; returns the seconds the run had already taken."""
    trainer.plan.load_state_dict(state)  # steps taken, and a length a budget guard set (a new --epochs wins)
    trainer.net.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scaler.load_state_dict(state["scaler"])
    trainer.stopper.load_state_dict(state["stopper"])
    trainer.best_state = state["best_state"]
    if trainer.lookahead is not None and state["lookahead"] is not None:
        for k, v in state["lookahead"].items():
            trainer.lookahead.ema[k].copy_(v)
    if trainer.selector is not None:
        if state.get("selector") is None:
            raise CifarlabError("this checkpoint was trained without --keep-hard: resume it without --keep-hard")
        trainer.selector.load_state_dict(state["selector"])
    trainer.loader.augment.load_state_dict(state["augment"])
    torch.set_rng_state(state["rng"]["torch"])  # rank 0's: Trainer.setup gives other ranks streams of their own
    trainer.loader.shuffle.set_state(state["rng"]["shuffle"])
    if state["rng"]["cuda"] is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(state["rng"]["cuda"], trainer.device)
    trainer.history = History(state["history"])
    trainer.seconds_to_target = state["seconds_to_target"]
    return float(state["elapsed"])


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint, or raise a one-line RunError naming the file and what to do."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist: the run has no completed epoch to resume from; start it again")
    try:
        # Run folders are shared, so a checkpoint is untrusted input: the safe loader rebuilds only
        # tensors and plain containers and never calls code named in the file (a real checkpoint
        # holds nothing else: RNG states are tensors). See docs/security.md.
        with open_file(path) as f:  # no symlink, no FIFO: see cifarlab.core.fileio
            state = torch.load(f, map_location="cpu", weights_only=True)
    except UnsafeFileError:
        raise
    except pickle.UnpicklingError:
        raise RunError(
            f"{path} is not a cifarlab checkpoint: it holds objects other than tensors and plain values, "
            "which cifarlab never loads; delete it or resume from a checkpoint you trust"
        ) from None
    except Exception as e:  # noqa: BLE001 - every unreadable file gets the same answer
        hint = " or resume from the best epoch with --resume-from best" if path.name == "last.pt" else ""
        raise RunError(f"{path} is truncated or corrupted ({type(e).__name__}); delete the run{hint}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} is not a cifarlab checkpoint")
    return state


def saved_epoch(run_dir: str | Path) -> int:
    """The epoch a resume would start after: the one in ``last.pt`` on disk (0 if it is missing or does
    not load), not the epochs the history holds, which a failed checkpoint write would not have saved."""
    try:
        state = load_checkpoint(Path(run_dir) / "last.pt")
        return int(state["epoch"])
    except (CifarlabError, OSError, KeyError, TypeError, ValueError):
        return 0


def resume_hint(run_dir: str | Path, extra: str = "") -> str:
    """What a stopped run can do next, from the checkpoint on disk."""
    epoch = saved_epoch(run_dir)
    if epoch == 0:
        return "no epoch was saved (no readable last.pt); train the run again"
    epochs = "epoch 1 is" if epoch == 1 else f"epochs 1-{epoch} are"
    return f"{epochs} saved; continue with: cifarlab train --resume {run_dir}{extra}"


class CheckpointWriter:
    """Trainer callback: ``last.pt`` after every epoch, a copy to ``best.pt`` when the epoch improved.

    ``background``: write in a thread (None: on CUDA only, where epochs are short and the state is
    copied off the device anyway). Call :meth:`close` (``on_train_end`` does) to wait for the write.
    """

    def __init__(self, run_dir: str | Path, config: dict[str, Any], classes, background: bool | None = None):
        self.run_dir = Path(run_dir)
        self.config = config
        self.classes = list(classes)
        self.background = background
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def on_train_begin(self, trainer) -> None:
        if self.background is None:
            self.background = trainer.device.type == "cuda"

    def on_epoch_end(self, trainer, row) -> None:
        improved = trainer.stopper.best_epoch == row["epoch"]  # this epoch set the watched accuracy's best
        buf = io.BytesIO()
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config,
            "classes": self.classes,
            **trainer.checkpoint_state(),
        }
        torch.save(state, buf)
        self.wait()
        if self.background:
            self._pool = self._pool or ThreadPoolExecutor(1, thread_name_prefix="cifarlab-checkpoint")
            self._pending = self._pool.submit(self._write, buf.getvalue(), improved)
        else:
            self._write(buf.getvalue(), improved)

    def _write(self, data: bytes, improved: bool) -> None:
        last = atomic_write_bytes(self.run_dir / "last.pt", data)
        if improved:
            with atomic_path(self.run_dir / "best.pt") as tmp:
                shutil.copyfile(last, tmp)

    def wait(self) -> None:
        """Block until the write in flight (if any) is on disk; raise its error if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def on_train_end(self, trainer, summary) -> None:
        self.close()
