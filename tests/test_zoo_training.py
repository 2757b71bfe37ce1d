"""Every registered model trains well *by name*: its own recipe, a small budget, clearly above chance.

This is the check that would have caught `cifarlab train --model resnet18` ending at 7.88% (below
chance) under a recipe tuned for another network (issue 17). Each model trains at the reduced size of
the same builder (``tests/reduced_sizes.py``) on a subset, through the one-call Python API, with its
recipe's optimizer, schedule, augmentation and evaluation untouched but for the length.

Names whose reduced network and recipe are the same as an earlier name's (resnet32/44/56/110 reduce to
resnet20's depth 20, wrn28_10 to wrn16_8's depth 10) are not trained again: the same seed builds equal
weights, and the same settings then train them to the same result. A test checks that sameness instead.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch
from reduced_sizes import REDUCED

import cifarlab
from cifarlab.config.recipes import default_recipe, for_model
from cifarlab.models.registry import create_model, forward_flops

CHANCE = 0.10
# Twice chance: a recipe that does not fit its model ends near 10%, or diverges. On 1,000 test images
# chance is 10% +- 0.95 (one standard error), so 20% is ten of them above it. The lengths below were
# measured on the real data, seeds 0 and 1: every model measured ended 5.6 points or more above it.
THRESHOLD = 0.20


def _with_pixel_noise(images: torch.Tensor, seed: int, amplitude: int = 4) -> torch.Tensor:
    """uint8 images plus seeded integer noise in [-amplitude, amplitude], clamped to 0..255."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randint(-amplitude, amplitude + 1, images.shape, generator=g, dtype=torch.int16)
    return (images.to(torch.int16) + noise).clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def small_arrays(request):
    """The real data set when CI provides it (else the learnable fake), its test set cut to 1,000 images."""
    try:
        arrays, _ = request.getfixturevalue("real_arrays")
    except pytest.skip.Exception:
        from cifarlab.data.cifar import load_cifar10

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arrays = load_cifar10(request.getfixturevalue("fake_folder"), progress=False)
        # The fake images are flat colours plus one luminance checkerboard: their 2x2 patches span 6 of
        # 12 dimensions. fastnet's whitening stem then turns the other 6 into channels that are constant
        # up to rounding, BatchNorm (eps 1e-12) divides them by ~0, and after the Lookahead pull the
        # running statistics no longer match: 97% training accuracy, 9.4% in eval mode (seed 0, one
        # thread). Real images have full-rank patches; a little pixel noise gives the fake ones that too.
        arrays = dataclasses.replace(
            arrays, train_x=_with_pixel_noise(arrays.train_x, 1), test_x=_with_pixel_noise(arrays.test_x, 2)
        )
    return dataclasses.replace(arrays, test_x=arrays.test_x[:1000], test_y=arrays.test_y[:1000])


def _what_trains(name: str) -> tuple[str, str]:
    """The reduced network's layers and the settings its recipe trains it with, as text."""
    return repr(create_model(name, **REDUCED[name])), repr(for_model(name).train)


def _trained_and_same() -> tuple[list[str], dict[str, str]]:
    """The names that train (the first of each kind) and, for the others, the name they repeat."""
    first: dict[tuple[str, str], str] = {}
    same: dict[str, str] = {}
    for name in cifarlab.list_models():
        kind = _what_trains(name)
        if kind in first:
            same[name] = first[kind]
        else:
            first[kind] = name
    return list(first.values()), same


TRAINED, SAME = _trained_and_same()


