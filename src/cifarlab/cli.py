"""The ``cifarlab`` command: a thin layer over the library.

Each subcommand parses flags, calls one library function and prints its result. Errors a user can
cause come back as one ``cifarlab: error: ...`` line and a non-zero exit status, without a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .errors import CifarlabError, ConfigError, Terminated, install_cli_warning_format


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", metavar="PATH", help="CIFAR-10 archive or folder (default: $CIFARLAB_DATA, cache, download)"
    )
    p.add_argument("--offline", action="store_true", default=None, help="never download the data set")


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
    from .budget import parse_duration

    try:
        return parse_duration(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """The flags that set an ExperimentConfig (shared by train and tune)."""
    p.add_argument("--recipe", help="named recipe (see 'cifarlab recipes')")
    p.add_argument("--model", help="registered model (see 'cifarlab models')")
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="model option, e.g. --model-arg width=0.5 (repeatable)",
    )
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=_epochs, help="epochs to train; a fraction ends with part of an epoch (4.5)")
    g.add_argument("--lr", type=float, help="base learning rate")
    g.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)}")
    g.add_argument("--momentum", type=float, help="SGD momentum")
    g.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum (SGD)")
    g.add_argument(
        "--muon-lr", type=float, help=f"--optimizer muon: step size on the conv filters (default {TrainConfig.muon_lr})"
    )
    g.add_argument(
        "--muon-momentum",
        type=float,
        help=f"--optimizer muon: momentum on the conv filters (default {TrainConfig.muon_momentum})",
    )
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--patience", type=int, help="early-stopping patience in epochs (<= 0: off)")
    g.add_argument("--schedule", help=f"LR schedule: {', '.join(SCHEDULES)}")
    g.add_argument(
        "--warmup-epochs",
        type=float,
        help="linear LR warm-up length in epochs (a recipe's warm-up "
        "is a share of its epochs: it scales with --epochs unless this flag is given)",
    )
    g.add_argument("--label-smoothing", type=float)
    g.add_argument(
        "--select-on",
        help="accuracy watched for early stopping and best weights: val (default) "
        "or test (the notebook's protocol; then --val-size defaults to 0)",
    )
    g.add_argument("--bn-lr-scale", type=float, help="LR multiplier for BatchNorm parameters")
    g.add_argument("--lookahead", action="store_true", default=None, help="lookahead weight averaging")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N, mps")
    a = p.add_argument_group("augmentation and evaluation")
    a.add_argument("--translate", type=int, metavar="PX", help="random translation by up to PX pixels")
    a.add_argument("--flip", help="none, random or alternating horizontal flips")
    a.add_argument("--cutout", type=int, metavar="PX", help="zero a PX x PX square per image")
    a.add_argument("--crop", type=int, metavar="PX", help="train on random PX x PX crops (0: full images)")
    a.add_argument("--tta", help="test-time augmentation: none, flip, flip_translate")
    a.add_argument("--eval-from", type=int, metavar="EPOCH", help="skip evaluation before this epoch")
    a.add_argument(
        "--time-budget",
        type=_duration,
        metavar="T",
        help="train what fits in T (10m, 90s, 1h30m) on this machine: measures a few steps first, then sets --epochs",
    )
    a.add_argument(
        "--target-acc",
        type=float,
        metavar="ACC",
        help="stop when test accuracy reaches ACC (e.g. 0.90); records seconds_to_target",
    )
    s_ = p.add_argument_group("speed")
    s_.add_argument("--amp", help="mixed precision: auto, off, bf16, fp16")
    s_.add_argument("--channels-last", help="auto, on, off")
    s_.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    s_.add_argument("--threads", type=int, help="torch intra-op threads (0: default)")
    s_.add_argument(
        "--sync-bn",
        action="store_true",
        default=None,
        help="with several processes: BatchNorm statistics over all of them (CUDA only)",
    )
    d = p.add_argument_group("data")
    _add_data_flags(d)
    d.add_argument("--train-batches", metavar="LIST", help="data_batch files to train on, e.g. 1 or 1,2 or 1-3")
    d.add_argument("--train-limit", type=int, metavar="N", help="train on the first N selected images only")
    d.add_argument("--val-size", type=int, metavar="N", help="validation images held out (default 5000; 0: none)")
    d.add_argument("--split-seed", type=int, help="seed of the validation split")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="parent folder of run folders (default: runs)")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, by config field name: each flag that sets a field is
    named after it (--batch-size sets batch_size), so this one mapping serves train, tune and resume."""
    from .config import setting_names
    from .data import parse_train_batches

    given = {name: getattr(args, name) for name in setting_names() if getattr(args, name, None) is not None}
    if getattr(args, "train_batches", None) is not None:
        given["train_batches"] = parse_train_batches(args.train_batches)
    return given


