"""Typed configuration: one source of defaults, validated, overridable from the CLI, saved with every run.

A run is fully described by an :class:`ExperimentConfig` (model + :class:`DataConfig` +
:class:`TrainConfig`); ``config.json`` in every run folder is ``asdict`` of it, and
:func:`ExperimentConfig.from_dict` reads it back, so any run can be rerun from its folder.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.errors import ConfigError, unknown_name
from .checks import available_cores, check_image_limit, check_name, check_seed

OPTIMIZERS = ("sgd", "adam", "adamw", "muon")
FLIPS = ("none", "random", "alternating")
TTA_MODES = ("none", "flip", "flip_translate")
AMP_MODES = ("auto", "off", "bf16", "fp16")
SWITCHES = ("auto", "on", "off")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
SELECT_ON = ("val", "test")
IMAGE_SIZE = 32  # CIFAR-10's side: bounds the augmentation sizes


def setting(
    default: Any,
    help: str = "",
    *,
    group: str = "",
    metavar: str | None = None,
    choices: tuple[str, ...] = (),
    parse: str = "",
    flag: bool = True,
    transfers: bool = False,
    show_default: bool = False,
):
    """A config field and its command-line flag, defined once: ``--<name with dashes>`` in ``group``,
    typed from the field's annotation (``parse``: a parser of its own, e.g. "duration"), with
    ``help``, ``metavar`` and the ``choices`` it lists. ``flag=False``: settable by name (recipes,
    ``apply_overrides``) but not on the command line. ``transfers``: a setting that decides whether
    a recipe carries over to another network (the warning of config/recipes.py names the differing ones)."""
    meta = {"help": help, "group": group, "metavar": metavar, "choices": choices, "parse": parse}
    meta.update(flag=flag, transfers=transfers, show_default=show_default)
    return field(default=default, metadata=meta)


def annotation(f: dataclasses.Field) -> str:
    """A field's type as written (``"int | float"``), whether or not its module postpones annotations."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


OPTIMISATION, AUGMENTATION, SPEED, DATA = "optimisation", "augmentation and evaluation", "speed", "data"


@dataclass
class DataConfig:
    # None: $CIFARLAB_DATA, then the cache, then download
    data: str | None = setting(
        None, "CIFAR-10 archive or folder (default: $CIFARLAB_DATA, cache, download)", group=DATA, metavar="PATH"
    )
    offline: bool = setting(False, "never download the data set", group=DATA)
    train_batches: tuple[int, ...] = setting(
        (1, 2, 3, 4, 5),
        "data_batch files to train on, e.g. 1 or 1,2 or 1-3",
        group=DATA,
        metavar="LIST",
        parse="batches",
    )
    train_limit: int | None = setting(None, "train on the first N selected images only", group=DATA, metavar="N")
    test_limit: int | None = setting(
        None, "test on the first N test images only (quick checks; default: all)", group=DATA, metavar="N"
    )
    val_size: int = setting(
        5000,
        "stratified validation images held out of the training images (0: none)",
        group=DATA,
        metavar="N",
        transfers=True,
        show_default=True,
    )
    # fixed across training seeds on purpose
    split_seed: int = setting(0, "seed of the validation split", group=DATA)

    def validate(self) -> None:
        if not self.train_batches or any(b not in range(1, 6) for b in self.train_batches):
            raise ConfigError(f"--train-batches {self.train_batches} must be numbers 1..5, e.g. --train-batches 1,2")
        check_image_limit("--train-limit", self.train_limit)
        check_image_limit("--test-limit", self.test_limit)
        if self.val_size < 0:
            raise ConfigError(f"--val-size must be 0 or more, got {self.val_size}")
        check_seed("--split-seed", self.split_seed)