def _length(name: str) -> tuple[int, int, int | None, int]:
    """Epochs, training images, batch size (None: the recipe's) and first evaluated epoch of a model's
    run here.

    Cost decides it. The notebook's softmax and MLPs (under 10 MFLOPs an image) get the longer runs
    their plain SGD and Adam need; every other model a few short epochs at its reduced size, in
    small batches. Figures: real data, seed 0, one thread, Zen 4 (the suite's time goes to these).
    """
    recipe = for_model(name).train
    flops = forward_flops(create_model(name, **REDUCED[name]))
    if name == "mobilenetv2":
        # Few FLOPs, but depthwise ones that a CPU runs slowly, and small batches pay a per-step cost on
        # its many layers: 8 epochs at its batch of 256 took 44 s (41.6%), 3 at batch 32 on 4,000
        # images 24 s (33.8%), 4 at batch 32 on 2,000 images 16 s (31.3%).
        return 4, 2_000, 32, 4
    if name == "convmixer":
        # Depthwise too: 8 epochs took 35 s, 3 at its recipe's batch take 9 s (38.7%).
        return 3, 4_000, None, 3
    if flops < 1e6:
        # Under the notebook's plain SGD (lr 0.1) the last epoch's accuracy swings: softmax ended at
        # 25.8% after 20 epochs and 21.5% after 40. The notebook watched every epoch; so does this run,
        # keeping the best validated one: softmax 30.4%, mlp_first 36.9% after 40 (3 s and 6 s).
        return 40, 10_000, None, 1
    if flops < 1e7:
        return 8, 4_000, None, 8
    if recipe.optimizer == "adam":
        # The notebook's CNNs under its plain Adam: one epoch at batch 32 on 4,000 images reaches 32.5 / 35.7 /
        # 36.8 / 37.7% (cnn1 / cnn2 / cnn3 / cnn3_wide) in 5.5 / 2.7 / 7.6 / 11 s; on 2,000 images seeds 0 / 1
        # reach 25.6 / 29.9%, 28.2 / 31.2%, 32.7 / 30.0% and 35.0 / 31.1% in about 60% of the time.
        return 1, 2_000, 32, 1
    if recipe.optimizer == "muon":
        return 3, 4_000, None, 3
    if recipe.optimizer == "sgd":
        # 2 epochs at batch 64 (a third of the suite's time went to these at 3): seeds 0 / 1 reached
        # 25.7 / 26.1% (resnet34), 25.7 / 26.0% (wrn16_8), 29.9 / 30.1% (resnet18), 30.3 / 29.2% (resnet20),
        # 29.5-48.0% for the rest, in 4.6-13 s each (2 at batch 32 had left resnet34 at 25.6%).
        return 2, 4_000, (64 if recipe.batch_size > 64 else None), 2
    # AdamW: 3 epochs at batch 64.
    return 3, 4_000, (64 if recipe.batch_size > 64 else None), 3


@pytest.mark.parametrize("name, trained", sorted(SAME.items()))
def test_a_name_not_trained_here_builds_the_same_weights_as_one_that_is(name, trained):
    assert trained in TRAINED and _what_trains(name) == _what_trains(trained)
    weights = []
    for n in (name, trained):
        torch.manual_seed(0)
        weights.append(create_model(n, **REDUCED[n]).state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINED)
def test_every_model_trains_by_name_above_chance(name, small_arrays, tmp_path):
    epochs, images, batch, eval_from = _length(name)
    recipe = for_model(name)
    t = recipe.train
    small = {}
    if batch is not None:
        # Smaller batches give more steps for the same compute (a CPU runs them about as fast per
        # image): the LR scales linearly for SGD, by the square root for Adam(W), as usual.
        scale = batch / t.batch_size
        small = {"batch_size": batch, "lr": t.lr * (scale if t.optimizer == "sgd" else math.sqrt(scale))}
    run = cifarlab.train(
        name,
        model_kwargs=REDUCED[name],
        arrays=small_arrays,
        progress=False,
        epochs=epochs,
        eval_from=eval_from,  # the last epoch only, but for the notebook's SGD-trained softmax and MLP
        train_limit=images,
        val_size=200,
        out=str(tmp_path),
        threads=1,
        **small,
    )
    assert run.config.recipe == default_recipe(name) == recipe.recipe
    assert run.config.train.optimizer == t.optimizer and run.config.train.schedule == t.schedule
    assert run.path.name.startswith(f"{name}-")  # named after the model, its own recipe not repeated
    acc = run.summary["test_acc"]
    assert acc >= THRESHOLD, f"{name} with recipe {run.config.recipe}: {100 * acc:.1f}% test accuracy"
