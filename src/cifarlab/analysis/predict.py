"""Predict classes for image files of any size and mode with a trained run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.images import ImageError, expand_inputs, read_image


@dataclass
class Prediction:
    path: str
    topk: list[tuple[str, float]] | None = None
    error: str | None = None


def predict_files(run, items: Sequence[str | Path], topk: int = 3) -> list[Prediction]:
    """Top-k classes per file; unreadable files get an error and do not stop the others."""
    results: list[Prediction] = []
    good: list[tuple[int, np.ndarray]] = []
    for path in expand_inputs(items):
        try:
            good.append((len(results), read_image(path)))
            results.append(Prediction(str(path)))
        except ImageError as e:
            results.append(Prediction(str(path), error=str(e)))
    if good:
        batch = torch.stack([torch.from_numpy(a).permute(2, 0, 1) for _, a in good])
        probs = run.predict(batch)
        k = min(topk, probs.shape[1])
        top = probs.topk(k, dim=1)
        for (i, _), values, indices in zip(good, top.values, top.indices):
            results[i].topk = [(run.classes[j], float(v)) for v, j in zip(values, indices)]
    return results
