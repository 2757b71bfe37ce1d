"""Named recipes: configs, not code.

A recipe is a model name plus overrides of the :mod:`cifarlab.config.schema` defaults. ``cifarlab train
--recipe NAME`` starts from it and command-line flags override it. The ``seed-*`` recipes reproduce
the student notebook's experiments with its exact settings (DEVELOPERS.md); what each reaches on
the data in ``../shared`` is measured in docs/seed-parity.md.

Selection protocol: the notebook trained on all 50,000 training images and watched *test*
accuracy for early stopping. By default these recipes hold out a 5,000-image validation split and
watch that instead; ``--select-on test`` restores the notebook's protocol exactly (and, unless
``--val-size`` is given, trains on all training images again).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import unknown_name
from .overrides import apply_overrides, warmup_for
from .schema import ExperimentConfig

DEFAULT_RECIPE = "fast"


@dataclass(frozen=True)
class Recipe:
    """A model name plus overrides of the config defaults; ``budget``: more overrides that hold when
    the run has a time budget (:func:`resolve` applies them under any the user gives)."""

    name: str
    model: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)

    def config(self, time_budget: bool = False) -> ExperimentConfig:
        cfg = ExperimentConfig(model=self.model, recipe=self.name)
        return apply_overrides(cfg, copy.deepcopy({**self.overrides, **(self.budget if time_budget else {})}))


_NOTEBOOK_ADAM = {"optimizer": "adam", "lr": 1e-3, "batch_size": 256}


# airbench's optimiser settings, restated for a mean (not summed) loss: LR 11.5 per 1024 examples
# with momentum 0.85 becomes 11.5 / (1024 * (1 + 1 / 0.15)) = 0.001465 per example of the batch;
# decoupled weight decay 0.0153 per 1024 examples becomes a PyTorch weight_decay of 0.0153 / 11.5
# (so the decay per step stays put when the LR changes); BatchNorm biases learn 64x faster.
def _airbench(batch_size: int, epochs: float, lr_per_1024: float = 11.5, **extra: Any) -> dict[str, Any]:
    lr_per_example = 0.001465 * lr_per_1024 / 11.5  # 0.001465: the rounded figure fast/fast90 were measured with
    return {
        "optimizer": "sgd",
        "momentum": 0.85,
        "nesterov": True,
        "lr": round(lr_per_example * batch_size, 6),
        "weight_decay": 0.0153 / lr_per_1024,
        "bn_lr_scale": 64.0,
        "batch_size": batch_size,
        "epochs": epochs,
        "schedule": "onecycle",
        "warmup_epochs": warmup_for(epochs, 0.2),  # as an --epochs override rescales it
        "label_smoothing": 0.2,
        "lookahead": True,
        "translate": 2,
        "flip": "alternating",
        "tta": "flip_translate",
        "val_size": 0,
        "eval_from": math.ceil(epochs),
        **extra,
    }


# The textbook way to train a CIFAR convnet (He et al. 2015's SGD, kuangliu/pytorch-cifar's crop+flip
# and weight decay, a one-cycle LR and label smoothing as in the fast-training literature): what the zoo
# recipes start from, and what `cifarlab bench --zoo --baseline` trains with a plain loop (baseline.py).
# Warm-up: 30% of the run, as torch's OneCycleLR. The 30 epochs are the length without a time budget.
def _textbook(lr: float, epochs: int = 30) -> dict[str, Any]:
    return {
        "optimizer": "sgd",
        "momentum": 0.9,
        "nesterov": True,
        "lr": lr,
        "weight_decay": 5e-4,
        "batch_size": 128,
        "epochs": epochs,
        "schedule": "onecycle",
        "warmup_epochs": warmup_for(epochs, 0.3),
        "label_smoothing": 0.1,
        "translate": 4,
        "flip": "random",
        "tta": "flip",
    }


# The rule for a time budget (any length): train on all 50,000 images and keep the last epoch, evaluated
# once. The schedule ends near LR 0, where the last epoch is the best one; a held-out 5,000 images and an
# evaluation after every epoch would cost a tenth of the images and up to a fifth of a 10-minute budget.
# eval_from = the last of the recipe's epochs: apply_overrides moves it with the planned end.
_KEEP_LAST = {"val_size": 0, "eval_from": 30}

# The default recipe's network: half-width fastnet with the stride-2 (patchify) whitening stem.
_FAST_NET = {"model_kwargs": {"width": 0.5, "stem_stride": 2}}

# fast90-sel's and its descendants' cheaper steps: the hardest half of each batch by the proxy net, on
# 24-pixel crops for the first 60% of the steps (docs/bench/performance-log/README.md, "Pushing the fp32 frontier").
_SELECT_AND_CROP = {"keep_hard": 0.5, "crop": 24, "crop_until": 0.6}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "fast",
            "fastnet",
            "Default: the notebook's best accuracy in minutes on a 2-core CPU. Half-width fastnet with a stride-2 "
            "(patchify) whitening stem; Muon on the conv filters, SGD at 1.5x airbench's LR on the rest; 4.5 epochs "
            "(4, then half of a fifth), 6-view TTA. Measured: docs/recipes.md.",
            {
                **_FAST_NET,
                **_airbench(512, 4.5),
                "lr": 1.125,
                "optimizer": "muon",
                "muon_lr": 0.1,
                "muon_momentum": 0.8,
            },
        ),
        Recipe(
            "fast-sgd",
            "fastnet",
            "`fast` with SGD throughout and 5 epochs (the default before Muon). Measured: docs/recipes.md.",
            # "lr" alone, not lr_per_1024=17.25: that would also lower the weight decay, and the
            # measured runs kept airbench's (docs/bench/performance-log/README.md, "How the new fast was found").
            {**_FAST_NET, **_airbench(512, 5), "lr": 1.125},
        ),
        Recipe(
            "fast85",
            "fastnet",
            "Half-width fastnet (full-resolution stem), 4 epochs, flip TTA: the first default, a point above "
            "the notebook's best on bf16 CPUs. Measured: docs/recipes.md.",
            {"model_kwargs": {"width": 0.5}, **_airbench(512, 4), "tta": "flip"},
        ),
        Recipe(
            "fast90",
            "fastnet",
            "Aims at 90%: airbench94's net (fastnet), 9 epochs, 6-view TTA after the last. Measured: docs/recipes.md.",
            _airbench(512, 9),
        ),
        Recipe(
            "fast90-sel",
            "fastnet",
            "fast90 at a lower cost per epoch: each step trains the hardest half of its batch as a small proxy "
            "net ranks it (--keep-hard 0.5), on 24-pixel crops for the first 60% of the steps (--crop 24 "
            "--crop-until 0.6); 13 epochs. Measured: docs/recipes.md.",
            {**_airbench(512, 13), **_SELECT_AND_CROP},
        ),
        Recipe(
            "fast89",
            "fastnet",
            "fast90-sel on fast85's network (half-width fastnet, full-resolution stem): the most accurate found for "
            "5-10 minutes on a bf16 CPU (for an fp32 CPU's 20 minutes: fast89-wide). The hardest half of each "
            "batch by a small proxy net (--keep-hard 0.5), 24-pixel crops for the first 60% of the steps, 23 epochs "
            "(what a 2-core Zen 3's 20 minutes hold, estimated), 6-view TTA after the last. Measured: docs/recipes.md.",
            {"model_kwargs": {"width": 0.5}, **_airbench(512, 23), **_SELECT_AND_CROP},
        ),
        Recipe(
            "fast89-wide",
            "fastnet",
            "fast89 with twice the channels in the last group (32/128/256): the most accurate found, by an "
            "estimate, for a 2-core fp32 CPU's 20 minutes. The wider group works on 7x7 and 3x3 maps, where "
            "convolutions are cheap; 19 epochs (what those 20 minutes hold, estimated), 6-view TTA after the "
            "last. Measured: docs/recipes.md.",
            {"model_kwargs": {"widths": (32, 128, 256)}, **_airbench(512, 19), **_SELECT_AND_CROP},
        ),
        Recipe(
            "fast93",
            "fastnet",
            "Aims at 93%: airbench95's wider net (128/384/384), LR 10, 15 epochs, 6-view TTA after the last "
            "(airbench95's paper reports 95.0% on the official files). A GPU recipe: 4.3x fast90's FLOPs. "
            "Measured: docs/recipes.md.",
            {"model_kwargs": {"widths": (128, 384, 384)}, **_airbench(512, 15, lr_per_1024=10.0)},
        ),
        Recipe(
            "fast94",
            "fastnet",
            "Aims at 94%+: airbench96's net (128/512/512, 3 convs and a residual per group), LR 9, cutout 12, "
            "translate 4, 40 epochs, 6-view TTA after the last (airbench96's paper reports 96.05% on the official "
            "files). A GPU recipe: 23x fast90's FLOPs. Measured: docs/recipes.md.",
            {
                "model_kwargs": {"widths": (128, 512, 512), "depth": 3},
                **_airbench(512, 40, lr_per_1024=9.0, translate=4, cutout=12),
            },
        ),
        # -- the zoo's recipes: one per family of architectures, from the papers' own settings -------
        Recipe(
            "zoo-sgd",
            "resnet20",
            "Convolutional nets with BatchNorm (He et al.'s CIFAR ResNets, ImageNet-style ResNets and PreAct, "
            "Wide ResNets, MobileNetV2, DenseNet, ResNet-9): the textbook CIFAR training -- Nesterov SGD, momentum "
            "0.9, batch 128, weight decay 5e-4, a one-cycle LR peaking at 0.2 after 30% of the run, label "
            "smoothing 0.1, 4-pixel translations and flips -- over 30 epochs, flip TTA. Under --time-budget: "
            "all 50,000 images, last epoch kept (docs/zoo.md).",
            _textbook(0.2),
            budget=_KEEP_LAST,
        ),
        Recipe(
            "zoo-vgg",
            "vgg16_bn",
            "VGG-BN: zoo-sgd at a peak LR of 0.05 (batch 128): these plain stacks without shortcuts learn "
            "less at higher LRs in budget-length runs; chosen on validation accuracy (docs/zoo.md).",
            _textbook(0.05),
            budget=_KEEP_LAST,
        ),
        Recipe(
            "zoo-vit",
            "vit",
            "Vision Transformers trained from scratch: AdamW (LR 1e-3, weight decay 0.05), batch 256, 10% "
            "warm-up then cosine, label smoothing 0.1, translations and flips, 30 epochs -- the DeiT-style "
            "training most small-data ViT studies start from; their stronger augmentation is not here.",
            {
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
                "batch_size": 256,
                "epochs": 30,
                "schedule": "cosine",
                "warmup_epochs": 3,
                "label_smoothing": 0.1,
                "translate": 4,
                "flip": "random",
                "tta": "flip",
            },
            budget=_KEEP_LAST,
        ),
        Recipe(
            "zoo-convmixer",
            "convmixer",
            "ConvMixer: AdamW with a one-cycle LR (peak 0.005 at batch 256, after 20% of the run), weight "
            "decay 0.01, translations and flips, 30 epochs, after Trockman & Kolter's CIFAR-10 runs (AdamW, "
            "one-cycle), without their RandAugment, scale jitter and random erasing.",
            {
                "optimizer": "adamw",
                "lr": 5e-3,
                "weight_decay": 0.01,
                "batch_size": 256,
                "epochs": 30,
                "schedule": "onecycle",
                "warmup_epochs": 6,
                "translate": 4,
                "flip": "random",
                "tta": "flip",
            },
            budget=_KEEP_LAST,
        ),
        Recipe(
            "seed-softmax",
            "softmax",
            "Notebook: softmax regression with the Trainer defaults (SGD lr 0.1, 20 epochs, batch 256).",
            {"optimizer": "sgd", "lr": 0.1, "epochs": 20, "batch_size": 256},
        ),
        Recipe(
            "seed-mlp-first",
            "mlp_first",
            "Notebook: first MLP (3072-96-10), SGD lr 0.1, 50 epochs on data_batch_1 only (~45%).",
            {"optimizer": "sgd", "lr": 0.1, "epochs": 50, "batch_size": 256, "train_batches": (1,)},
        ),
        Recipe(
            "seed-mlp-final",
            "mlp_final",
            "Notebook: final MLP (3072-1024-512-256-10), Adam 1e-3, wd 1e-4, 50 epochs (best 53.6%).",
            {**_NOTEBOOK_ADAM, "weight_decay": 1e-4, "epochs": 50},
        ),
        Recipe(
            "seed-cnn1",
            "cnn1",
            "Notebook: cnn1 (2 convs, no BN), Adam 1e-3, wd 5e-4, 50 epochs (~65%, overfits).",
            {**_NOTEBOOK_ADAM, "weight_decay": 5e-4, "epochs": 50},
        ),
        Recipe(
            "seed-cnn2",
            "cnn2",
            "Notebook: cnn2 (2 Conv-BN blocks, dropout), Adam 1e-3, wd 5e-4, 50 epochs (best 75.2%).",
            {**_NOTEBOOK_ADAM, "weight_decay": 5e-4, "epochs": 50},
        ),
        Recipe(
            "seed-cnn3",
            "cnn3",
            "Notebook write-up: cnn3 (32-ch), Adam 3e-3, wd 1e-4, batch 256, <=100 epochs, patience 10 (~82%).",
            {"optimizer": "adam", "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 256, "epochs": 100, "patience": 10},
        ),
        Recipe(
            "seed-cnn3-wide",
            "cnn3_wide",
            "Notebook code: cnn3_wide (64-ch), Adam 5e-4, wd 1e-3, batch 128, <=100 epochs, patience 10 (83.0%).",
            {"optimizer": "adam", "lr": 5e-4, "weight_decay": 1e-3, "batch_size": 128, "epochs": 100, "patience": 10},
        ),
    ]
}


# Each model family's default recipe; a model may name its own (ModelInfo.recipe, e.g. the notebook's).
FAMILY_RECIPES = {
    "fastnet": "fast",
    "resnet_cifar": "zoo-sgd",
    "resnet": "zoo-sgd",
    "resnet9": "zoo-sgd",
    "wide_resnet": "zoo-sgd",
    "vgg": "zoo-vgg",
    "mobilenet": "zoo-sgd",
    "densenet": "zoo-sgd",
    "vit": "zoo-vit",
    "convmixer": "zoo-convmixer",
}


def default_recipe(model: str) -> str:
    """The recipe ``model`` trains with by default (``cifarlab train --model MODEL``)."""
    from ..models.registry import model_info

    info = model_info(model)  # an unknown name: one line with the closest one
    return info.recipe or FAMILY_RECIPES.get(info.family, "zoo-sgd")


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise unknown_name("recipe", name, list(RECIPES), " Run 'cifarlab recipes' to list them.")
    return RECIPES[name]
