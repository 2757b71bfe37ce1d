"""MobileNetV2 (Sandler et al. 2018), CIFAR variant."""

from __future__ import annotations

import torch
from torch import nn

from .parts import _bn_relu, _Net, _pool_head, _positive_float
from .registry import register_model

# --- MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381), CIFAR variant as kuangliu/pytorch-cifar ------


class InvertedResidual(nn.Module):
    """1x1 expand-BN-ReLU, 3x3 depthwise(stride)-BN-ReLU, 1x1 project-BN (linear bottleneck).

    At stride 1 the input is added back: as is, or through a 1x1 conv + BN where the channels change
    (kuangliu's CIFAR version; the paper adds no shortcut there). Stride-2 blocks have no shortcut.
    """

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int):
        super().__init__()
        hidden = c_in * expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False),
            *_bn_relu(hidden),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            *_bn_relu(hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module | None = None
        if stride == 1:
            self.shortcut = (
                nn.Identity()
                if c_in == c_out
                else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out if self.shortcut is None else out + self.shortcut(x)


# (expansion t, channels c, blocks n, stride s) per stage, as the paper's Table 2 but s=1 in the second
# stage (and in the stem) for 32x32 inputs, so the last stages work on 4x4 maps.
_MOBILENETV2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _round8(channels: float) -> int:
    return max(8, int(channels + 4) // 8 * 8)


@register_model("mobilenetv2", family="mobilenet", published="94.43% (kuangliu/pytorch-cifar README)")
def mobilenetv2(num_classes: int = 10, width_mult: float = 1.0, stem_stride: int = 1) -> nn.Module:
    """MobileNetV2, CIFAR variant (stride 1 in the stem and second stage, ReLU), channels x width_mult.

    ``stem_stride=2`` (the paper's ImageNet stem) halves every map: ~4x cheaper, for quick runs.
    """
    width_mult = _positive_float("width_mult", width_mult)
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
    c_in = _round8(32 * width_mult)
    stem = nn.Sequential(nn.Conv2d(3, c_in, 3, stride=stem_stride, padding=1, bias=False), *_bn_relu(c_in))
    blocks = []
    for t, c, n, s in _MOBILENETV2:
        c_out = _round8(c * width_mult)
        for j in range(n):
            blocks.append(InvertedResidual(c_in, c_out, t, s if j == 0 else 1))
            c_in = c_out
    last = _round8(1280 * max(1.0, width_mult))  # the paper keeps 1280 features for width_mult < 1
    blocks += [nn.Conv2d(c_in, last, 1, bias=False), *_bn_relu(last)]
    return _Net(stem, nn.Sequential(*blocks), _pool_head(last, num_classes))