@dataclass
class TrainConfig:
    # -- optimisation
    epochs: int | float = setting(
        20, "epochs to train; a fraction ends with part of an epoch (4.5)", group=OPTIMISATION, transfers=True
    )
    lr: float = setting(0.1, "base learning rate", group=OPTIMISATION, transfers=True)
    optimizer: str = setting(
        "sgd",
        "optimizer (muon: Muon on conv filters, SGD on the rest)",
        group=OPTIMISATION,
        choices=OPTIMIZERS,
        transfers=True,
    )
    momentum: float = setting(
        0.0, "SGD momentum (sgd and muon's SGD part; the notebook's SGD had none)", group=OPTIMISATION, transfers=True
    )
    nesterov: bool = setting(False, "Nesterov momentum (SGD)", group=OPTIMISATION)
    muon_lr: float = setting(
        0.24,
        "--optimizer muon: step size on the conv filters (airbench94_muon's, at batch 2000)",
        group=OPTIMISATION,
        transfers=True,
        show_default=True,
    )
    muon_momentum: float = setting(
        0.6, "--optimizer muon: Nesterov momentum on the conv filters", group=OPTIMISATION, show_default=True
    )
    weight_decay: float = setting(0.0, "weight decay", group=OPTIMISATION, transfers=True)
    batch_size: int = setting(
        256, "training batch size (with several processes: the global batch)", group=OPTIMISATION, transfers=True
    )
    eval_batch_size: int = setting(1000, "evaluation batch size", group=OPTIMISATION, show_default=True)
    patience: int = setting(-1, "early-stopping patience in epochs (<= 0: off)", group=OPTIMISATION)
    min_delta: float = setting(
        0.001,
        "early stopping: an improvement must beat the best by more than this (the notebook's rule)",
        group=OPTIMISATION,
        show_default=True,
    )
    select_on: str = setting(
        "val",
        "accuracy watched for early stopping and best weights (test: the notebook's "
        "protocol; then --val-size defaults to 0)",
        group=OPTIMISATION,
        choices=SELECT_ON,
    )
    restore_best: bool = setting(True, "end the run with the weights of the best epoch", flag=False)
    schedule: str = setting("constant", "LR schedule", group=OPTIMISATION, choices=SCHEDULES, transfers=True)
    warmup_epochs: float = setting(
        0.0,
        "linear LR warm-up length in epochs (a recipe's warm-up is a share of its "
        "epochs: it scales with --epochs unless this flag is given)",
        group=OPTIMISATION,
    )
    step_size: int = setting(30, "--schedule step: epochs between decays", group=OPTIMISATION, show_default=True)
    gamma: float = setting(0.1, "--schedule step: decay factor", group=OPTIMISATION, show_default=True)
    label_smoothing: float = setting(0.0, "label smoothing", group=OPTIMISATION, transfers=True)
    seed: int = setting(0, "seed of the weights, shuffles, augmentations and dropout", group=OPTIMISATION)
    device: str = setting("auto", "auto (cuda, mps, cpu), cpu, cuda, cuda:N, mps", group=OPTIMISATION)
    # Parameter groups: fast CIFAR nets train their BN biases at a much higher LR; their weight decay is
    # divided by the same factor so the decay step is unchanged.
    bn_lr_scale: float = setting(1.0, "LR multiplier for BatchNorm parameters", group=OPTIMISATION, transfers=True)
    lookahead: bool = setting(
        False,
        "airbench-style lookahead: every 5 steps pull weights towards their average",
        group=OPTIMISATION,
        transfers=True,
    )
    # -- batched augmentation on the training device (cifarlab.data.augment), and evaluation
    translate: int = setting(
        0, "random translation by up to PX pixels (reflect-padded)", group=AUGMENTATION, metavar="PX"
    )
    flip: str = setting("none", "horizontal flips", group=AUGMENTATION, choices=FLIPS)
    cutout: int = setting(0, "zero a PX x PX square per image (0: off)", group=AUGMENTATION, metavar="PX")
    crop: int = setting(
        0, "train on random PX x PX crops; evaluation sees full images (0: off)", group=AUGMENTATION, metavar="PX"
    )
    # Progressive resizing: cheaper early steps at the objects' own scale
    crop_until: float = setting(
        1.0,
        "progressive resizing: crops for the first share F of the training steps, full images after (1: all)",
        group=AUGMENTATION,
        metavar="F",
    )
    # Selective backprop (training/hard_examples.py; airbench96_faster's idea)
    keep_hard: float = setting(
        1.0,
        "selective backprop: train on the share F of each batch that a small proxy net finds hardest (1: all)",
        group=AUGMENTATION,
        metavar="F",
    )
    proxy_width: float = setting(
        1.0, "with --keep-hard: the proxy's channels, F x 32/64/64", group=AUGMENTATION, metavar="F", show_default=True
    )
    proxy_stride: int = setting(
        1,
        "with --keep-hard: the proxy's stem stride; 2 ranks on 16x16 maps, ~4x cheaper",
        group=AUGMENTATION,
        show_default=True,
    )
    proxy_every: int = setting(
        4,
        "with --keep-hard: the proxy learns on every Nth batch and ranks every batch",
        group=AUGMENTATION,
        metavar="N",
        show_default=True,
    )
    augmix: bool = setting(False, "AugMix: mix augmentation chains (corruption robustness)", group=AUGMENTATION)
    augmix_jsd: float = setting(
        0.0, "with --augmix: consistency loss of weight L (paper: 12; 3x cost)", group=AUGMENTATION, metavar="L"
    )
    tta: str = setting(
        "none",
        "test-time augmentation (flip_translate: 6 views)",
        group=AUGMENTATION,
        choices=TTA_MODES,
        transfers=True,
    )
    eval_from: int = setting(
        1,
        "skip evaluation before this epoch (the last is always evaluated)",
        group=AUGMENTATION,
        metavar="EPOCH",
        transfers=True,
    )
    target_acc: float | None = setting(
        None,
        "stop when test accuracy reaches ACC (e.g. 0.90); records seconds_to_target",
        group=AUGMENTATION,
        metavar="ACC",
    )
    time_budget: float | None = setting(
        None,
        "train what fits in T (10m, 90s, 1h30m) on this machine: measures a few steps first, then sets --epochs",
        group=AUGMENTATION,
        metavar="T",
        parse="duration",
    )
    # -- speed
    amp: str = setting(
        "auto", "mixed precision (auto: bf16 on a CPU with AVX512-BF16/AMX and on CUDA)", group=SPEED, choices=AMP_MODES
    )
    channels_last: str = setting(
        "auto", "channels_last memory format (auto: on for conv nets)", group=SPEED, choices=SWITCHES
    )
    compile: bool = setting(False, "torch.compile the model", group=SPEED)
    threads: int = setting(0, "torch intra-op threads (0: torch's default, one per physical core)", group=SPEED)
    # Distributed (torchrun): batch_size is the global batch, split over the ranks
    sync_bn: bool = setting(
        False, "with several processes: BatchNorm statistics over all of them (CUDA only)", group=SPEED
    )
    dist_timeout: float = setting(
        120.0,
        "with several processes: end the run when one stops responding for this "
        "long during training (setup, where rank 0 may download the data, waits 30 "
        "minutes)",
        group=SPEED,
        metavar="SECONDS",
        show_default=True,
    )

    def validate(self, check_optimizer: bool = True) -> None:
        self._check_optimisation()
        self._check_names(check_optimizer)
        self._check_augmentation()
        self._check_run_settings()

    def _check_optimisation(self) -> None:
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ConfigError(f"--epochs must be a positive number, got {self.epochs}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size <= 0:
            raise ConfigError(f"--batch-size must be a positive whole number, got {self.batch_size!r}")
        if self.eval_batch_size <= 0:
            raise ConfigError(f"--eval-batch-size must be a positive number, got {self.eval_batch_size}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"--weight-decay must be 0 or more, got {self.weight_decay}")
        if not 0 <= self.momentum < 1:  # also refuses nan
            raise ConfigError(f"--momentum must be in [0, 1) (0.9 is usual), got {self.momentum}")
        check_seed("--seed", self.seed)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"--warmup-epochs must be 0 or more, got {self.warmup_epochs}")

    def _check_names(self, check_optimizer: bool) -> None:
        if check_optimizer and self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)
        if self.schedule not in SCHEDULES:
            raise unknown_name("schedule", self.schedule, SCHEDULES)
        if self.select_on not in SELECT_ON:
            raise unknown_name("--select-on value", self.select_on, SELECT_ON)
        if self.flip not in FLIPS:
            raise unknown_name("--flip mode", self.flip, FLIPS)
        if self.tta not in TTA_MODES:
            raise unknown_name("--tta mode", self.tta, TTA_MODES)
        if self.amp not in AMP_MODES:
            raise unknown_name("--amp mode", self.amp, AMP_MODES)
        if self.channels_last not in SWITCHES:
            raise unknown_name("--channels-last value", self.channels_last, SWITCHES)

    def _check_augmentation(self) -> None:
        if self.translate < 0 or self.cutout < 0 or self.crop < 0:
            raise ConfigError("--translate, --cutout and --crop must be 0 or more pixels")
        half = IMAGE_SIZE // 2
        if self.translate > half:
            raise ConfigError(
                f"--translate moves images by at most {half} pixels (half the image), got {self.translate}"
            )
        if self.crop >= IMAGE_SIZE:
            raise ConfigError(f"--crop is a side below the images' {IMAGE_SIZE} pixels (0: off), got {self.crop}")
        if not 0 < self.crop_until <= 1:
            raise ConfigError(f"--crop-until is the share of training steps on crops, in (0, 1]; got {self.crop_until}")
        if self.crop_until < 1 and self.crop == 0:
            raise ConfigError("--crop-until sets when --crop's crops end: add --crop PX (e.g. --crop 24)")
        if not 0 < self.keep_hard <= 1:
            raise ConfigError(f"--keep-hard is the share of each batch to train on, in (0, 1]; got {self.keep_hard}")
        if not 0 < self.proxy_width <= 4:  # also refuses nan; 4: 128/256/256, as big as fastnet itself
            raise ConfigError(f"--proxy-width scales the proxy's 32/64/64 channels, in (0, 4]; got {self.proxy_width}")
        if self.proxy_stride not in (1, 2):
            raise ConfigError(f"--proxy-stride is the proxy's stem stride, 1 or 2; got {self.proxy_stride}")
        if isinstance(self.proxy_every, bool) or not isinstance(self.proxy_every, int) or self.proxy_every < 1:
            raise ConfigError(f"--proxy-every N: the proxy learns on every Nth batch, N >= 1; got {self.proxy_every!r}")
        if (self.proxy_width, self.proxy_stride, self.proxy_every) != (1.0, 1, 4) and self.keep_hard == 1:
            raise ConfigError(
                "--proxy-width, --proxy-stride and --proxy-every set --keep-hard's proxy: add --keep-hard F (e.g. 0.5)"
            )
        if self.keep_hard < 1 and self.augmix_jsd > 0:
            raise ConfigError("--keep-hard cannot pick among AugMix's 3 views of an image: drop --augmix-jsd or it")
        if self.cutout > IMAGE_SIZE:
            raise ConfigError(f"--cutout is a square of at most {IMAGE_SIZE} pixels (0: off), got {self.cutout}")
        if not (self.augmix_jsd >= 0 and math.isfinite(self.augmix_jsd)):
            raise ConfigError(f"--augmix-jsd is a loss weight of 0 or more (the paper uses 12), got {self.augmix_jsd}")
        if self.augmix_jsd > 0 and not self.augmix:
            raise ConfigError("--augmix-jsd weighs AugMix's consistency loss: add --augmix")

    def _check_run_settings(self) -> None:
        if self.time_budget is not None and not (self.time_budget > 0 and math.isfinite(self.time_budget)):
            raise ConfigError(f"--time-budget must be a positive duration such as 10m, got {self.time_budget}")
        if not (self.dist_timeout > 0 and math.isfinite(self.dist_timeout)):
            raise ConfigError(f"--dist-timeout must be a positive number of seconds, got {self.dist_timeout}")
        if self.threads < 0 or self.threads > available_cores():
            raise ConfigError(
                f"--threads must be 0 (torch's default) to {available_cores()} (the cores this process may use), "
                f"got {self.threads}"
            )
        if self.target_acc is not None and not 0 < self.target_acc <= 1:
            raise ConfigError(f"--target-acc is a fraction in (0, 1], e.g. 0.90; got {self.target_acc}")
        if not (self.muon_lr > 0 and math.isfinite(self.muon_lr)) or not 0 <= self.muon_momentum < 1:
            raise ConfigError(
                f"--muon-lr must be positive and --muon-momentum in [0, 1), got {self.muon_lr} and {self.muon_momentum}"
            )
        if self.bn_lr_scale <= 0:
            raise ConfigError(f"--bn-lr-scale must be positive, got {self.bn_lr_scale}")
        if self.step_size <= 0:
            raise ConfigError(f"--step-size must be a positive number of epochs, got {self.step_size}")


