"""The model zoo: a registry by name with one contract.

Contract: ``model(x)`` takes float images ``(N, 3, 32, 32)`` scaled to ``[0, 1]`` and returns logits
``(N, num_classes)``. Any input normalisation lives *inside* the model, so a loaded model needs nothing
else to predict.

The notebook's six networks (and the 64-channel ``cnn3_wide`` its code actually trained) are plain
``nn.Sequential`` stacks with the notebook's exact layer order, so the ``state_dict`` files it saved
(keys ``0.weight``, ``1.running_mean`` ...) load without any key mapping.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import ConfigError, unknown_name

# Channel statistics of the official CIFAR-10 training set, used by models that normalise inside.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its builder and what ``cifarlab models`` shows about it.

    ``family`` groups architectures (and picks the default recipe, see :mod:`cifarlab.recipes`);
    ``published`` is the reference CIFAR-10 test accuracy with its source ("93.02% (kuangliu/pytorch-cifar)"),
    empty where there is none.
    """

    name: str
    builder: Callable[..., nn.Module]
    description: str
    family: str = ""
    published: str = ""
    recipe: str = ""  # the recipe it trains with by default; "" = its family's (cifarlab.recipes.FAMILY_RECIPES)
    # Groups of options that set the same thing two ways (fastnet's width and widths): one given on the
    # command line replaces a recipe's other (cifarlab.resolve); both given at once are refused.
    alternatives: tuple[tuple[str, ...], ...] = ()


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    description: str = "",
    *,
    family: str = "",
    published: str = "",
    recipe: str = "",
    alternatives: tuple[tuple[str, ...], ...] = (),
):
    """Decorator: register ``builder(num_classes=10, **kwargs) -> nn.Module`` under ``name``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' is already registered")
        doc = description or (builder.__doc__ or "").strip().splitlines()[0]
        _REGISTRY[name] = ModelInfo(name, builder, doc, family, published, recipe, alternatives)
        return builder

    return wrap


def list_models() -> list[str]:
    return list(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    if name not in _REGISTRY:
        raise unknown_name("model", name, list(_REGISTRY), " Run 'cifarlab models' to list them.")
    return _REGISTRY[name]


def create_model(name: str, num_classes: int = 10, **kwargs) -> nn.Module:
    """Build a registered model by name (fresh weights, seeded by the global torch RNG)."""
    builder = model_info(name).builder
    params = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [] if takes_any else sorted(set(kwargs) - set(params))
    if unknown:
        options = ", ".join(p for p in params if p != "num_classes") or "none"
        raise ConfigError(f"model '{name}' has no option {', '.join(unknown)}; its options: {options}")
    try:
        model = builder(num_classes=num_classes, **kwargs)
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:  # refused by the builder, or by torch
        if not kwargs:
            raise
        options = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        # Chained, so API users still see where it was raised; the CLI prints the one line.
        raise ConfigError(f"model '{name}' cannot be built with {options}: {e}") from e
    for key, value in kwargs.items():  # what the builder let through (fastnet made width=-1 a width of 8)
        _check_option(name, key, value)
    return model


def _check_option(model: str, key: str, value: Any) -> None:
    """Model options are sizes (positive, finite) or, for ``dropout``, a probability in [0, 1); a list of
    sizes (``blocks``, ``widths``) holds positive sizes. Names and other kinds go to the builder."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        ok = 0 <= v < 1 if key == "dropout" else (v > 0 and math.isfinite(v))
        if not ok:
            want = "a probability in [0, 1)" if key == "dropout" else "a positive finite size"
            raise ConfigError(f"model '{model}': option {key}={value!r} must be {want}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(model: nn.Module, image_size: int = 32) -> int:
    """Forward FLOPs for one image, counted by torch's own FlopCounterMode (a multiply-add = 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(1, 3, image_size, image_size, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def init_xavier_normal(model: nn.Module) -> nn.Module:
    """The notebook's ``init_net``: Xavier-normal weights for every Linear and Conv2d (biases untouched)."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_normal_(m.weight)
    return model


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` as part of the model (buffers travel with the weights)."""

    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


# --- the notebook's networks -------------------------------------------------------------------


@register_model("softmax", family="notebook", recipe="seed-softmax")
def softmax(num_classes: int = 10) -> nn.Module:
    """Softmax regression: Flatten, Linear(3072, 10) (notebook, Xavier init)."""
    return init_xavier_normal(nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes)))


@register_model("mlp_first", family="notebook", recipe="seed-mlp-first")
def mlp_first(num_classes: int = 10, hidden: int = 96, dropout: float = 0.0) -> nn.Module:
    """The notebook's first MLP: 3072-96-10, ReLU, Dropout(0) (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Flatten(), nn.Linear(3072, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )
    )


@register_model("mlp_final", family="notebook", recipe="seed-mlp-final", published="53.6% (the notebook, RTX 5070 Ti)")
def mlp_final(num_classes: int = 10, dropout: float = 0.2) -> nn.Module:
    """The notebook's final MLP: 3072-1024-512-256-10, Dropout 0.2 after the first two (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(3072, 1024),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
    )


@register_model("cnn1", family="notebook", recipe="seed-cnn1", published="~65% (the notebook)")
def cnn1(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 1: Conv(3,64)-ReLU-Conv(64,32)-ReLU-MaxPool-Linear(8192,256)-ReLU-Linear (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 16 * 16, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
    )


@register_model("cnn2", family="notebook", recipe="seed-cnn2", published="75.2% (the notebook)")
def cnn2(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 2: two Conv-BN-ReLU-Pool blocks (32, 64), Linear(4096,256), Dropout 0.5 (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            *_conv_bn_relu(3, 32),
            nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )
    )


def _cnn3(widths: tuple[int, int, int, int, int], num_classes: int) -> nn.Sequential:
    w1, w2, w3, w4, w5 = widths
    # Layer order (and so the state_dict keys) is exactly the notebook's: conv=0,3,7,10,14; linear=19,22.
    return nn.Sequential(
        *_conv_bn_relu(3, w1),
        *_conv_bn_relu(w1, w2),
        nn.MaxPool2d(2),
        *_conv_bn_relu(w2, w3),
        *_conv_bn_relu(w3, w4),
        nn.MaxPool2d(2),
        *_conv_bn_relu(w4, w5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(w5 * 4 * 4, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


@register_model("cnn3", family="notebook", recipe="seed-cnn3", published="~82% (the notebook's write-up)")
def cnn3(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 3 (write-up): 5 Conv-BN-ReLU (32,32,64,64,128), 3 pools, Linear(2048,256) (default init)."""
    return _cnn3((32, 32, 64, 64, 128), num_classes)


@register_model("cnn3_wide", family="notebook", recipe="seed-cnn3-wide", published="83.0% (the notebook's saved run)")
def cnn3_wide(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 3 as coded (its saved weights): widths 64,64,64,64,128 (default init)."""
    return _cnn3((64, 64, 64, 64, 128), num_classes)


# --- beyond the notebook ------------------------------------------------------------------------


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


# --- fast networks (issue 3): airbench-class whitened net and ResNet-9 ---------------------------


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


from . import zoo, zoo_extra  # noqa: E402,F401  (register the zoo's models)
