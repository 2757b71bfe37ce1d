"""Evaluation: test accuracy, per-class accuracy, confusion matrix, calibration and worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.checks import check_image_limit
from ..core.errors import RunError, UnsafeFileError
from ..core.fileio import atomic_write_json, open_file
from ..data.cifar import CifarArrays, load_cifar10
from ..models.registry import create_model
from ..runs.folder import check_writable
from ..runs.store import load_run
from ..training.step import predict_logits


@dataclass
class EvalResult:
    accuracy: float
    loss: float
    confusion: torch.Tensor  # (C, C) int64, rows = true class, columns = predicted
    classes: list[str]
    probs: torch.Tensor | None = None  # (N, C) softmax probabilities
    labels: torch.Tensor | None = None  # (N,)

    def ece(self, n_bins: int = 15) -> float:
        """Expected calibration error: sum over confidence bins of |B|/N * |accuracy(B) - confidence(B)|."""
        return expected_calibration_error(self.probs, self.labels, n_bins)

    def mistakes(self, k: int = 32) -> torch.Tensor:
        """Indices of the k wrong predictions made with the highest confidence, most confident first."""
        conf, pred = self.probs.max(1)
        wrong = (pred != self.labels).nonzero().flatten()
        return wrong[conf[wrong].argsort(descending=True)][:k]

    @property
    def per_class_accuracy(self) -> list[float]:
        c = self.confusion.double()
        return (c.diag() / c.sum(1).clamp(min=1)).tolist()

    def to_dict(self) -> dict[str, Any]:
        extra = {"ece": self.ece()} if self.probs is not None else {}
        return {
            "test_acc": self.accuracy,
            "test_loss": self.loss,
            **extra,
            "per_class_acc": dict(zip(self.classes, self.per_class_accuracy)),
            "confusion": self.confusion.tolist(),
            "classes": self.classes,
        }

    def table(self) -> str:
        lines = [
            f"test accuracy {100 * self.accuracy:.2f}%  (loss {self.loss:.4f}, {int(self.confusion.sum())} images)"
        ]
        lines += [f"  {name:<11} {100 * acc:6.2f}%" for name, acc in zip(self.classes, self.per_class_accuracy)]
        return "\n".join(lines)


def reliability_bins(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> list[dict[str, float]]:
    """Per equal-width confidence bin: count, accuracy and mean confidence (empty bins have count 0)."""
    conf, pred = probs.max(1)
    hit = (pred == labels).double()
    # bin b holds confidences in (b/n, (b+1)/n]; confidence 0 cannot occur for a softmax max
    idx = (conf.double() * n_bins).ceil().long().clamp(1, n_bins) - 1
    out = []
    for b in range(n_bins):
        m = idx == b
        n = int(m.sum())
        out.append(
            {
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "count": n,
                "acc": float(hit[m].mean()) if n else 0.0,
                "conf": float(conf[m].double().mean()) if n else 0.0,
            }
        )
    return out


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    total = len(labels)
    return sum(b["count"] / total * abs(b["acc"] - b["conf"]) for b in reliability_bins(probs, labels, n_bins))


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (true, predicted) pairs, one bincount over ``true * C + predicted``."""
    flat = target.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def evaluate_model(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes, batch_size: int = 1000, tta: str = "none"
) -> EvalResult:
    logits = predict_logits(model, x, batch_size, tta=tta)
    y = y.cpu()
    loss = nn.functional.cross_entropy(logits, y).item()
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, y, len(classes))
    return EvalResult(float((pred == y).double().mean()), loss, cm, list(classes), logits.softmax(1), y)


def evaluate_run(
    run_dir: str | Path,
    *,
    arrays: CifarArrays | None = None,
    data=None,
    offline=False,
    device: str = "cpu",
    tta: str | None = None,
    test_limit: int | None = None,
) -> EvalResult:
    """Evaluate a run's model.pt on the test set and write the report files into the run folder:
    evaluation.json, confusion.png, per_class.png, mistakes.png and reliability.png.

    ``tta`` and ``test_limit`` (the first N test images): None uses the run's own (its recipe's
    ``tta``, its ``--test-limit``, else all 10,000), so the accuracy here is the one its summary
    reports (up to the precision: this evaluation runs in fp32)."""
    from .. import plots
    from ..data.splits import first_test_images

    check_image_limit("--test-limit", test_limit)  # before the model and data are loaded
    run = load_run(run_dir, device=device)
    check_writable(run.path)  # its result files are written there: fail before the work, not after
    tta = run.config.train.tta if tta is None else tta
    test_limit = run.config.data.test_limit if test_limit is None else test_limit
    arrays = arrays or load_cifar10(data or run.config.data.data, offline=offline)
    test = first_test_images(arrays, test_limit)
    result = evaluate_model(run.model, test.x, test.y, run.classes, tta=tta)
    title = f"{run.path.name}: test accuracy {100 * result.accuracy:.2f}%" + (f" (TTA {tta})" if tta != "none" else "")
    plots.plot_confusion(result.confusion, result.classes, run.path / "confusion.png", title=title)
    plots.plot_per_class(result.per_class_accuracy, result.classes, run.path / "per_class.png", title=title)
    worst = result.mistakes(32)
    plots.plot_gallery(
        test.x[worst],
        [result.classes[i] for i in result.labels[worst]],
        [result.classes[i] for i in result.probs[worst].argmax(1)],
        result.probs[worst].max(1).values,
        run.path / "mistakes.png",
    )
    plots.plot_reliability(reliability_bins(result.probs, result.labels), result.ece(), run.path / "reliability.png")
    atomic_write_json(
        run.path / "evaluation.json",
        {**result.to_dict(), "tta": tta, "test_images": len(test), "mistakes": [int(i) for i in worst]},
    )
    return result


def load_weights(model_name: str, weights: str | Path, num_classes: int = 10) -> nn.Module:
    """A registered model with a plain ``state_dict`` file loaded into it (e.g. the notebook's .pth files)."""
    weights = Path(weights)
    if not weights.exists():
        raise RunError(f"weights file {weights} does not exist; pass the path of a saved state_dict")
    try:
        with open_file(weights, follow=True) as f:  # a path the user typed: a link is fine, a FIFO is not
            state = torch.load(f, map_location="cpu", weights_only=True)
    except UnsafeFileError:
        raise
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
            f"weights in {weights} do not fit model '{model_name}' ({detail[:160]}); "
            "pass the --model they were saved from"
        ) from None
    return model.eval()


def evaluate_weights(
    model_name: str,
    weights: str | Path,
    *,
    arrays: CifarArrays | None = None,
    data=None,
    offline=False,
    tta: str = "none",
    test_limit: int | None = None,
) -> EvalResult:
    """Test accuracy of a plain state_dict (e.g. the notebook's ``.pth``) for a registered model, on
    all test images or the first ``test_limit``."""
    from ..data.splits import first_test_images

    arrays = arrays or load_cifar10(data, offline=offline)
    model = load_weights(model_name, weights, num_classes=len(arrays.classes))
    test = first_test_images(arrays, test_limit)
    return evaluate_model(model, test.x, test.y, arrays.classes, tta=tta)
