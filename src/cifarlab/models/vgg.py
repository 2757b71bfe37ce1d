"""VGG with batch norm (Simonyan & Zisserman 2014), CIFAR variant: one Linear head."""

from __future__ import annotations

import functools

from torch import nn

from .parts import _bn_relu, _Net, _positive_int
from .registry import register_model

# --- VGG with batch norm, CIFAR variant (as kuangliu/pytorch-cifar: five pools to 1x1, one Linear) ----

_VGG = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


def vgg_bn(num_classes: int = 10, layers: int = 16, width: int = 64) -> nn.Module:
    """VGG-11/16 with BN for 32x32 inputs: 3x3 conv-BN-ReLU stacks, five max-pools, one Linear head.

    Channels are 64/128/256/512 scaled by ``width``/64. The convs carry no bias (BN follows), so the
    count is kuangliu's less one bias per conv channel.
    """
    if layers not in _VGG:
        raise ValueError(f"layers must be one of {sorted(_VGG)}, got {layers!r}")
    width = _positive_int("width", width)
    body: list[nn.Module] = []
    c_in = 3
    for item in _VGG[layers]:
        if item == "M":
            body.append(nn.MaxPool2d(2))
        else:
            c_out = item * width // 64 or 1
            body += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), *_bn_relu(c_out)]
            c_in = c_out
    return _Net(nn.Identity(), nn.Sequential(*body), nn.Sequential(nn.Flatten(), nn.Linear(c_in, num_classes)))


# No published figure for vgg11_bn: kuangliu/pytorch-cifar lists VGG16 only.
register_model(
    "vgg11_bn",
    "VGG-11 with batch norm, CIFAR variant (one Linear head)",
    family="vgg",
)(functools.partial(vgg_bn, layers=11))
register_model(
    "vgg16_bn",
    "VGG-16 with batch norm, CIFAR variant (one Linear head)",
    family="vgg",
    published="92.64% (kuangliu/pytorch-cifar README)",
)(functools.partial(vgg_bn, layers=16))
