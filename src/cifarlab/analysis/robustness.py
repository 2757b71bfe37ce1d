"""Robustness of a trained model: CIFAR-10-C corruptions and the CIFAR-10.1 distribution shift.

``cifarlab robustness RUN`` evaluates the run's model on the 15 corruptions x 5 severities -- generated
here from the test set (corruptions.py, cached as uint8 arrays) or read from the official CIFAR-10-C
files (``corruptions_from``) -- and, when given, on CIFAR-10.1 v6 (``shift``). It writes
``robustness.json`` (accuracy per corruption and severity, the mean corruption accuracy as RobustBench
reports it: the unweighted mean over the pairs, the drop from clean, per-severity means, the shift
accuracy) and two figures into the run folder. Every accuracy uses the run's own test-time views, as its
test accuracy does, in fp32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config.checks import check_seed
from ..core.errors import ConfigError, UnsafeFileError, warn
from ..core.fileio import atomic_path, atomic_write_json, read_text
from ..data import corruptions as C
from ..data.shifted import generated_set, official_sets, shift_set
from ..runs.folder import check_writable
from ..runs.store import load_run
from ..training.device import resolve_amp, resolve_channels_last
from ..training.step import check_tta, evaluate, predict_logits

RESULT_FILE = "robustness.json"
HEATMAP_FILE = "robustness_heatmap.png"
SEVERITY_FILE = "robustness_severity.png"


@dataclass
class RobustnessResult:
    """What robustness.json holds. Accuracies are fractions; ``corruptions[name][s - 1]`` is severity s
    (None where that severity was not evaluated)."""

    clean_acc: float
    corruptions: dict[str, list[float | None]]
    images: int
    tta: str
    source: str
    seed: int | None = None
    shift: dict[str, Any] | None = None
    run: str = ""
    model: str = ""
    precision: str = "fp32"  # fp32, or the autocast dtype with --amp
    notes: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> list[float]:
        return [a for accs in self.corruptions.values() for a in accs if a is not None]

    @property
    def mean_corruption_acc(self) -> float:
        return float(np.mean(self.pairs))

    @property
    def complete(self) -> bool:
        """All 15 corruptions at all 5 severities: only then comparable with published figures."""
        return len(self.corruptions) == len(C.NAMES) and len(self.pairs) == 5 * len(C.NAMES)

    def per_severity(self) -> dict[str, float]:
        out = {}
        for s in C.SEVERITIES:
            accs = [a[s - 1] for a in self.corruptions.values() if a[s - 1] is not None]
            if accs:
                out[str(s)] = float(np.mean(accs))
        return out

    def per_corruption(self) -> dict[str, float]:
        return {k: float(np.mean([a for a in v if a is not None])) for k, v in self.corruptions.items()}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            format=1,
            mean_corruption_acc=self.mean_corruption_acc,
            drop_from_clean=self.clean_acc - self.mean_corruption_acc,
            per_severity=self.per_severity(),
            per_corruption=self.per_corruption(),
            complete=self.complete,
        )
        return d

    def table(self) -> str:
        lines = [f"{'corruption':<20}" + "".join(f"{'s' + str(s):>8}" for s in C.SEVERITIES) + f"{'mean':>8}"]
        for name, accs in self.corruptions.items():
            cells = "".join(f"{'-' if a is None else f'{100 * a:.2f}':>8}" for a in accs)
            lines.append(f"{name:<20}{cells}{100 * self.per_corruption()[name]:>8.2f}")
        lines.append(
            f"clean {100 * self.clean_acc:.2f}% | mean corruption accuracy {100 * self.mean_corruption_acc:.2f}% "
            f"over {len(self.pairs)} pairs (drop {100 * (self.clean_acc - self.mean_corruption_acc):.2f} points)"
            f" | {self.images} images per set, test-time views: {self.tta}, {self.precision}"
        )
        if self.shift:
            lines.append(f"{self.shift['name']}: {100 * self.shift['acc']:.2f}% on {self.shift['images']} images")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- inputs


def parse_severities(text: str | list[int] | None) -> list[int]:
    """'1,3,5' (or a list) -> [1, 3, 5]; None -> all five."""
    if text is None or text == "":
        return list(C.SEVERITIES)
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        out = sorted({int(str(s).strip()) for s in items})
    except ValueError:
        raise ConfigError(f"--severities takes numbers 1-5 separated by commas, got '{text}'") from None
    if not out or any(s not in C.SEVERITIES for s in out):
        raise ConfigError(f"--severities takes numbers 1-5 separated by commas, got '{text}'")
    return out


def parse_corruptions(text: str | list[str] | None) -> list[str]:
    if text is None or text == "":
        return list(C.NAMES)
    items = [s for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    return C.resolve_names(items)


# ---------------------------------------------------------------------------------------------------- evaluation


def _accuracy(
    model: nn.Module, images_nhwc: np.ndarray, labels: np.ndarray, tta: str, batch_size: int, amp_dtype=None
) -> float:
    x = torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2)
    if amp_dtype is None:
        logits = predict_logits(model, x, batch_size, tta=tta)
        return float((logits.argmax(1) == torch.as_tensor(labels)).double().mean())
    # the training loop's own evaluation: autocast (bf16 where the CPU has it), channels_last for conv nets
    channels_last = resolve_channels_last("auto", model)
    model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    return evaluate(model, x, y, batch_size, tta=tta, amp_dtype=amp_dtype, channels_last=channels_last)[1]


def _as_uint8_images(test_x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(N, 3, 32, 32) uint8 images; the notebook's float images in [0, 1] are converted."""
    test_x = torch.as_tensor(test_x)
    if test_x.is_floating_point() and len(test_x) and 0 <= float(test_x.min()) and float(test_x.max()) <= 1:
        test_x = (test_x * 255).round().to(torch.uint8)
    if test_x.dtype != torch.uint8 or test_x.ndim != 4 or tuple(test_x.shape[1:]) != (3, 32, 32):
        raise ConfigError(f"test images must be uint8 (N, 3, 32, 32), got {test_x.dtype} {tuple(test_x.shape)}")
    return test_x


def evaluate_robustness(
    model: nn.Module,
    test_x: torch.Tensor | np.ndarray,
    test_y: torch.Tensor | np.ndarray,
    *,
    corruptions: str | list[str] | None = None,
    severities: str | list[int] | None = None,
    corruptions_from: str | Path | None = None,
    shift: str | Path | None = None,
    images: int | None = None,
    seed: int = 0,
    tta: str = "none",
    batch_size: int = 1000,
    cache_dir: Path | None = None,
    num_classes: int = 10,
    amp: str = "off",
    progress: bool = False,
) -> RobustnessResult:
    """Accuracy of ``model`` on the corrupted test set (and the shift set): the library entry point, for a
    model in memory (e.g. ``trainer.net`` after ``Trainer.train``). ``test_x``: (N, 3, 32, 32), uint8 or
    float in [0, 1] as the notebook kept it."""
    check_tta(tta)
    if amp not in ("off", "auto", "bf16", "fp16"):
        raise ConfigError(f"--amp is off (fp32), auto, bf16 or fp16, got '{amp}'")
    amp_dtype = resolve_amp(amp, next(model.parameters()).device)
    names, sevs = parse_corruptions(corruptions), parse_severities(severities)
    check_numbers(images=images, seed=seed, batch_size=batch_size)
    test_x = _as_uint8_images(test_x)
    n = len(test_x) if images is None else min(images, len(test_x))
    x_nhwc = test_x[:n].permute(0, 2, 3, 1).contiguous().numpy()
    y = torch.as_tensor(test_y)[:n].numpy()
    # Check every input before the long part starts.
    official = official_sets(corruptions_from, names, sevs, images, num_classes) if corruptions_from else None
    shifted = shift_set(shift, num_classes) if shift else None
    result = RobustnessResult(
        clean_acc=_accuracy(model, x_nhwc, y, tta, batch_size, amp_dtype),
        corruptions={},
        images=n,
        tta=tta,
        source="official files" if official else "generated",
        seed=None if official else seed,
        precision="fp32" if amp_dtype is None else str(amp_dtype).removeprefix("torch."),
    )
    result.corruptions = {(name.rstrip("*") if official else name): [None] * 5 for name in names}
    if not official and "frost*" in names:
        result.notes.append("frost* is a procedural stand-in for the original's frost photographs")
    for name in result.corruptions:
        for s in sevs:
            if official:
                imgs, labels = official[(name, s)]
                result.images = len(labels)
            else:
                imgs, labels = generated_set(x_nhwc, name, s, seed, cache_dir), y
            result.corruptions[name][s - 1] = _accuracy(model, imgs, labels, tta, batch_size, amp_dtype)
            if progress:
                print(f"  {name} severity {s}: {100 * result.corruptions[name][s - 1]:.2f}%", flush=True)
    if shifted is not None:
        acc = _accuracy(model, shifted[0], shifted[1], tta, batch_size, amp_dtype)
        drop = result.clean_acc - acc
        result.shift = {"name": "CIFAR-10.1 v6", "acc": acc, "images": len(shifted[1]), "drop_from_clean": drop}
    return result


