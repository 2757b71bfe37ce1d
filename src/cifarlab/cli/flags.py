"""The command line's flags: one parser per ``cifarlab`` command.

The flags that set a config field are named after it (``--batch-size`` sets ``batch_size``), which
is how app.py maps them onto the config in one place (``app._given``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from ..config.schema import DataConfig, TrainConfig, annotation
from ..core.errors import ConfigError


def add_data_flags(p) -> None:
    """--data and --offline, for every command that loads the data set."""
    for f in dataclasses.fields(DataConfig):
        if f.name in ("data", "offline"):
            _add_setting(p, f)


def _train_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a model; prints the run folder last",
        description="Train a recipe (default: fast); flags override the recipe's settings.",
    )
    _add_config_flags(p)
    s_ = p.add_argument_group("processes")
    s_.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="data-parallel training in N processes on this machine (launches torchrun)",
    )
    o = p.add_argument_group("run folder")
    o.add_argument("--name", help="run folder name (default: <recipe>-<time>)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    o.add_argument("--no-report", action="store_true", help="skip the evaluation report (report.html) at the end")
    o.add_argument("--tensorboard", action="store_true", help="also log per-epoch scalars for TensorBoard")
    r = p.add_argument_group("resume")
    r.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last completed epoch")
    r.add_argument(
        "--resume-from",
        choices=("last", "best"),
        default="last",
        help="checkpoint to resume from (best: when last.pt is damaged)",
    )
    r.add_argument("--override", action="store_true", help="accept settings that differ from the run's config")
    t = p.add_argument_group("from a tuning study")
    t.add_argument(
        "--from-study",
        metavar="STUDY",
        help="train with the best parameters of this 'cifarlab tune' study (other flags override them)",
    )
    t.add_argument("--storage", metavar="URL", help="the study's storage (default: sqlite file OUT/tune/STUDY.db)")
    return p


def _epochs(text: str) -> int | float:
    """--epochs: a whole number stays an int (as saved configs and run names show it), 4.5 a float."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number of epochs such as 4 or 4.5, got '{text}'")
    return int(value) if value.is_integer() else value


def _duration(text: str) -> float:
    from ..core.durations import parse_duration

    try:
        return parse_duration(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_setting(group, f: dataclasses.Field) -> None:
    """The flag of config field ``f``: named after it, typed by its annotation, with its help."""
    meta, kind = f.metadata, annotation(f)
    kwargs: dict = {"help": meta["help"]}
    if meta["choices"]:
        kwargs["help"] += ": " + ", ".join(meta["choices"])
    if meta["show_default"]:
        kwargs["help"] += f" (default {f.default})"
    if meta["metavar"]:
        kwargs["metavar"] = meta["metavar"]
    if kind == "bool":
        kwargs.update(action="store_true", default=None)  # None: not given, the recipe's value stays
    elif meta["parse"]:
        kwargs["type"] = _PARSERS[meta["parse"]]
    elif kind == "int | float":
        kwargs["type"] = _epochs
    elif kind.startswith(("int", "float")):
        kwargs["type"] = int if kind.startswith("int") else float
    group.add_argument("--" + f.name.replace("_", "-"), **kwargs)


# Settings with a parser of their own: a duration, and a list of batch files (parsed with the config's
# other rules, in data/splits.py, so that the CLI and the API read it alike)
_PARSERS = {"duration": _duration, "batches": str}


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """The flags that set an ExperimentConfig (shared by train and tune): one per config field with a
    flag, in groups, from the fields' metadata (config/schema.py); the model, its options and --out here."""
    p.add_argument("--recipe", help="named recipe (see 'cifarlab recipes')")
    p.add_argument("--model", help="registered model (see 'cifarlab models')")
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="model option, e.g. --model-arg width=0.5 (repeatable)",
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in [*dataclasses.fields(TrainConfig), *dataclasses.fields(DataConfig)]:
        if f.metadata.get("flag"):
            group = groups.get(f.metadata["group"]) or p.add_argument_group(f.metadata["group"])
            groups[f.metadata["group"]] = group
            _add_setting(group, f)
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="parent folder of run folders (default: runs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cifarlab", description="Train, evaluate and compare CIFAR-10 classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub)
    _tune_parser(sub)
    sub.add_parser("recipes", help="list the named recipes")
    sub.add_parser("models", help="list the registered models")
    _bench_parser(sub)
    _run_parsers(sub)
    return parser


def _tune_parser(sub) -> None:
    tp = sub.add_parser(
        "tune",
        help="hyperparameter search with Optuna (SQLite by default, or --storage URL)",
        description="Search a recipe's settings; the flags of 'train' fix the rest of the config.",
    )
    tg = tp.add_argument_group("search")
    tg.add_argument("--trials", type=int, default=20, help="trials this process runs (workers add up)")
    tg.add_argument(
        "--param",
        action="append",
        metavar="SPEC",
        help="searched setting: lr=1e-4..1e-1:log, epochs=2..8 (whole) or 3.5..5, batch_size=64,128,256 (repeatable; "
        "default: lr, weight_decay, batch_size around the recipe's values)",
    )
    tg.add_argument("--study", help="study name (default: the recipe's name)")
    tg.add_argument(
        "--storage",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql://user:pw@host/db (default: sqlite file OUT/tune/STUDY.db)",
    )
    tg.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    tg.add_argument(
        "--pruner",
        choices=("median", "none"),
        default="median",
        help="stop unpromising trials early (median of earlier trials' validation accuracy)",
    )
    tg.add_argument(
        "--sampler",
        choices=("tpe", "grid"),
        default="tpe",
        help="tpe: Optuna's default search; grid: every combination of the --param lists, each once "
        "(lists only, e.g. lr=0.05,0.1,0.2; --trials caps the number)",
    )
    tg.add_argument("--clean-pruned", action="store_true", help="delete the run folders of pruned trials")
    tg.add_argument(
        "--baseline",
        action="store_true",
        help="first train the searched settings as the recipe and flags set them, to compare the search with",
    )
    _add_config_flags(tp)
    tp.set_defaults(name=None)


def _bench_parser(sub) -> None:
    b = sub.add_parser("bench", help="throughput and time-to-accuracy benchmarks (bench.json + bench.md)")
    b.add_argument("--out", default="bench", metavar="DIR", help="where bench.json and bench.md go")
    b.add_argument("--throughput", action="store_true", help="train/eval images/s: ours vs the seed-style loop")
    b.add_argument("--models", metavar="LIST", help="comma-separated models (default: all registered)")
    b.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="option for every model measured, e.g. --model-arg 'widths=[128,384,384]' (repeatable)",
    )
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--steps", type=int, default=20, help="training steps per timed round")
    b.add_argument("--rounds", type=int, default=3, help="alternated rounds (mean ± std over them)")
    b.add_argument("--time-to", type=float, metavar="ACC", help="time to this test accuracy, e.g. 0.90")
    b.add_argument("--recipe", help="recipe for --time-to")
    b.add_argument("--seeds", type=int, help="seeds for --time-to (default 3) and --zoo (default 1)")
    b.add_argument(
        "--first-seed",
        type=int,
        default=0,
        metavar="N",
        help="seeds run from N (to split a --time-to benchmark over sessions)",
    )
    b.add_argument(
        "--zoo",
        action="store_true",
        help="train each model (--models, default all) by name within --time-budget; zoo.md, zoo.png",
    )
    b.add_argument("--time-budget", metavar="T", help="with --zoo: the budget per model, e.g. 10m")
    b.add_argument(
        "--baseline",
        action="store_true",
        help="with --zoo: also train each model with the textbook loop (baseline.py), at the same time",
    )
    b.add_argument("--threads", type=int, help="with --zoo: torch threads per run (with --baseline: 1 each)")
    b.add_argument("--device", default="auto")
    b.add_argument("--data", metavar="PATH", help="CIFAR-10 archive or folder")


