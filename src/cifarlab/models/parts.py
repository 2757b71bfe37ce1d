"""Pieces the families share: normalisation inside the model, option checks with one-line messages,
and the stem-layers-head layout most of the zoo's CIFAR variants use."""

from __future__ import annotations

import math

import torch
from torch import nn

# Channel statistics of the official CIFAR-10 training set, used by models that normalise inside.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` as part of the model (buffers travel with the weights)."""

    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


# --- validation -----------------------------------------------------------------------------------


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _dropout(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"dropout must be in [0, 1), got {value!r}")
    return float(value)


def _blocks(value, stages: int) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) != stages:
        raise ValueError(f"blocks must be {stages} positive block counts, got {value!r}")
    return tuple(_positive_int("each block count", b) for b in value)


def _depth(value, step: int, offset: int, examples: str) -> int:
    """Blocks per stage ``n`` of a depth that must be ``step * n + offset``, n >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < step + offset or (value - offset) % step:
        raise ValueError(f"depth must be {step}n+{offset} ({examples} ...), got {value!r}")
    return (value - offset) // step


# --- shared pieces ------------------------------------------------------------------------------


class _Net(nn.Module):
    """``head(layers(stem(normalize(x))))``: the layout (and state_dict key prefixes) of models.ResNet.

    Weights keep PyTorch's default init, as in the code behind the published figures quoted here
    (kuangliu/pytorch-cifar, locuslab/convmixer-cifar10); the He-et-al. nets (models.ResNet and the
    Wide ResNet) use He init, as their authors did.
    """

    def __init__(self, stem: nn.Module, layers: nn.Module, head: nn.Module):
        super().__init__()
        self.normalize = Normalize()
        self.stem = stem
        self.layers = layers
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(self.normalize(x))))


def _pool_head(channels: int, num_classes: int, pre: list[nn.Module] | None = None) -> nn.Sequential:
    """(optional BN-ReLU), global average pool, flatten, linear."""
    return nn.Sequential(*(pre or []), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU()]