def config_from_args(args: argparse.Namespace, tuning: bool = False):
    """The recipe's config with every given flag applied on top (the rules: resolve.py)."""
    from .resolve import resolve

    kwargs = parse_key_values(args.model_arg, "--model-arg") if args.model_arg else None
    return resolve(args.recipe, args.model, kwargs, _given(args), tuning=tuning)


def parse_key_values(items: Sequence[str], flag: str) -> dict[str, Any]:
    """``["width=0.5", "name=x"]`` -> ``{"width": 0.5, "name": "x"}`` (numbers and booleans parsed)."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE, got '{item}'")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def resume_config(args: argparse.Namespace):
    """The run's saved config with the given flags applied; refuse differences unless --override."""

    from .checkpoint import load_checkpoint
    from .errors import RunError
    from .resolve import resume as resolve
    from .runs import read_config

    run_dir = Path(args.resume)
    if not (run_dir / "config.json").is_file():
        raise RunError(f"{run_dir} is not a run folder (no config.json); pass the folder 'cifarlab train' printed")
    if args.recipe:
        raise ConfigError("--resume continues a run with its own config; drop --recipe")
    if args.model or args.model_arg:
        raise ConfigError("--resume continues a run with its own model; drop --model and --model-arg")
    config = resolve(read_config(run_dir / "config.json"), _given(args), allow_changes=args.override)
    checkpoint = load_checkpoint(run_dir / f"{args.resume_from}.pt")
    return config, run_dir, checkpoint