def check_numbers(images: int | None = None, seed: int = 0, batch_size: int = 1000) -> None:
    """robustness's numeric flags, in one line each."""
    if images is not None and images < 1:
        raise ConfigError(f"--images must be at least 1, got {images}")
    check_seed("--seed", seed)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive whole number, got {batch_size!r}")


def robustness_of_run(
    run_dir: str | Path,
    *,
    data=None,
    offline: bool = False,
    device: str = "cpu",
    write: bool = True,
    **kwargs,
) -> RobustnessResult:
    """``cifarlab robustness RUN``: evaluate a run folder's model with the run's own test-time views and
    write robustness.json and its figures into the folder (keyword arguments as
    :func:`evaluate_robustness`)."""
    from ..data.cifar import load_cifar10

    check_numbers(**{k: kwargs[k] for k in ("images", "seed", "batch_size") if k in kwargs})  # before any loading
    run = load_run(run_dir, device=device)
    check_writable(run.path)  # its result files are written there: fail before the work, not after
    tta = kwargs.pop("tta", None) or run.config.train.tta
    # names and severities fail here, before the data set loads
    parse_corruptions(kwargs.get("corruptions"))
    parse_severities(kwargs.get("severities"))
    arrays = load_cifar10(data or run.config.data.data, offline=offline)
    result = evaluate_robustness(
        run.model, arrays.test_x, arrays.test_y, tta=tta, num_classes=len(run.classes), **kwargs
    )
    result.run, result.model = run.path.name, run.config.model
    if write:
        write_result(run.path, result)
    return result


def write_result(run_dir: Path, result: RobustnessResult) -> None:
    """robustness.json and the two figures, each replaced atomically."""
    plot_heatmap(result, run_dir / HEATMAP_FILE)
    plot_severity_curve(result, run_dir / SEVERITY_FILE)
    atomic_write_json(run_dir / RESULT_FILE, result.to_dict())


def read_result(run_dir: str | Path) -> dict[str, Any] | None:
    """A run's robustness.json as a dict, or None when it has none (or it is unreadable)."""
    import json

    path = Path(run_dir) / RESULT_FILE
    try:
        obj = json.loads(read_text(path))  # no symlink, no FIFO (fileio.open_regular)
    except UnsafeFileError as e:
        warn(f"{e}; robustness left out")
        return None
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("mean_corruption_acc"), float) else None


# ---------------------------------------------------------------------------------------------------- figures


def plot_heatmap(result: RobustnessResult, path: Path) -> None:
    """Accuracy per corruption (rows) and severity (columns), annotated in percent."""
    from matplotlib.figure import Figure

    names = list(result.corruptions)
    acc = np.array([[np.nan if a is None else 100 * a for a in result.corruptions[n]] for n in names])
    fig = Figure(figsize=(6.5, 0.38 * len(names) + 1.6))
    ax = fig.subplots()
    im = ax.imshow(acc, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            if not np.isnan(acc[i, j]):
                ax.text(
                    j,
                    i,
                    f"{acc[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if acc[i, j] < 60 else "black",
                )
    ax.set_xticks(range(5), [f"severity {s}" for s in C.SEVERITIES], fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(
        f"{result.run or 'model'}: clean {100 * result.clean_acc:.2f}%, "
        f"mean corruption {100 * result.mean_corruption_acc:.2f}% ({result.source})",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def plot_severity_curve(result: RobustnessResult, path: Path) -> None:
    """Mean accuracy over the corruptions per severity, clean accuracy at severity 0."""
    from matplotlib.figure import Figure

    per = result.per_severity()
    xs = [0] + [int(s) for s in per]
    ys = [100 * result.clean_acc] + [100 * v for v in per.values()]
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    ax.plot(xs, ys, marker="o", label="mean over corruptions")
    if result.shift:
        ax.axhline(100 * result.shift["acc"], ls="--", color="tab:red", label=result.shift["name"])
    ax.set_xticks(range(6), ["clean", "1", "2", "3", "4", "5"])
    ax.set_xlabel("severity")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{result.run or 'model'}: accuracy by severity", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
