"""DenseNet-121 (Huang et al. 2017), BC variant, CIFAR stem."""

from __future__ import annotations

import torch
from torch import nn

from .parts import _blocks, _bn_relu, _Net, _pool_head, _positive_int
from .registry import register_model

# --- DenseNet-BC (Huang et al. 2017, arXiv 1608.06993), CIFAR variant as kuangliu/pytorch-cifar --------


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1(4g)-BN-ReLU-conv3x3(g); its g new channels are concatenated to its input."""

    def __init__(self, c_in: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(
            *_bn_relu(c_in),
            nn.Conv2d(c_in, 4 * growth, 1, bias=False),
            *_bn_relu(4 * growth),
            nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


@register_model("densenet121", family="densenet", published="95.04% (kuangliu/pytorch-cifar README)")
def densenet121(num_classes: int = 10, growth: int = 32, blocks=(6, 12, 24, 16)) -> nn.Module:
    """DenseNet-121 (BC, compression 0.5), CIFAR variant: 3x3 stem of 2g channels, no max-pool."""
    growth, blocks = _positive_int("growth", growth), _blocks(blocks, 4)
    c = 2 * growth
    layers: list[nn.Module] = []
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers.append(DenseLayer(c, growth))
            c += growth
        if i < len(blocks) - 1:  # transition: halve the channels, then the map
            layers += [*_bn_relu(c), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
            c //= 2
    stem = nn.Conv2d(3, 2 * growth, 3, padding=1, bias=False)
    return _Net(stem, nn.Sequential(*layers), _pool_head(c, num_classes, _bn_relu(c)))
