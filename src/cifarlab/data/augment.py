"""Data augmentation as batched tensor ops on the training device.

Written by hand rather than taken from a transforms library on purpose: per-sample transforms run one
Python call per image on the host, which costs more than the whole training step for small CIFAR
networks. Here a batch ``(N, C, H, W)`` is augmented with a handful of tensor ops, wherever it lives,
and every random draw comes from an explicit ``torch.Generator`` so a seeded run is reproducible.
"""

from __future__ import annotations

import torch

from ..config.schema import TrainConfig


def random_translate(x: torch.Tensor, pad: int, gen: torch.Generator, mode: str = "reflect") -> torch.Tensor:
    """Random crop of size (H, W) from the image padded by ``pad`` on each side (a translation).

    Offsets ``dy, dx`` are uniform in ``[0, 2 * pad]``, one pair per image. ``mode`` is the padding:
    ``reflect`` (mirror, no artificial black border) or ``constant`` (zeros).
    """
    return translate_and_crop(x, pad, 0, gen, mode)


def random_crop(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """A random ``size x size`` window of each image (offsets uniform, one pair per image).

    Training on crops smaller than the test images keeps objects at their scale and shows less
    context; a network that ends in global pooling then evaluates on the full image. On a CPU a
    24-pixel crop trains a fastnet step ~2x faster than the full 32 pixels (docs/performance.md).
    """
    return translate_and_crop(x, 0, size, gen)


def translate_and_crop(
    x: torch.Tensor, pad: int, size: int, gen: torch.Generator, mode: str = "reflect"
) -> torch.Tensor:
    """``random_crop(random_translate(x, pad, gen, mode), size, gen)`` with one gather instead of two.

    The crop of a translated image is a window of the padded image at the sum of both offsets; the
    offsets are drawn in the same order as the two calls would draw them, so results are identical.
    """
    n, _, h, w = x.shape
    crop = 0 < size < min(h, w)
    if pad <= 0 and not crop:
        return x
    offsets = torch.zeros(2, n, dtype=torch.long)
    if pad > 0:
        x = (
            torch.nn.functional.pad(x, (pad, pad, pad, pad), mode=mode)
            if mode != "constant"
            else torch.nn.functional.pad(x, (pad, pad, pad, pad))
        )
        offsets = offsets + torch.randint(0, 2 * pad + 1, (2, n), generator=gen, device=gen.device)
    if crop:
        offsets = offsets + torch.stack(
            [
                torch.randint(0, h - size + 1, (n,), generator=gen, device=gen.device),
                torch.randint(0, w - size + 1, (n,), generator=gen, device=gen.device),
            ]
        )
        h = w = size
    return _crop_at(x, to_device(offsets, x.device), h, w)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a small host tensor of random draws to ``device`` without stalling the host.

    A plain ``.to("cuda")`` from pageable memory waits for the GPU to finish all queued work, once
    per augmentation per step: the host could then never run ahead of the GPU. From pinned memory,
    ``non_blocking`` just queues the copy (PyTorch keeps the pinned buffer alive until it is done).
    """
    if t.device == device or device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _crop_at(x: torch.Tensor, offsets: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``out[n] = x[n, :, dy:dy + h, dx:dx + w]`` with ``(dy, dx) = offsets[:, n]``, as one gather
    along the flattened pixels (a few times faster than 4-D advanced indexing on a CPU)."""
    n, c, _, width = x.shape
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # (N, h)
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # (N, w)
    flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return x.reshape(n, c, -1).gather(2, flat).reshape(n, c, h, w)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = to_device(torch.rand(len(x), generator=gen, device=gen.device), x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def alternating_flip(x: torch.Tensor, indices: torch.Tensor, epoch: int, flip_bits: torch.Tensor) -> torch.Tensor:
    """Flip image ``i`` in every other epoch: if ``flip_bits[i] xor (epoch % 2)``.

    ``flip_bits`` is one random bit per training image drawn once per run, so over any two consecutive
    epochs every image is seen once flipped and once not (fewer repeats than independent coin flips).
    """
    flip = flip_bits.to(indices.device)[indices].to(x.device).bool() ^ bool(epoch % 2)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one ``size x size`` square per image; its centre is uniform over the image (clipped at edges)."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    centre = to_device(
        torch.stack(
            [
                torch.randint(0, h, (n,), generator=gen, device=gen.device),
                torch.randint(0, w, (n,), generator=gen, device=gen.device),
            ]
        ),
        x.device,
    )
    top = centre[0] - size // 2
    left = centre[1] - size // 2
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_rows = (ys >= top[:, None]) & (ys < top[:, None] + size)  # (N, H)
    in_cols = (xs >= left[:, None]) & (xs < left[:, None] + size)  # (N, W)
    hole = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return x.masked_fill(hole[:, None], 0)


class BatchAugment:
    """Augments training batches as a :class:`cifarlab.config.schema.TrainConfig` says (its ``translate``,
    ``flip``, ``cutout`` and ``crop``), drawing from a seeded generator of its own. ``crop=False`` in a
    call gives the full-size image instead (the late steps of progressive resizing: ``crop_until``)."""

    def __init__(self, cfg: TrainConfig, num_images: int, seed: int, device: torch.device):
        self.cfg = cfg
        # The generator lives on the host: draws are tiny and identical on every device, so a seed
        # gives the same augmentation on CPU and GPU.
        self.gen = torch.Generator().manual_seed(seed + 1_000_003)
        self.flip_bits = torch.randint(0, 2, (num_images,), generator=self.gen)
        self.device = device
        self._flip_bits_on_device = to_device(self.flip_bits, device)  # indexed by batch indices, no copy back

    @property
    def active(self) -> bool:
        c = self.cfg
        return c.translate > 0 or c.flip != "none" or c.cutout > 0 or c.crop > 0

    def __call__(self, x: torch.Tensor, indices: torch.Tensor, epoch: int, crop: bool = True) -> torch.Tensor:
        c = self.cfg
        if c.flip == "random":
            x = random_flip(x, self.gen)
        elif c.flip == "alternating":
            x = alternating_flip(x, indices, epoch, self._flip_bits_on_device)
        x = translate_and_crop(x, c.translate, c.crop if crop else 0, self.gen)
        if c.cutout > 0:
            x = cutout(x, c.cutout, self.gen)
        return x

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "flip_bits": self.flip_bits}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.flip_bits = state["flip_bits"]
        self._flip_bits_on_device = to_device(self.flip_bits, self.device)
