"""The residual families: He et al.'s CIFAR ResNets (20-110), ImageNet-style ResNet-18/34/50 and
PreAct ResNet-18 in their CIFAR variants, and Wide ResNets.

CIFAR variants use a 3x3 stride-1 stem and no ImageNet max-pool, so a 32x32 image keeps its
resolution in the first stage. ``published`` figures are CIFAR-10 test accuracies with their source;
each was read in the source named (papers' tables via their authors' repositories where the paper
itself was not at hand), and the training recipe behind them is the source's, not cifarlab's.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .parts import Normalize, _blocks, _bn_relu, _depth, _dropout, _Net, _pool_head, _positive_int
from .registry import register_model

# --- ResNet-18, CIFAR variant (as kuangliu/pytorch-cifar) ------------------------------------------


class BasicBlock(nn.Module):
    """Pre-BN-free ResNet basic block (He et al. 2016): two 3x3 convs and a shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet for 32x32 inputs: 3x3 stem, no max-pool, four stages, global average pool."""

    def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), num_classes: int = 10):
        super().__init__()
        self.normalize = Normalize()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                layers.append(BasicBlock(c_in, w, stride=2 if (i > 0 and j == 0) else 1))
                c_in = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(self.normalize(x))))


@register_model("resnet18", family="resnet", published="93.02% (kuangliu/pytorch-cifar README)")
def resnet18(num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-18, CIFAR variant (3x3 stem, no max-pool), normalisation inside."""
    return ResNet((2, 2, 2, 2), (width, 2 * width, 4 * width, 8 * width), num_classes)


# --- CIFAR ResNets of He et al. 2015 (arXiv 1512.03385, section 4.2, Table 6) -----------------------


class _ZeroPadShortcut(nn.Module):
    """Option-A shortcut: identity, subsampled by the stride, with zero channels appended (no parameters)."""

    def __init__(self, extra_channels: int, stride: int):
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


def resnet_cifar(num_classes: int = 10, depth: int = 20, width: int = 16, shortcut: str = "A") -> nn.Module:
    """CIFAR ResNet of He et al. 2015: 6n+2 layers, three stages of n basic blocks (widths w, 2w, 4w).

    ``shortcut="A"`` (what the paper uses on CIFAR: identity shortcuts only, so no extra parameters) pads
    the identity with zero channels where the width doubles; ``"B"`` uses a 1x1 conv + BN projection there.
    It is models.ResNet with three stages and a 16-channel stem, so resnet20 shares resnet18's code.
    """
    n = _depth(depth, 6, 2, "20, 32, 44, 56, 110")
    width = _positive_int("width", width)
    if shortcut not in ("A", "B"):
        raise ValueError(f"shortcut must be 'A' (zero-padded identity) or 'B' (1x1 projection), got {shortcut!r}")
    model = ResNet((n, n, n), (width, 2 * width, 4 * width), num_classes)
    if shortcut == "A":
        for block in model.layers:
            if len(block.shortcut):  # a projection: the width doubles (and the map halves) here
                c_in, c_out = block.conv1.in_channels, block.conv1.out_channels
                block.shortcut = _ZeroPadShortcut(c_out - c_in, block.conv1.stride[0])
    return model


# Published: He et al. 2015, Table 6 (error 8.75 / 7.51 / 7.17 / 6.97 %; ResNet-110: 6.43 best of 5 runs,
# 6.61 +- 0.16 mean, we quote the mean). Read in the copies of Table 6 in akamaster/pytorch_resnet_cifar10's
# and gahaalt/cifar-vs-tensorflow2's READMEs, which agree.
_RESNET_CIFAR = {
    20: "91.25% (He et al. 2015, arXiv 1512.03385, Table 6)",
    32: "92.49% (He et al. 2015, arXiv 1512.03385, Table 6)",
    44: "92.83% (He et al. 2015, arXiv 1512.03385, Table 6)",
    56: "93.03% (He et al. 2015, arXiv 1512.03385, Table 6)",
    110: "93.39% (mean of 5; best 93.57%; He et al. 2015, arXiv 1512.03385, Table 6)",
}
for _d, _published in _RESNET_CIFAR.items():
    register_model(
        f"resnet{_d}",
        f"ResNet-{_d} of He et al. 2015 for CIFAR (widths 16/32/64, option-A shortcuts)",
        family="resnet_cifar",
        published=_published,
    )(functools.partial(resnet_cifar, depth=_d))


# --- ImageNet-style ResNets, CIFAR variant (as kuangliu/pytorch-cifar) ----------------------------


