"""The model registry: every network by name, with one contract.

Contract: ``model(x)`` takes float images ``(N, 3, 32, 32)`` scaled to ``[0, 1]`` and returns logits
``(N, num_classes)``. Any input normalisation lives *inside* the model, so a loaded model needs nothing
else to predict. A family module registers its builders with :func:`register_model`; ``create_model``
builds one by name and checks its options.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.errors import ConfigError, unknown_name


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its builder and what ``cifarlab models`` shows about it.

    ``family`` groups architectures (and picks the default recipe, see :mod:`cifarlab.config.recipes`);
    ``published`` is the reference CIFAR-10 test accuracy with its source ("93.02% (kuangliu/pytorch-cifar)"),
    empty where there is none.
    """

    name: str
    builder: Callable[..., nn.Module]
    description: str
    family: str = ""
    published: str = ""
    recipe: str = ""  # the recipe it trains with by default; "" = its family's (cifarlab.config.recipes.FAMILY_RECIPES)
    # Groups of options that set the same thing two ways (fastnet's width and widths): one given on the
    # command line replaces a recipe's other (cifarlab.config.recipes); both given at once are refused.
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
