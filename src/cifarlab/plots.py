"""Figures drawn from metric rows (never the other way round): curves, confusion matrix, live plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

# A bare Figure renders through the Agg canvas without pyplot: no GUI backend, no global state.
from matplotlib.figure import Figure

from .core.fileio import atomic_path
from .core.jupyter import in_notebook


def _series(rows: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["epoch"], r[key]) for r in rows if key in r and not math.isnan(float(r[key]))]
    return [p[0] for p in pts], [float(p[1]) for p in pts]


def curves_figure(rows: Sequence[dict], title: str = "") -> Figure:
    """Loss and accuracy per epoch for train/val/test, like the notebook's Plotter."""
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for split, style in (("train", "-"), ("val", "--"), ("test", ":")):
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
            xs, ys = _series(rows, f"{split}_{metric}")
            if xs:
                ax.plot(xs, ys, style, marker="o" if len(xs) < 30 else None, ms=3, label=split)
    for ax, label in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write a PNG atomically (temp file + os.replace): a reader never sees half an image."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


def plot_curves(rows: Sequence[dict], path: str | Path, title: str = "") -> Path:
    return save_figure(curves_figure(rows, title), path)


def confusion_figure(matrix, classes: Sequence[str], title: str = "") -> Figure:
    """Confusion matrix (rows: true class, columns: predicted): counts on the left, row-normalised right."""
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(15, 6.5))
    for ax, values, fmt, label in zip(
        fig.subplots(1, 2), (m, share), ("{:.0f}", "{:.2f}"), ("counts", "share of true class")
    ):
        im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(
                    j,
                    i,
                    fmt.format(values[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black",
                )
        ax.set_title(label)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title or "confusion matrix")
    fig.tight_layout()
    return fig


def plot_confusion(matrix, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    return save_figure(confusion_figure(matrix, classes, title), path)


def plot_per_class(acc: Sequence[float], classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    bars = ax.bar(range(len(classes)), [100 * a for a in acc], color="tab:blue")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title or "per-class accuracy")
    fig.tight_layout()
    return save_figure(fig, path)


def gallery_figure(images, true: Sequence[str], pred: Sequence[str], conf, cols: int = 8) -> Figure:
    """A grid of images (uint8 (N, 3, 32, 32)) captioned 'true -> predicted (confidence)'."""
    n = max(len(images), 1)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(cols * 1.6, rows * 1.9))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(f"{true[k]}\n→ {pred[k]} {100 * float(conf[k]):.0f}%", fontsize=7)
    fig.suptitle("most confident mistakes (true → predicted, confidence)")
    fig.tight_layout()
    return fig


def plot_gallery(images, true: Sequence[str], pred: Sequence[str], conf, path: str | Path, cols: int = 8) -> Path:
    return save_figure(gallery_figure(images, true, pred, conf, cols), path)


def tune_history_figure(trials, path: str | Path, title: str = "") -> Path:
    """Optimisation history: each trial's objective (pruned trials at their last reported value) and
    the best so far."""
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    done = [(t.number, t.value) for t in trials if t.state.name == "COMPLETE"]
    pruned = [
        (t.number, t.intermediate_values[max(t.intermediate_values)])
        for t in trials
        if t.state.name == "PRUNED" and t.intermediate_values
    ]
    if done:
        ax.plot(*zip(*done), "o", color="tab:blue", label="completed")
        best, running = [], -math.inf
        for n, v in sorted(done):
            running = max(running, v)
            best.append((n, running))
        ax.step(*zip(*best), where="post", color="tab:red", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="tab:gray", label="pruned (last value)")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    ax.set_title(title or "optimisation history")
    fig.tight_layout()
    return save_figure(fig, path)


def tune_importance_figure(importances: dict[str, float], path: str | Path, title: str = "") -> Path:
    """Hyperparameter importances (fANOVA), largest on top."""
    names = sorted(importances, key=importances.get)
    fig = Figure(figsize=(7, 1.2 + 0.45 * len(names)))
    ax = fig.subplots()
    bars = ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xlabel("importance for validation accuracy")
    ax.set_xlim(0, 1.1)
    ax.set_title(title or "parameter importance")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_reliability(bins: Sequence[dict], ece: float, path: str | Path) -> Path:
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
    width = bins[0]["hi"] - bins[0]["lo"] if bins else 0.1
    ax.bar(centres, [b["acc"] if b["count"] else 0 for b in bins], width=width, edgecolor="black", label="accuracy")
    ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability diagram (ECE {100 * ece:.2f}%)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


class LivePlot:
    """Trainer callback redrawing the loss/accuracy curves in place each epoch, in Jupyter: one
    output (a display with an id) shown after the first epoch and updated after each later one, so a
    notebook holds one figure however long the run, not one per epoch. Outside a kernel it does nothing.

    ``Trainer(net, ..., callbacks=[LivePlot("cnn3")])``; ``cifarlab.train`` adds one by itself."""

    def __init__(self, title: str = ""):
        self.title = title
        self._handle = None

    def on_train_begin(self, trainer) -> None:
        self._handle = None  # a second train() call gets a figure of its own

    def on_epoch_end(self, trainer, row) -> None:
        if not in_notebook():
            return
        import io

        from IPython.display import Image, display  # type: ignore

        buf = io.BytesIO()
        curves_figure(trainer.history.rows, self.title).savefig(buf, format="png", dpi=90)
        image = Image(data=buf.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