@register_model("resnet34", family="resnet")  # no published figure: kuangliu/pytorch-cifar lists none for ResNet34
def resnet34(num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-34, CIFAR variant: basic blocks 3,4,6,3, widths w..8w (models.ResNet)."""
    width = _positive_int("width", width)
    return ResNet((3, 4, 6, 3), (width, 2 * width, 4 * width, 8 * width), num_classes)


class Bottleneck(nn.Module):
    """ResNet bottleneck (He et al. 2015): 1x1 reduce, 3x3 (carries the stride), 1x1 expand x4, then add."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int):
        super().__init__()
        c_out = planes * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, planes, 1, bias=False),
            *_bn_relu(planes),
            nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False),
            *_bn_relu(planes),
            nn.Conv2d(planes, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


@register_model("resnet50", family="resnet", published="93.62% (kuangliu/pytorch-cifar README)")
def resnet50(num_classes: int = 10, width: int = 64, blocks=(3, 4, 6, 3)) -> nn.Module:
    """ResNet-50, CIFAR variant: bottleneck blocks 3,4,6,3, expansion 4 (2048 features)."""
    width, blocks = _positive_int("width", width), _blocks(blocks, 4)
    layers, c_in = [], width
    for i, n in enumerate(blocks):
        for j in range(n):
            layers.append(Bottleneck(c_in, width * 2**i, stride=2 if (i > 0 and j == 0) else 1))
            c_in = width * 2**i * Bottleneck.expansion
    stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), *_bn_relu(width))
    return _Net(stem, nn.Sequential(*layers), _pool_head(c_in, num_classes))


# --- pre-activation ResNet (He et al. 2016, arXiv 1603.05027) and Wide ResNet (arXiv 1605.07146) ----


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3(stride)-BN-ReLU-[dropout]-conv3x3, plus the shortcut; no activation after the add.

    Where the shape changes the shortcut is a 1x1 conv of the *activated* input (He et al. 2016);
    Wide ResNet's block is this one with dropout between the convs (Zagoruyko & Komodakis 2016).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.projection = None
        if stride != 1 or c_in != c_out:
            self.projection = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.bn1(x))
        shortcut = x if self.projection is None else self.projection(a)
        out = self.conv2(self.dropout(torch.relu(self.bn2(self.conv1(a)))))
        return out + shortcut


def _preact_stages(c_in: int, blocks, widths, first_stride: int, dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    layers = []
    for i, (n, w) in enumerate(zip(blocks, widths)):
        for j in range(n):
            stride = (first_stride if i == 0 else 2) if j == 0 else 1
            layers.append(PreActBlock(c_in, w, stride, dropout))
            c_in = w
    return nn.Sequential(*layers), c_in


@register_model(
    "preact_resnet18",
    family="resnet",
    published="95.11% (kuangliu/pytorch-cifar README; its net lacks the final BN-ReLU kept here)",
)
def preact_resnet18(num_classes: int = 10, width: int = 64) -> nn.Module:
    """Pre-activation ResNet-18 (He et al. 2016), CIFAR variant: 3x3 stem conv, final BN-ReLU before the pool."""
    width = _positive_int("width", width)
    layers, c = _preact_stages(width, (2, 2, 2, 2), (width, 2 * width, 4 * width, 8 * width), first_stride=1)
    stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
    return _Net(stem, layers, _pool_head(c, num_classes, _bn_relu(c)))


def wide_resnet(num_classes: int = 10, depth: int = 28, widen_factor: int = 10, dropout: float = 0.0) -> nn.Module:
    """Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016): 6n+4 layers, pre-activation blocks, widths 16k/32k/64k.

    A 16-channel 3x3 stem, three stages of n blocks (strides 1, 2, 2), final BN-ReLU, average pool,
    linear. ``dropout`` sits between each block's two convs (the paper's WRN-28-10-dropout uses 0.3).
    """
    n = _depth(depth, 6, 4, "10, 16, 22, 28, 40")
    k = _positive_int("widen_factor", widen_factor)
    layers, c = _preact_stages(16, (n, n, n), (16 * k, 32 * k, 64 * k), first_stride=1, dropout=_dropout(dropout))
    stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    model = _Net(stem, layers, _pool_head(c, num_classes, _bn_relu(c)))
    for m in model.modules():  # He init (fan-in), as the authors' code (szagoruyko/wide-residual-networks)
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model


# Published: WRN paper, mean/std preprocessing, flip/translation augmentation, median of 5 runs. WRN-28-10's
# 4.00% (no dropout; 3.89% with dropout 0.3) is in szagoruyko/wide-residual-networks' README; WRN-16-8's
# 4.27% was read only in copies of the paper's table (gahaalt/cifar-vs-tensorflow2 README and a SharpNet
# source comment agree; the paper's first version, with ZCA whitening, had 4.81%).
register_model(
    "wrn16_8",
    "Wide ResNet WRN-16-8 (Zagoruyko & Komodakis 2016), pre-activation, dropout option",
    family="wide_resnet",
    published="95.73% (error 4.27%, Zagoruyko & Komodakis 2016, arXiv 1605.07146; via copies of its table)",
)(functools.partial(wide_resnet, depth=16, widen_factor=8))
register_model(
    "wrn28_10",
    "Wide ResNet WRN-28-10 (Zagoruyko & Komodakis 2016), pre-activation, dropout option",
    family="wide_resnet",
    published="96.00% (error 4.00%; 96.11% with dropout=0.3; szagoruyko/wide-residual-networks README)",
)(functools.partial(wide_resnet, depth=28, widen_factor=10))
