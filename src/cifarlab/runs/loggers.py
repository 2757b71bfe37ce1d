"""Optional loggers. TensorBoard is imported only when asked for, so it is never a hard dependency."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError


def require_tensorboard() -> None:
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard") from None


class TensorBoardLogger:
    """Trainer callback: every metric column as a TensorBoard scalar per epoch, in ``run_dir/tensorboard``."""

    def __init__(self, run_dir: str | Path):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def on_epoch_end(self, trainer, row) -> None:
        for key, value in row.items():
            if key != "epoch" and value == value:  # NaN (not evaluated) is skipped
                split, _, metric = key.partition("_")
                self.writer.add_scalar(f"{metric or split}/{split}" if metric else key, value, row["epoch"])
        self.writer.flush()

    def on_train_end(self, trainer, summary) -> None:
        self.writer.close()
