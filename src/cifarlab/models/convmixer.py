"""ConvMixer (Trockman & Kolter 2022): patches, then depthwise and pointwise convolutions."""

from __future__ import annotations

import torch
from torch import nn

from .parts import _Net, _pool_head, _positive_int
from .registry import register_model

# --- ConvMixer (Trockman & Kolter 2022, "Patches Are All You Need?", arXiv 2201.09792) -----------------


class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model(
    "convmixer",
    family="convmixer",
    published=">94% in 100 epochs, 92.5% in 25 (locuslab/convmixer-cifar10 README, this size)",
)
def convmixer(
    num_classes: int = 10, dim: int = 256, depth: int = 8, kernel_size: int = 5, patch_size: int = 2
) -> nn.Module:
    """ConvMixer-256/8, kernel 5, patch 2: patch-embedding conv, then depthwise (spatial) and 1x1 (channel)
    mixing, each followed by GELU and BN, a residual around the depthwise one."""
    dim, depth = _positive_int("dim", dim), _positive_int("depth", depth)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    patch_size = _positive_int("patch_size", patch_size)
    if patch_size > 32:
        raise ValueError(f"patch_size must be at most 32 (the image side), got {patch_size}")

    def act_bn() -> list[nn.Module]:
        return [nn.GELU(), nn.BatchNorm2d(dim)]

    stem = nn.Sequential(nn.Conv2d(3, dim, patch_size, stride=patch_size), *act_bn())
    blocks = [
        nn.Sequential(
            _Residual(nn.Sequential(nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim), *act_bn())),
            nn.Conv2d(dim, dim, 1),
            *act_bn(),
        )
        for _ in range(depth)
    ]
    return _Net(stem, nn.Sequential(*blocks), _pool_head(dim, num_classes))
