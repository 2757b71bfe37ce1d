"""The model file (``model.pt``): weights plus everything needed to rebuild the network, written
atomically and read back without running code (``weights_only``), checked shape by shape on the meta
device before anything is allocated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.schema import ExperimentConfig
from ..core.errors import RunError, UnsafeFileError
from ..core.fileio import atomic_torch_save, open_file
from ..models.registry import create_model

MODEL_FORMAT = "cifarlab.model/1"


def save_model(
    path: str | Path, model: nn.Module, config: ExperimentConfig, classes, extra: dict | None = None
) -> Path:
    """A self-describing model file: weights plus everything needed to rebuild the network."""
    payload = {
        "format": MODEL_FORMAT,
        "model": config.model,
        "model_kwargs": dict(config.model_kwargs),
        "num_classes": len(classes),
        "classes": list(classes),
        "config": config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "torch_version": str(torch.__version__),
        **(extra or {}),
    }
    return atomic_torch_save(payload, path)


def check_registered_shape(net: nn.Module, model: str, num_classes: int, kwargs: dict[str, Any]) -> None:
    """Refuse (one RunError line) a net whose weights would not load into ``create_model(model, ...)``."""
    with torch.device("meta"):  # shapes only; an unknown name or option is one ConfigError line
        fresh = create_model(model, num_classes=num_classes, **kwargs)
    want = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    if want != have:
        differ = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have[k])
        raise RunError(
            f"the trained net is not a '{model}' with {num_classes} classes"
            f"{' and ' + str(kwargs) if kwargs else ''} (first difference: {differ[0]}); "
            "pass the registered model name and options it was built with"
        )


def load_model_file(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist; pass a run folder that holds a model.pt")
    try:
        # weights_only: a model file must never run code on load. Files written by cifarlab 0.1.0
        # development builds stored torch.__version__ as a TorchVersion object: allow that one class.
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]), open_file(path) as f:
            payload = torch.load(f, map_location=map_location, weights_only=True)
    except UnsafeFileError:
        raise
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise RunError(f"{path} is not a readable model file ({type(e).__name__}); it may be truncated") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise RunError(
            f"{path} is not a cifarlab model file; for a bare state_dict use "
            "'cifarlab evaluate --model NAME --weights FILE'"
        )
    return payload


def build_saved_model(model_file: Path, payload: dict[str, Any]) -> nn.Module:
    """The network a model file describes, with its weights; a one-line RunError if they do not fit."""
    try:
        name, kwargs, classes = payload["model"], dict(payload["model_kwargs"]), list(payload["classes"])
        num_classes = int(payload["num_classes"])
        state = payload["state_dict"]
    except (KeyError, TypeError, ValueError):
        raise RunError(f"{model_file} lacks the model name, options, classes or weights; it is damaged") from None
    if num_classes != len(classes) or not isinstance(state, dict):
        raise RunError(f"{model_file} is inconsistent ({num_classes} classes, {len(classes)} names); it is damaged")
    # Shapes first, on the meta device (nothing allocated): options in a file (a width of 64, a
    # million classes) could otherwise ask for gigabytes before its weights are found not to fit.
    with torch.device("meta"):
        shapes = create_model(name, num_classes=num_classes, **kwargs).state_dict()  # unknown name: ConfigError
    have = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    want = {k: tuple(v.shape) for k, v in shapes.items()}
    if have != want or len(have) != len(state):
        differ = sorted(k for k in set(want) | set(state) if want.get(k) != have.get(k))
        raise RunError(
            f"{model_file}: its weights do not fit a '{name}' with options {kwargs} "
            f"({len(set(want) - set(state))} missing tensors, first difference: {str(differ[0])[:80]}); "
            "the file is damaged or was edited: train the run again"
        )
    model = create_model(name, num_classes=num_classes, **kwargs)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        missing = sum(k not in state for k in model.state_dict())
        raise RunError(
            f"{model_file}: its weights do not fit a '{name}' ({missing} missing tensors; {detail[:120]}); "
            "the file is damaged or was edited: train the run again"
        ) from None
    return model
