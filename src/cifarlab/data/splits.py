"""Which images a run trains, selects and tests on: the training batches chosen, a limit, and a
seeded, class-stratified validation split held out of them (fixed across training seeds)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..config.checks import check_image_limit
from ..core.errors import ConfigError, warn
from .cifar import CifarArrays


@dataclass(frozen=True)
class Split:
    """Images (uint8 N,3,32,32) and their labels (int64 N)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"Split has {self.x.shape[0]} images but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Splits:
    """Training, validation (None when ``val_size`` is 0) and test splits."""

    train: Split
    val: Split | None
    test: Split
    classes: tuple[str, ...]


def _largest_remainder(counts: Sequence[int], total: int) -> list[int]:
    """Split ``total`` proportionally to ``counts`` into integers summing exactly to ``total``.

    Each share gets the floor of its exact quota, and the leftover units go to the largest fractional
    parts (ties: lower class index). Integer arithmetic, so the result is exact and platform-independent.
    """
    n = sum(counts)
    shares = [total * c // n for c in counts]
    remainders = [total * c % n for c in counts]
    for i in sorted(range(len(counts)), key=lambda i: (-remainders[i], i))[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _check_batches(train_batches: Iterable[int]) -> tuple[int, ...]:
    batches = tuple(train_batches)
    if not batches or any(
        isinstance(b, bool) or not isinstance(b, int | np.integer) or not 1 <= b <= 5 for b in batches
    ):
        raise ConfigError(f"--train-batches {batches} must be numbers 1..5, e.g. --train-batches 1,2")
    return tuple(sorted({int(b) for b in batches}))


def first_test_images(arrays: CifarArrays, test_limit: int | None = None) -> Split:
    """The test images, or with ``test_limit`` the first ``test_limit`` of them (the official order is
    not sorted by class: the first 1,000 hold 86-112 of each class)."""
    check_image_limit("--test-limit", test_limit)
    test = Split(arrays.test_x, arrays.test_y)
    if test_limit is not None:
        if test_limit > len(test):
            warn(f"--test-limit {test_limit} is more than the {len(test)} test images; using all")
        test = Split(test.x[:test_limit], test.y[:test_limit])
    return test


def make_splits(
    arrays: CifarArrays,
    *,
    train_batches: Sequence[int] = (1, 2, 3, 4, 5),
    train_limit: int | None = None,
    val_size: int = 5000,
    split_seed: int = 0,
    test_limit: int | None = None,
) -> Splits:
    """Select training rows and hold out a seeded, class-stratified validation split.

    1. Keep the training rows from the ``data_batch_k`` files in ``train_batches``, in their original order.
    2. With ``train_limit``, keep the first ``train_limit`` of them. Deterministic on purpose, like the
       notebook taking ``data_batch_1``: the same limit always means the same images, whatever the seed.
    3. Hold out exactly ``val_size`` of those as validation: per class, a share proportional to the
       class's frequency (largest-remainder rounding, so shares sum to ``val_size``), the rows within a
       class drawn by ``torch.Generator().manual_seed(split_seed)``. Train and val keep the original order.
    4. With ``test_limit``, test on the first ``test_limit`` test images (:func:`first_test_images`).
    """
    batches = _check_batches(train_batches)
    check_image_limit("--train-limit", train_limit)
    check_image_limit("--test-limit", test_limit)
    if val_size < 0:
        raise ConfigError(f"--val-size must be 0 or more, got {val_size}")
    selected = torch.isin(arrays.train_batch, torch.tensor(batches, dtype=arrays.train_batch.dtype))
    rows = selected.nonzero().flatten()  # ascending: the original order
    if train_limit is not None:
        if train_limit > len(rows):
            warn(f"--train-limit {train_limit} is more than the {len(rows)} selected training images; using all")
        rows = rows[:train_limit]
    n = len(rows)
    if val_size >= n:
        raise ConfigError(
            f"--val-size {val_size} leaves no training images (only {n} selected); lower --val-size or select more data"
        )
    test = first_test_images(arrays, test_limit)
    if val_size == 0:
        return Splits(Split(arrays.train_x[rows], arrays.train_y[rows]), None, test, arrays.classes)

    labels = arrays.train_y[rows]
    num_classes = max(len(arrays.classes), int(labels.max()) + 1)
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    shares = _largest_remainder(counts, val_size)
    generator = torch.Generator().manual_seed(split_seed)
    picked = []
    for cls, share in enumerate(shares):
        if share == 0:
            continue
        members = (labels == cls).nonzero().flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:share]])
    is_val = torch.zeros(n, dtype=torch.bool)
    is_val[torch.cat(picked)] = True
    train_rows, val_rows = rows[~is_val], rows[is_val]  # boolean masks keep the original order
    return Splits(
        train=Split(arrays.train_x[train_rows], arrays.train_y[train_rows]),
        val=Split(arrays.train_x[val_rows], arrays.train_y[val_rows]),
        test=test,
        classes=arrays.classes,
    )


def parse_train_batches(text: str) -> tuple[int, ...]:
    """Parse ``--train-batches``: ``"1,2"`` -> (1, 2), ``"1-3"`` -> (1, 2, 3), ``"1,4-5"``, ``"all"``.

    The result is sorted without duplicates (the rows are used in file order anyway). Anything else,
    or a number outside 1..5, is a :class:`ConfigError`.
    """
    hint = "use numbers 1..5 like 1,2 or a range like 1-3"
    cleaned = text.strip().lower()
    if cleaned == "all":
        return (1, 2, 3, 4, 5)
    chosen: set[int] = set()
    for part in cleaned.split(","):
        part = part.strip()
        low_text, dash, high_text = part.partition("-")
        if not (low_text.isdigit() and (not dash or high_text.isdigit())):
            raise ConfigError(f"--train-batches '{text}': '{part}' is not a number or range; {hint}")
        low, high = int(low_text), int(high_text) if dash else int(low_text)
        if low > high:
            raise ConfigError(f"--train-batches '{text}': range {part} runs backwards; {hint}")
        if low < 1 or high > 5:
            bad = low if low < 1 else high
            raise ConfigError(f"--train-batches '{text}': there is no data_batch_{bad}; {hint}")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))
