"""Evaluation: test accuracy, per-class accuracy and the confusion matrix of a trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import CifarArrays, load_cifar10
from .errors import RunError
from .models import create_model
from .runs import atomic_write_json, load_run
from .trainer import predict_logits


@dataclass
class EvalResult:
    accuracy: float
    loss: float
    confusion: torch.Tensor  # (C, C) int64, rows = true class, columns = predicted
    classes: list[str]

    @property
    def per_class_accuracy(self) -> list[float]:
        c = self.confusion.double()
        return (c.diag() / c.sum(1).clamp(min=1)).tolist()

    def to_dict(self) -> dict[str, Any]:
        return {
            "test_acc": self.accuracy,
            "test_loss": self.loss,
            "per_class_acc": dict(zip(self.classes, self.per_class_accuracy)),
            "confusion": self.confusion.tolist(),
            "classes": self.classes,
        }

    def table(self) -> str:
        lines = [f"test accuracy {100 * self.accuracy:.2f}%  (loss {self.loss:.4f}, {int(self.confusion.sum())} images)"]
        lines += [f"  {name:<11} {100 * acc:6.2f}%" for name, acc in zip(self.classes, self.per_class_accuracy)]
        return "\n".join(lines)


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (true, predicted) pairs, one bincount over ``true * C + predicted``."""
    flat = target.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes, batch_size: int = 1000) -> EvalResult:
    logits = predict_logits(model, x, batch_size)
    loss = nn.functional.cross_entropy(logits, y.cpu()).item()
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, y.cpu(), len(classes))
    return EvalResult(float((pred == y.cpu()).double().mean()), loss, cm, list(classes))


def evaluate_run(run_dir: str | Path, *, arrays: CifarArrays | None = None, data=None, offline=False,
                 device: str = "cpu") -> EvalResult:  # fmt: skip
    """Evaluate a run's model.pt on the test set; write evaluation.json and confusion.png into the run folder."""
    from .plots import plot_confusion

    run = load_run(run_dir, device=device)
    arrays = arrays or load_cifar10(data or run.config.data.data, offline=offline)
    result = evaluate_model(run.model, arrays.test_x, arrays.test_y, run.classes)
    atomic_write_json(run.path / "evaluation.json", result.to_dict())
    plot_confusion(result.confusion, result.classes, run.path / "confusion.png",
                   title=f"{run.path.name}: test accuracy {100 * result.accuracy:.2f}%")  # fmt: skip
    return result


def load_weights(model_name: str, weights: str | Path, num_classes: int = 10) -> nn.Module:
    """A registered model with a plain ``state_dict`` file loaded into it (e.g. the notebook's .pth files)."""
    weights = Path(weights)
    if not weights.is_file():
        raise RunError(f"weights file {weights} does not exist; pass the path of a saved state_dict")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise RunError(f"{weights} is not a readable PyTorch weights file ({type(e).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and "format" in state:
        state = state["state_dict"]  # a cifarlab model.pt
    model = create_model(model_name, num_classes=num_classes)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise RunError(
            f"weights in {weights} do not fit model '{model_name}' ({detail[:160]}); pass the --model they were saved from"
        ) from None
    return model.eval()


def evaluate_weights(model_name: str, weights: str | Path, *, arrays: CifarArrays | None = None, data=None,
                     offline=False) -> EvalResult:  # fmt: skip
    arrays = arrays or load_cifar10(data, offline=offline)
    model = load_weights(model_name, weights, num_classes=len(arrays.classes))
    return evaluate_model(model, arrays.test_x, arrays.test_y, arrays.classes)