def _without_nproc(argv: Sequence[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from . import distributed
    from .experiment import run_experiment

    if args.nproc is not None and not distributed.launched_by_torchrun():
        if args.nproc < 1:
            raise ConfigError(f"--nproc must be 1 or more processes, got {args.nproc}")
        if args.nproc > 1:
            # Bad flags fail here, once, instead of in every process.
            config = config_from_args(args) if not args.resume else resume_config(args)[0]
            from .speed import resolve_device

            distributed.check_sync_bn(config.train.sync_bn, resolve_device(config.train.device))
            return distributed.launch(args.nproc, _without_nproc(args.argv))
    resume = None
    if args.from_study:
        from .tune import config_from_study

        if args.resume:
            raise ConfigError("--from-study starts a new run; it cannot be combined with --resume")
        kwargs = parse_key_values(args.model_arg, "--model-arg") if args.model_arg else None
        config = config_from_study(
            args.from_study,
            storage=args.storage,
            out=args.out or "runs",
            recipe=args.recipe,
            model=args.model,
            model_kwargs=kwargs,
            overrides=_given(args),
        )
    elif args.resume:
        config, run_dir, checkpoint = resume_config(args)
        print(f"resuming {run_dir} after epoch {checkpoint['epoch']} ({args.resume_from}.pt)")
        resume = (run_dir, checkpoint)
    else:
        config = config_from_args(args)
    run = run_experiment(
        config, resume=resume, progress=not args.no_progress, report=not args.no_report, tensorboard=args.tensorboard
    )
    if not distributed.is_main():
        return 0  # rank 0 reports
    s = run.summary
    print(
        f"done: best epoch {s['best_epoch']} of {s['epochs_run']} (selected on {s['selected_on']}); "
        f"test accuracy {100 * s['test_acc']:.2f}%; {s['wall_seconds']:.0f}s"
    )
    if "time_budget" in s:
        b = s["time_budget"]
        used = b["probe_s"] + s["wall_seconds"]
        print(
            f"time budget: {used:.0f}s used of {b['budget_s']:.0f}s ({100 * used / b['budget_s']:.0f}%; "
            f"planned {b['planned_s'] + b['probe_s']:.0f}s)"
        )
    print(run.path)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from .tune import parse_param, tune

    space = [parse_param(spec) for spec in args.param or []]
    names = [p.name for p in space]
    if len(set(names)) != len(names):
        raise ConfigError(f"--param names must differ; got {', '.join(names)}")
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError(f"--timeout is a positive number of seconds, got {args.timeout}")
    config = config_from_args(args, tuning=True)
    result = tune(
        config,
        space=space or None,
        trials=args.trials,
        study=args.study,
        storage=args.storage,
        timeout=args.timeout,
        clean_pruned=args.clean_pruned,
        pruner=args.pruner,
    )
    print(
        f"study {result.study} ({result.storage}): {result.trials} trials, {result.completed} completed, "
        f"{result.pruned} pruned"
    )
    if result.best_params is not None:
        print(
            f"best: trial {result.best_trial}, validation accuracy {100 * result.best_value:.2f}%, "
            f"params {result.best_params}"
        )
        print(
            f"retrain on all the data: cifarlab train --from-study {result.study}"
            + (f" --storage {args.storage}" if args.storage else "")
            + (f" --out {args.out}" if args.out else "")
        )
    print(result.folder)
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from .recipes import DEFAULT_RECIPE, RECIPES

    for r in RECIPES.values():
        cfg = r.config()
        t = cfg.train
        mark = " (default)" if r.name == DEFAULT_RECIPE else ""
        print(f"{r.name}{mark}\n    {r.description}")
        batches = ",".join(map(str, cfg.data.train_batches))
        print(
            f"    model={cfg.model} optimizer={t.optimizer} lr={t.lr:g} weight_decay={t.weight_decay:g} "
            f"batch_size={t.batch_size} epochs={t.epochs} patience={t.patience} schedule={t.schedule} "
            f"train_batches={batches}"
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import torch

    from .models import count_parameters, create_model, forward_flops, list_models, model_info
    from .recipes import default_recipe

    print(f"{'name':<16} {'family':<13} {'parameters':>12} {'MFLOPs/image':>13}  {'recipe':<15} published (source)")
    for name in list_models():
        with torch.device("meta"):  # shapes only: counting a 36M-parameter net allocates nothing
            m = create_model(name)
        info = model_info(name)
        print(
            f"{name:<16} {info.family:<13} {count_parameters(m):>12,} {forward_flops(m) / 1e6:>13.2f}  "
            f"{default_recipe(name):<15} {info.published or '-'}"
        )
        print(f"{'':<16} {info.description}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_run, evaluate_weights

    if args.weights or args.model:
        if not (args.weights and args.model):
            raise ConfigError("--weights FILE needs --model NAME (and the other way round)")
        if args.run_dir:
            raise ConfigError("give either a RUN_DIR or --model with --weights, not both")
        result = evaluate_weights(
            args.model, args.weights, data=args.data, offline=bool(args.offline), tta=args.tta or "none"
        )
        print(f"{args.model} with {args.weights}")
        print(result.table())
        return 0
    if not args.run_dir:
        raise ConfigError("pass a RUN_DIR, or --model NAME --weights FILE")
    result = evaluate_run(args.run_dir, data=args.data, offline=bool(args.offline), tta=args.tta)
    print(result.table())
    print(f"expected calibration error {100 * result.ece():.2f}%")
    print(f"wrote evaluation.json, confusion.png, per_class.png, mistakes.png, reliability.png in {args.run_dir}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .models import create_model, list_models

    if args.zoo:
        from . import zoobench
        from .budget import parse_duration
        from .models import list_models

        if args.throughput or args.time_to:
            raise ConfigError("--zoo is a benchmark of its own; run --throughput or --time-to separately")
        if not args.time_budget:
            raise ConfigError("--zoo needs --time-budget, e.g. --time-budget 10m")
        models = args.models.split(",") if args.models else list_models()
        out = zoobench.run(models, parse_duration(args.time_budget), args.out, data=args.data, seed=args.first_seed)
        print((out / "zoo.md").read_text(), end="")
        print(out / "zoo.json")
        return 0
    if not (args.throughput or args.time_to):
        raise ConfigError("say what to measure: --throughput, --time-to ACC --recipe NAME, or --zoo --time-budget T")
    report = bench.environment(args.device)
    if args.throughput:
        models = args.models.split(",") if args.models else list_models()
        kwargs = parse_key_values(args.model_arg or [], "--model-arg")
        for m in models:
            create_model(m, **kwargs)  # unknown names and options fail before any measuring
        report["throughput"] = bench.throughput(
            models, args.batch_size, args.steps, args.rounds, args.device, model_kwargs=kwargs
        )
    if args.time_to:
        if not args.recipe:
            raise ConfigError("--time-to needs --recipe NAME (see 'cifarlab recipes')")
        overrides = {"out": str(Path(args.out) / "runs"), "device": args.device}
        if args.data:
            overrides["data"] = args.data
        report["time_to"] = bench.time_to(args.time_to, args.recipe, args.seeds, overrides, first_seed=args.first_seed)
    out = bench.write_report(args.out, report)
    print(bench.markdown(report))
    print(out / "bench.json")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from .predict import predict_files
    from .runs import load_run

    if args.topk <= 0:
        raise ConfigError(f"--topk must be a positive number, got {args.topk}")
    run = load_run(args.run_dir)
    results = predict_files(run, args.images, topk=args.topk)
    if not results:
        raise ConfigError("no images found in " + ", ".join(args.images))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "path": r.path,
                        "error": r.error,
                        "topk": [{"class": c, "prob": p} for c, p in r.topk] if r.topk else None,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    for r in results:
        if r.error:
            print(f"cifarlab: error: {r.error}", file=sys.stderr)
        elif not args.json:
            print(f"{r.path}: " + ", ".join(f"{c} {100 * p:.1f}%" for c, p in r.topk))
    return 1 if any(r.error for r in results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_run

    path = export_run(args.run_dir, args.format, args.out, force=args.force)
    print(path)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare

    out = Path(args.out)
    _, table = compare(args.run_dirs, out, force=args.force)
    print(table, end="")
    print(f"wrote {out}, {out.with_suffix('.csv')}, {out.with_suffix('.md')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(write_report(args.run_dir, data=args.data, offline=bool(args.offline)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cifarlab", description="Train, evaluate and compare CIFAR-10 classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub).set_defaults(func=cmd_train)
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
    tg.add_argument("--clean-pruned", action="store_true", help="delete the run folders of pruned trials")
    _add_config_flags(tp)
    tp.set_defaults(func=cmd_tune, name=None)
    sub.add_parser("recipes", help="list the named recipes").set_defaults(func=cmd_recipes)
    sub.add_parser("models", help="list the registered models").set_defaults(func=cmd_models)
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
    b.add_argument("--seeds", type=int, default=3, help="seeds for --time-to")
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
    b.add_argument("--device", default="auto")
    b.add_argument("--data", metavar="PATH", help="CIFAR-10 archive or folder")
    b.set_defaults(func=cmd_bench)
    cp = sub.add_parser("compare", help="overlay runs' curves and tabulate them")
    cp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cp.add_argument("--out", default="compare.png", metavar="FILE.png", help="figure (CSV and .md beside it)")
    cp.add_argument("--force", action="store_true", help="replace existing output files")
    cp.set_defaults(func=cmd_compare)
    rp = sub.add_parser("report", help="write RUN_DIR/report.html (self-contained)")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    _add_data_flags(rp)
    rp.set_defaults(func=cmd_report)
    pr = sub.add_parser("predict", help="top-k classes for image files (any size or mode)")
    pr.add_argument("run_dir", metavar="RUN_DIR")
    pr.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    pr.add_argument("--topk", type=int, default=3)
    pr.add_argument("--json", action="store_true", help="print JSON")
    pr.set_defaults(func=cmd_predict)
    ex = sub.add_parser("export", help="export a run's model to ONNX or TorchScript")
    ex.add_argument("run_dir", metavar="RUN_DIR")
    ex.add_argument("--format", required=True, help="onnx or torchscript")
    ex.add_argument("--out", metavar="FILE", help="output file (default: RUN_DIR/model.onnx or model.torchscript.pt)")
    ex.add_argument("--force", action="store_true", help="replace an existing output file")
    ex.set_defaults(func=cmd_export)
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
    _add_data_flags(p)
    p.set_defaults(func=cmd_evaluate)
    return parser


def _raise_terminated(signum, frame) -> None:  # noqa: ARG001
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    install_cli_warning_format()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    handles_sigterm = threading.current_thread() is threading.main_thread()  # signals go to the main thread
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if handles_sigterm else None
    try:
        return args.func(args)
    except CifarlabError as e:
        print(f"cifarlab: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print("cifarlab: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("cifarlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cifarlab models | head`: the reader left; not an error of ours
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        from .distributed import launched_by_torchrun

        if not launched_by_torchrun():
            raise  # a bug: keep the traceback
        # One process of a torchrun group: a peer that died makes the collectives fail here. One line
        # per process; the launcher (or `cifarlab train --nproc`) reports the failure.
        print(
            f"cifarlab: rank {os.environ.get('RANK')}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            file=sys.stderr,
        )
        return 1
    finally:
        if handles_sigterm:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        dist_module = sys.modules.get("cifarlab.distributed")
        if dist_module is not None:
            dist_module.cleanup()  # leave the torchrun process group cleanly


if __name__ == "__main__":
    sys.exit(main())