@dataclass
class ExperimentConfig:
    model: str = "cnn3"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    recipe: str | None = None
    name: str | None = None  # run folder name; default <recipe or model>-<timestamp>
    out: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> ExperimentConfig:
        import torch

        from ..core.errors import CifarlabError
        from ..models.registry import create_model

        if "num_classes" in self.model_kwargs:
            raise ConfigError("num_classes is set by the data set's classes (10); drop --model-arg num_classes")
        try:
            with torch.device("meta"):  # shapes only: a bad name or option fails here, before any data is loaded
                create_model(self.model, **self.model_kwargs)
        except CifarlabError:
            raise
        except Exception:  # noqa: BLE001 - a user's model that cannot be built on 'meta': checked when built for real
            pass
        if self.name is not None:
            check_name(self.name)
        self.data.validate()
        self.train.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        d = dict(d)
        data = _build(DataConfig, d.pop("data", {}))
        train = _build(TrainConfig, d.pop("train", {}))
        return _build(cls, d, data=data, train=train)


def _build(cls, values: dict[str, Any], **extra):
    """Instantiate a config dataclass from a dict, ignoring keys that newer versions dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in values.items() if k in names}
    if "train_batches" in kwargs:
        kwargs["train_batches"] = tuple(kwargs["train_batches"])
    return cls(**kwargs, **extra)
