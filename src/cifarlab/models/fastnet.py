"""fastnet, the lab's network built for accuracy per second (airbench's design), and ResNet-9, the
DAWNBench network (Page 2018) that line of work started from."""

from __future__ import annotations

import torch
from torch import nn

from .parts import Normalize
from .registry import register_model

# --- fast networks: the airbench-class whitened net, and ResNet-9 ------------------------------------


class _GhostlessBN(nn.BatchNorm2d):
    """BatchNorm without a learnable scale (weight frozen at 1): the scale is redundant before a
    conv and fast CIFAR trainers find training it only adds noise. Low momentum-to-running-stats."""

    def __init__(self, channels: int, momentum: float = 0.4, eps: float = 1e-12):
        super().__init__(channels, momentum=momentum, eps=eps)
        self.weight.requires_grad_(False)


class _ConvGroup(nn.Module):
    """conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3 -> BN -> GELU, dirac-initialised convs.

    ``depth=3`` adds a third conv and a residual connection around the last two (airbench96's
    block): the extra depth is what the 94%+ recipe spends its larger budget on.
    """

    def __init__(self, c_in: int, c_out: int, depth: int = 2):
        super().__init__()
        if depth not in (2, 3):
            raise ValueError(f"fastnet depth must be 2 or 3 convs per group, got {depth}")
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding="same", bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = _GhostlessBN(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding="same", bias=False)
        self.norm2 = _GhostlessBN(c_out)
        convs = [self.conv1, self.conv2]
        self.residual = depth == 3
        if self.residual:
            self.conv3 = nn.Conv2d(c_out, c_out, 3, padding="same", bias=False)
            self.norm3 = _GhostlessBN(c_out)
            convs.append(self.conv3)
        self.act = nn.GELU()
        for conv in convs:
            # Identity (dirac) init on the first channels: the deep plain net starts close to a
            # shallow one, which is what lets it train fast without residual connections.
            w = conv.weight.data
            nn.init.dirac_(w[: min(w.size(0), w.size(1))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        y = self.act(self.norm2(self.conv2(x)))
        if self.residual:
            y = self.act(self.norm3(self.conv3(y))) + x
        return y


class FastNet(nn.Module):
    """Whitened plain ConvNet in the style of airbench (Jordan 2024, arXiv 2404.00498).

    A frozen 2x2 patch-whitening conv (initialised from the eigenvectors of the training patches'
    covariance by :meth:`init_from_data`) feeds three conv groups and a max-pooled linear head.
    ``stem_stride=2`` whitens non-overlapping patches (a patchify stem, as in ConvNeXt): the groups
    then work on 16x16 instead of 31x31 maps, ~4x fewer FLOPs, with no pixel lost (12 values per
    patch in, 24 channels out).
    """

    def __init__(
        self,
        num_classes: int = 10,
        widths=(64, 256, 256),
        head_scale: float = 1 / 9,
        whiten_bias_epochs: int = 3,
        depth: int | tuple[int, int, int] = 2,
        stem_stride: int = 1,
    ):
        super().__init__()
        self.whiten_bias_epochs = whiten_bias_epochs
        self.normalize = Normalize()
        self.whiten = nn.Conv2d(3, 24, kernel_size=2, stride=stem_stride, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.act = nn.GELU()
        w1, w2, w3 = widths
        d1, d2, d3 = (depth,) * 3 if isinstance(depth, int) else depth
        self.groups = nn.Sequential(_ConvGroup(24, w1, d1), _ConvGroup(w1, w2, d2), _ConvGroup(w2, w3, d3))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(w3, num_classes, bias=False)
        self.head_scale = head_scale
        # A buffer, so a model loaded from a checkpoint knows its whitening is already set.
        self.register_buffer("whitened", torch.zeros((), dtype=torch.bool))

    @property
    def data_initialised(self) -> bool:
        return bool(self.whitened)

    def epoch_hook(self, epoch: int) -> None:
        """Train the whitening bias for the first few epochs only, then freeze it (as airbench does)."""
        self.whiten.bias.requires_grad_(epoch <= self.whiten_bias_epochs)

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from 2x2 patches of (a sample of) the training images."""
        x = self.normalize(images.float() / 255 if images.dtype == torch.uint8 else images.float())
        patches = x.unfold(2, 2, 1).unfold(3, 2, 1)  # (N, 3, 31, 31, 2, 2)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * 2 * 2).double()  # (N*31*31, 12): (c, kh, kw)
        patches = patches - patches.mean(0)
        cov = patches.T @ patches / len(patches)
        eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
        filters = (eigvecs.T / torch.sqrt(eigvals + eps)[:, None]).flip(0)  # (12, 12), strongest first
        filters = filters.reshape(12, 3, 2, 2)  # (out, in, kh, kw), the patch order above
        w = torch.cat([filters, -filters]).float().to(self.whiten.weight.device)
        self.whiten.weight.copy_(w)
        self.whitened.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.whiten(self.normalize(x)))
        x = self.pool(self.groups(x)).flatten(1)
        return self.head(x) * self.head_scale


@register_model(
    "fastnet",
    family="fastnet",
    published="94.0% (airbench94, Jordan 2024, arXiv 2404.00498)",
    alternatives=(("width", "widths"),),
)
def fastnet(
    num_classes: int = 10,
    width: float = 1.0,
    widths: tuple[int, int, int] | None = None,
    depth: int | tuple[int, int, int] = 2,
    stem_stride: int = 1,
) -> nn.Module:
    """airbench-class whitened ConvNet, widths 64/256/256 x width (needs init_from_data).

    ``widths`` sets the three groups' channels outright (airbench95: 128/384/384) and then ``width``
    is not used; ``depth=3`` gives each group a third conv with a residual connection (airbench96:
    128/512/512, depth 3), ``depth=(2, 2, 3)`` only the last group; ``stem_stride=2`` whitens
    non-overlapping 2x2 patches, for ~4x fewer FLOPs per image.
    """
    if stem_stride not in (1, 2):
        raise ValueError(f"fastnet stem_stride must be 1 or 2, got {stem_stride}")
    if isinstance(depth, int):  # one count for every group (True passes here and is refused below)
        depths = (depth,) * 3
    else:  # one count per group; None, a float or a string leaves none, and is refused below
        depths = tuple(depth) if isinstance(depth, (list, tuple)) else ()
    if len(depths) != 3 or any(type(d) is not int or d not in (2, 3) for d in depths):
        raise ValueError(f"fastnet depth must be 2 or 3 convs per group, or three of them, got {depth!r}")
    if widths is None:
        widths = tuple(max(8, round(w * width)) for w in (64, 256, 256))
    elif len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"fastnet widths must be three positive channel counts, got {widths}")
    return FastNet(num_classes, tuple(int(w) for w in widths), depth=depths, stem_stride=stem_stride)


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(channels, channels), _conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model("resnet9", family="resnet9", published="94% in 24 epochs (Page 2018, DAWNBench)")
def resnet9(num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-9 of "How to train your ResNet" (Page 2018, DAWNBench), normalisation inside."""
    w = width
    return nn.Sequential(
        Normalize(),
        _conv_bn(3, w),
        _conv_bn(w, 2 * w),
        nn.MaxPool2d(2),
        _Residual(2 * w),
        _conv_bn(2 * w, 4 * w),
        nn.MaxPool2d(2),
        _conv_bn(4 * w, 8 * w),
        nn.MaxPool2d(2),
        _Residual(8 * w),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(8 * w, num_classes, bias=False),
        _Scale(0.125),
    )


class _Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor
