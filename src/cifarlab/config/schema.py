"""Typed configuration: one source of defaults, validated, overridable from the CLI, saved with every run.

A run is fully described by an :class:`ExperimentConfig` (model + :class:`DataConfig` +
:class:`TrainConfig`); ``config.json`` in every run folder is ``asdict`` of it, and
:func:`ExperimentConfig.from_dict` reads it back, so any run can be rerun from its folder.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.errors import ConfigError, unknown_name

OPTIMIZERS = ("sgd", "adam", "adamw", "muon")
FLIPS = ("none", "random", "alternating")
TTA_MODES = ("none", "flip", "flip_translate")
AMP_MODES = ("auto", "off", "bf16", "fp16")
SWITCHES = ("auto", "on", "off")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
SELECT_ON = ("val", "test")
IMAGE_SIZE = 32  # CIFAR-10's side: bounds the augmentation sizes
MAX_NAME = 100  # characters in a run or study name (one folder name, with room for a '-2' suffix)
_NAME = re.compile(r"\w[\w.+=@,-]*")


def check_name(name: str, flag: str = "--name") -> str:
    """A run or study name is one folder name: no path separators, no leading '.' or '-', sane length."""
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME
        or len(name.encode()) > 2 * MAX_NAME
        or not _NAME.fullmatch(name)
    ):
        shown = name if not isinstance(name, str) or len(name) <= 40 else name[:40] + "..."
        raise ConfigError(
            f"{flag} {shown!r} is not a valid name: use one folder name of at most {MAX_NAME} letters, digits "
            "and . _ - + = @ , (starting with a letter or digit; no '/')"
        )
    return name


MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit number


def check_seed(flag: str, seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{flag} must be a whole number from 0 to 2**63-1, got {seed!r}")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's or taskset's share)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_image_limit(flag: str, n: int | None) -> None:
    """``--train-limit`` / ``--test-limit``: None (all images) or a positive count."""
    if n is not None and n <= 0:
        raise ConfigError(f"{flag} must be a positive number of images, got {n}")


@dataclass
class DataConfig:
    data: str | None = None  # archive or folder; None: $CIFARLAB_DATA, then the cache, then download
    offline: bool = False  # never download
    train_batches: tuple[int, ...] = (1, 2, 3, 4, 5)  # which data_batch_k files to train on
    train_limit: int | None = None  # keep only the first N selected training images
    test_limit: int | None = None  # test on the first N test images only (quick checks; the accuracy is on N)
    val_size: int = 5000  # stratified validation images held out of the training images (0: none)
    split_seed: int = 0  # seed of the validation split (fixed across training seeds on purpose)

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
    epochs: int | float = 20  # a fraction trains part of a last epoch (e.g. 4.5: 4 epochs, then half of one)
    lr: float = 0.1
    optimizer: str = "sgd"  # sgd | adam | adamw | muon (Muon on conv filters, SGD on the rest)
    momentum: float = 0.0  # sgd and muon's SGD part; the notebook's SGD had none
    nesterov: bool = False
    muon_lr: float = 0.24  # muon: step size on the conv filters (airbench94_muon's, at batch 2000)
    muon_momentum: float = 0.6  # muon: Nesterov momentum on the conv filters
    weight_decay: float = 0.0
    batch_size: int = 256
    eval_batch_size: int = 1000
    patience: int = -1  # stop after this many epochs without improvement; <= 0: never stop early
    min_delta: float = 0.001  # the notebook's rule: an improvement must beat the best by more than this
    select_on: str = "val"  # watched accuracy for early stopping / best weights: val | test (notebook)
    restore_best: bool = True  # end the run with the weights of the best epoch
    schedule: str = "constant"  # constant | step | cosine | onecycle
    warmup_epochs: float = 0.0  # linear warm-up from 0, before the schedule
    step_size: int = 30  # 'step' schedule: epochs between decays
    gamma: float = 0.1  # 'step' schedule: decay factor
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto (cuda, mps, cpu) | cpu | cuda | cuda:1 | mps
    # Parameter groups: BatchNorm parameters may learn faster (fast CIFAR nets train their BN biases at
    # a much higher LR); their weight decay is divided by the same factor so the decay step is unchanged.
    bn_lr_scale: float = 1.0
    lookahead: bool = False  # airbench-style lookahead: every 5 steps pull weights towards their EMA
    # Batched augmentation on the training device (cifarlab.data.augment)
    translate: int = 0  # random translation by up to this many pixels (reflect-padded crop)
    flip: str = "none"  # none | random | alternating
    cutout: int = 0  # side of a zeroed square per image; 0: off
    crop: int = 0  # train on random crops of this side (evaluation sees full images); 0: off
    # Progressive resizing: the first crop_until of the training steps on `crop` crops, the rest on full
    # images (cheaper early steps at the objects' own scale); 1.0: every step on crops
    crop_until: float = 1.0
    # Selective backprop (training/hard_examples.py): train on this share of each batch, the examples a small proxy
    # network finds hardest (airbench96_faster's idea); 1.0: every example
    keep_hard: float = 1.0
    # The proxy's size: airbench96_faster's widths 32/64/64 times proxy_width, and its whitening stem's
    # stride (2: non-overlapping patches, 16x16 maps, ~4x fewer FLOPs). Defaults: airbench96_faster's proxy.
    proxy_width: float = 1.0
    proxy_stride: int = 1
    proxy_every: int = 4  # the proxy learns on every Nth batch (airbench96_faster: 4); it ranks every batch
    augmix: bool = False  # AugMix mixing of augmentation chains, for corruption robustness (augmix.py)
    augmix_jsd: float = 0.0  # > 0: AugMix's consistency loss with this weight (3 views per image); needs augmix
    # Evaluation
    tta: str = "none"  # test-time augmentation: none | flip | flip_translate (6 views)
    eval_from: int = 1  # first epoch evaluated on val/test (the last epoch always is)
    target_acc: float | None = None  # stop the first time test accuracy reaches this
    time_budget: float | None = None  # seconds: measure this machine, then train the epochs that fit (budget.py)
    # Speed
    amp: str = "auto"  # auto | off | bf16 | fp16 (auto: bf16 on CPU with AVX512-BF16/AMX and on CUDA)
    channels_last: str = "auto"  # auto (on for conv nets) | on | off
    compile: bool = False  # torch.compile the model
    threads: int = 0  # torch intra-op threads; 0: torch's default (one per physical core)
    # Distributed (torchrun): batch_size is the global batch, split over the ranks
    sync_bn: bool = False  # SyncBatchNorm over ranks (CUDA only); off: each rank normalises its share
    # Seconds a collective waits for the other ranks once training has started: a rank that stopped
    # responding ends the run after this long (setup, where rank 0 may download, waits 30 minutes)
    dist_timeout: float = 120.0

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
            raise ConfigError(f"eval_batch_size must be a positive number, got {self.eval_batch_size}")
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


def setting_names() -> list[str]:
    """Every field a user sets by name (``epochs``, ``val_size``, ``out``, ...); the CLI's flags are
    named after them. The model and its options, and the recipe, are chosen separately (config/recipes.py)."""
    top = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in ("model", "model_kwargs", "recipe")]
    nested = [f.name for cls in (DataConfig, TrainConfig) for f in dataclasses.fields(cls)]
    return [n for n in top if n not in ("data", "train")] + nested


def warmup_for(epochs: float, share: float) -> float:
    """A warm-up of ``share`` of ``epochs``, rounded to 12 places, so that a recipe's own warm-up and
    the one an ``--epochs`` override rescales it to are equal numbers (0.2 * 23 alone is 4.6000000000000005)."""
    return round(share * epochs, 12)


def apply_overrides(config: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """Set fields by name: top-level, ``data.<field>``/``train.<field>``, or a bare field of either.

    A new ``epochs`` carries two settings along unless they are given too. A warm-up is a share of
    the training, so ``warmup_epochs`` scales with it (fast94's 8 warm-up epochs would otherwise
    outlast a 2-epoch trial, whose LR would then never decay). ``eval_from`` keeps the same number
    of evaluated epochs at the end (a recipe that evaluates its last epoch only still does).
    """
    new_epochs = overrides.get("epochs", overrides.get("train.epochs"))
    given = set(overrides)
    old = config.train
    if new_epochs and old.warmup_epochs > 0 and not {"warmup_epochs", "train.warmup_epochs"} & given:
        overrides = {**overrides, "warmup_epochs": warmup_for(new_epochs, old.warmup_epochs / old.epochs)}
    if new_epochs and old.eval_from > 1 and not {"eval_from", "train.eval_from"} & given:
        # counted in whole epochs: 4.5 epochs end with epoch 5
        shift = math.ceil(new_epochs) - math.ceil(old.epochs)
        overrides = {**overrides, "eval_from": max(1, old.eval_from + shift)}
    for key, value in overrides.items():
        setattr(*_holder(config, key), value)
    return config


def get_setting(config: ExperimentConfig, key: str) -> Any:
    """The value of the setting that ``apply_overrides`` sets for ``key``."""
    return getattr(*_holder(config, key))


def _holder(config: ExperimentConfig, key: str) -> tuple[Any, str]:
    """(the object that holds setting ``key``, its field name): ``data.<field>``/``train.<field>``,
    a bare field of either, or a top-level field."""
    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    top_fields = {f.name for f in dataclasses.fields(ExperimentConfig)} - {"data", "train"}
    section, _, name = key.rpartition(".")
    if section in ("data", "") and name in data_fields:
        return config.data, name
    if section in ("train", "") and name in train_fields:
        return config.train, name
    if not section and name in top_fields:
        return config, name
    raise unknown_name("setting", key, sorted(data_fields | train_fields | top_fields))