def _run_parsers(sub) -> None:
    """The commands that take a finished run: compare, report, predict, export, evaluate."""
    cp = sub.add_parser("compare", help="overlay runs' curves and tabulate them")
    cp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cp.add_argument("--out", default="compare.png", metavar="FILE.png", help="figure (CSV and .md beside it)")
    cp.add_argument("--force", action="store_true", help="replace existing output files")
    rp = sub.add_parser("report", help="write RUN_DIR/report.html (self-contained)")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    add_data_flags(rp)
    pr = sub.add_parser("predict", help="top-k classes for image files (any size or mode)")
    pr.add_argument("run_dir", metavar="RUN_DIR")
    pr.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    pr.add_argument("--topk", type=int, default=3)
    pr.add_argument("--json", action="store_true", help="print JSON")
    ex = sub.add_parser("export", help="export a run's model to ONNX or TorchScript")
    ex.add_argument("run_dir", metavar="RUN_DIR")
    ex.add_argument("--format", required=True, help="onnx or torchscript")
    ex.add_argument("--out", metavar="FILE", help="output file (default: RUN_DIR/model.onnx or model.torchscript.pt)")
    ex.add_argument("--force", action="store_true", help="replace an existing output file")
    p = sub.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix")
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="a run folder (writes its report files there)")
    p.add_argument("--model", help="with --weights: the registered model the weights belong to")
    p.add_argument("--weights", metavar="FILE", help="a plain state_dict file (e.g. the notebook's .pth)")
    p.add_argument(
        "--tta",
        nargs="?",
        const="flip_translate",
        help="test-time views: none, flip, flip_translate (the flag alone: flip_translate; "
        "default: the run's own, as its summary's test accuracy)",
    )
    p.add_argument(
        "--test-limit",
        type=int,
        metavar="N",
        help="score the first N test images (default: the run's own, its --test-limit, else all 10,000)",
    )
    add_data_flags(p)
    r = sub.add_parser(
        "robustness",
        help="accuracy under the 15 CIFAR-10-C corruptions x 5 severities (and CIFAR-10.1 with --shift)",
    )
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument(
        "--corruptions", metavar="LIST", help="comma-separated subset, e.g. gaussian_noise,fog (default: all 15)"
    )
    r.add_argument("--severities", metavar="LIST", help="comma-separated subset of 1-5 (default: all)")
    r.add_argument(
        "--corruptions-from",
        metavar="PATH",
        help="the official CIFAR-10-C folder (<corruption>.npy, labels.npy) instead of generating the corruptions",
    )
    r.add_argument("--shift", metavar="PATH", help="CIFAR-10.1 v6 folder (cifar10.1_v6_data.npy, _labels.npy)")
    r.add_argument("--images", type=int, metavar="N", help="the first N test images of each set (default: all)")
    r.add_argument("--seed", type=int, default=0, help="seed of the generated corruptions (default 0)")
    r.add_argument("--tta", help="test-time views (default: the run's own, as its test accuracy)")
    r.add_argument("--batch-size", type=int, default=1000, help="evaluation batch size")
    r.add_argument(
        "--amp",
        default="off",
        help="off (fp32, the default, as 'cifarlab evaluate'), or auto/bf16: autocast as in training (faster)",
    )
    add_data_flags(r)
