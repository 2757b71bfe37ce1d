"""Training batches from a data set that stays on the training device.

Written by hand instead of using torch's DataLoader on purpose: CIFAR-10 fits in device memory, so a
batch is an index slice of a resident uint8 tensor (no worker processes, no per-sample Python, no
host-to-device copy per step). The loader owns everything between "this epoch" and "this step's
tensors": the seeded shuffle, the partial last epoch of a fractional run, the augmentation, this
process's share of a data-parallel batch and its loss weight, uint8 -> float and the memory format.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from ..config.schema import TrainConfig
from ..data.augment import BatchAugment
from ..data.augmix import AugMix
from . import distributed
from .step import as_float_images


class DeviceLoader:
    """Batches of ``(images, labels, weight)`` for one epoch at a time.

    Every epoch draws a new permutation from a generator seeded by ``cfg.seed``; the last batch of an
    epoch may be smaller (kept, as the notebook's DataLoader kept it). Under torchrun every process
    draws the same global batch and keeps its share (distributed.shard).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, device: torch.device, channels_last: bool):
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size = cfg.batch_size
        self.channels_last = channels_last
        self.device = device
        self.steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.augment = BatchAugment(cfg, len(x), cfg.seed, device)
        # AugMix draws from the same generator, so checkpoints and resume cover it
        self.augmix = AugMix(self.augment.gen) if cfg.augmix else None
        self.views = 3 if cfg.augmix_jsd > 0 else 1  # clean + two mixes for the consistency loss

    def __len__(self) -> int:
        return len(self.x)

    def images_in(self, steps: int) -> int:
        """Images an epoch of ``steps`` batches shows (all of them unless it is a partial last epoch)."""
        return min(len(self.x), steps * self.batch_size)

    def epoch(
        self, epoch: int, steps: int | Callable[[], int], crops: int | Callable[[], int] | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, float]]:
        """The first ``steps`` batches of this epoch's shuffled order (its permutation is drawn now).

        ``crops``: how many of them (the first) are cropped when the config crops (``None``: all); the
        rest are full images -- progressive resizing, counted by the Trainer in steps of the whole run.
        Either may be a function, read again before every batch: a time budget's guard can move the
        run's end (and so the crop phase's) in the middle of an epoch.
        """
        perm = torch.randperm(len(self.x), generator=self.shuffle).to(self.device)
        steps_now = steps if callable(steps) else (lambda: steps)
        crops_now = crops if callable(crops) else (steps_now if crops is None else (lambda: crops))
        return self._batches(perm, epoch, steps_now, crops_now)

    def _batches(self, perm: torch.Tensor, epoch: int, steps: Callable[[], int], crops: Callable[[], int]):
        world, bs = distributed.world_size(), self.batch_size
        for i in range(self.steps_per_epoch):
            if i >= steps():
                break
            idx = perm[i * bs : (i + 1) * bs]
            if len(idx) < world:
                continue  # a last batch too small to give every process an image (all of them skip it)
            xb, yb = self.x[idx], self.y[idx]
            if self.augment.active:
                xb = self.augment(xb, idx, epoch, crop=i < crops())  # on the uint8 batch: cheaper than on floats
            weight = 1.0
            if world > 1:
                # DDP averages gradients over processes: weighting each share's mean loss by its size
                # makes that average the global batch's mean gradient even when the shares differ.
                part = distributed.shard(len(idx))
                xb, yb = xb[part], yb[part]
                weight = len(yb) * world / len(idx)
            xb = as_float_images(xb)
            if self.augmix is not None:
                # with the consistency loss the batch is (clean, mix, mix): the loss reads the thirds
                xb = torch.cat([xb, self.augmix(xb), self.augmix(xb)]) if self.views == 3 else self.augmix(xb)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb, weight
