"""The zoo's other families: VGG with batch norm, MobileNetV2, DenseNet, ConvMixer and a small ViT.

CIFAR variants under the contract of :mod:`cifarlab.models` (float images in [0, 1] in, logits out,
normalisation inside); the residual families and the reduced sizes are in zoo.py.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .models import Normalize, register_model
from .zoo import _blocks, _bn_relu, _dropout, _Net, _pool_head, _positive_float, _positive_int

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


# --- Vision Transformer (Dosovitskiy et al. 2021), small, trained from scratch -----------------------


class _Attention(nn.Module):
    """Multi-head self-attention written out (plain matmuls: exports to ONNX and TorchScript as is)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5).softmax(-1)
        out = (self.dropout(attn) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(out)


class _TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch embedding (a p x p stride-p conv), class token, learned position embedding, pre-norm
    transformer blocks, final LayerNorm, linear head on the class token."""

    def __init__(
        self, num_classes: int, dim: int, depth: int, heads: int, mlp_dim: int, patch_size: int, dropout: float
    ):
        super().__init__()
        self.normalize = Normalize()
        self.patch = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        tokens = (32 // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.Sequential(*[_TransformerBlock(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        # ViT/DeiT init: truncated normal (std 0.02) for embeddings and linear weights, zero biases.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(self.normalize(x)).flatten(2).transpose(1, 2)  # (N, tokens, dim)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


# Published: the plain ViT baseline of Lee et al. 2021 ("Vision Transformer for Small-Size Datasets", arXiv
# 2112.13492) is this size (dim 192, depth 9, 12 heads, MLP 384, 4x4 patches; aanna0701/SPT_LSA_ViT's
# create_model.py), trained from scratch; the exact augmentation behind the figure is not in the README (the
# script offers AutoAugment, CutMix, Mixup, random erasing, label smoothing, stochastic depth).
@register_model(
    "vit", family="vit", published="93.58% (Lee et al. 2021, arXiv 2112.13492, same size; aanna0701/SPT_LSA_ViT README)"
)
def vit(
    num_classes: int = 10,
    dim: int = 192,
    depth: int = 9,
    heads: int = 12,
    mlp_dim: int = 384,
    patch_size: int = 4,
    dropout: float = 0.0,
) -> nn.Module:
    """Small ViT for 32x32 (4x4 patches: 64 tokens + class token), dim 192, depth 9, 12 heads, MLP 384."""
    dim, depth, heads = _positive_int("dim", dim), _positive_int("depth", depth), _positive_int("heads", heads)
    mlp_dim, patch_size = _positive_int("mlp_dim", mlp_dim), _positive_int("patch_size", patch_size)
    if dim % heads:
        raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
    if 32 % patch_size:
        raise ValueError(f"patch_size must divide the 32-pixel image side (1, 2, 4, 8, 16, 32), got {patch_size}")
    return ViT(num_classes, dim, depth, heads, mlp_dim, patch_size, _dropout(dropout))


# --- reduced sizes ------------------------------------------------------------------------------

#: Options of a reduced size of each registered model (the same builder, smaller), for tests that
#: train every model briefly: 10-25 MFLOPs an image for the zoo's (the deep He ResNets at depth 20,
#: depthwise nets a little smaller: their convolutions run slowest per FLOP on a CPU).
