"""The ``cifarlab`` command: a thin layer over the library.

Each subcommand parses flags, calls one library function and prints its result. Errors a user can
cause come back as one ``cifarlab: error: ...`` line and a non-zero exit status, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import CifarlabError, ConfigError, Terminated, install_cli_warning_format, os_error_line
from .flags import build_parser
from .run_commands import cmd_compare, cmd_evaluate, cmd_export, cmd_predict, cmd_report, cmd_robustness


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, by config field name: each flag that sets a field is
    named after it (--batch-size sets batch_size), so this one mapping serves train, tune and resume."""
    from ..config.overrides import setting_names
    from ..data.splits import parse_train_batches

    given = {name: getattr(args, name) for name in setting_names() if getattr(args, name, None) is not None}
    if getattr(args, "train_batches", None) is not None:
        given["train_batches"] = parse_train_batches(args.train_batches)
    return given


def config_from_args(args: argparse.Namespace, tuning: bool = False):
    """The recipe's config with every given flag applied on top (the rules: config/recipes.py)."""
    from ..config.recipes import resolve

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

    from ..config.resume import resume as resolve
    from ..core.errors import RunError
    from ..runs.store import read_config
    from ..training.checkpoint import load_checkpoint

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
    from ..experiment import run_experiment
    from ..training import distributed

    if args.nproc is not None and not distributed.launched_by_torchrun():
        if args.nproc < 1:
            raise ConfigError(f"--nproc must be 1 or more processes, got {args.nproc}")
        if args.nproc > 1:
            # Bad flags fail here, once, instead of in every process.
            config = config_from_args(args) if not args.resume else resume_config(args)[0]
            from ..core.host import resolve_device

            distributed.check_sync_bn(config.train.sync_bn, resolve_device(config.train.device))
            return distributed.launch(args.nproc, _without_nproc(args.argv))
    resume = None
    if args.from_study:
        from ..tools.tune import config_from_study

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
    from ..tools.search_space import parse_param
    from ..tools.tune import tune

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
        sampler=args.sampler,
        baseline=args.baseline,
    )
    print(
        f"study {result.study} ({result.storage}): {result.trials} trials, {result.completed} completed, "
        f"{result.pruned} pruned, {result.failed} failed, {result.running} running"
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
    from ..config.recipes import DEFAULT_RECIPE, RECIPES

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

    from ..config.recipes import default_recipe
    from ..models.registry import count_parameters, create_model, forward_flops, list_models, model_info

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


def cmd_bench(args: argparse.Namespace) -> int:
    from ..models.registry import create_model, list_models
    from ..tools import bench

    if args.zoo:
        from ..core.durations import parse_duration
        from ..models.registry import list_models
        from ..tools import zoobench

        if args.throughput or args.time_to:
            raise ConfigError("--zoo is a benchmark of its own; run --throughput or --time-to separately")
        if not args.time_budget:
            raise ConfigError("--zoo needs --time-budget, e.g. --time-budget 10m")
        models = args.models.split(",") if args.models else list_models()
        if args.threads is not None and args.threads < 1:
            raise ConfigError(f"--threads must be 1 or more, got {args.threads}")
        if args.seeds is not None and args.seeds < 1:
            raise ConfigError(f"--seeds must be 1 or more, got {args.seeds}")
        seeds = range(args.first_seed, args.first_seed + (args.seeds or 1))
        out = zoobench.run(
            models,
            parse_duration(args.time_budget),
            args.out,
            data=args.data,
            seeds=seeds,
            baseline=args.baseline,
            threads=args.threads or 0,
        )
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
        seeds = args.seeds or 3
        report["time_to"] = bench.time_to(args.time_to, args.recipe, seeds, overrides, first_seed=args.first_seed)
    out = bench.write_report(args.out, report)
    print(bench.markdown(report))
    print(out / "bench.json")
    return 0


COMMANDS = {
    "train": cmd_train,
    "tune": cmd_tune,
    "recipes": cmd_recipes,
    "models": cmd_models,
    "bench": cmd_bench,
    "compare": cmd_compare,
    "report": cmd_report,
    "predict": cmd_predict,
    "export": cmd_export,
    "evaluate": cmd_evaluate,
    "robustness": cmd_robustness,
}


_ending: list[bool] = []  # set once main() is answering: a late SIGTERM then no longer raises a traceback


def _raise_terminated(signum, frame) -> None:  # noqa: ARG001
    if not _ending:
        raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    install_cli_warning_format()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    handles_sigterm = threading.current_thread() is threading.main_thread()  # signals go to the main thread
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if handles_sigterm else None
    _ending.clear()
    try:
        return COMMANDS[args.command](args)
    except CifarlabError as e:
        _ending.append(True)
        print(f"cifarlab: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        _ending.append(True)
        print("cifarlab: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        _ending.append(True)
        print("cifarlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cifarlab models | head`: the reader left; not an error of ours
        _ending.append(True)
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a filesystem fault (disk full, read-only, no permission): the user's to fix
        _ending.append(True)
        print(f"cifarlab: error: {os_error_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:
        _ending.append(True)
        from ..training.distributed import launched_by_torchrun

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
        _ending.append(True)
        if handles_sigterm:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        dist_module = sys.modules.get("cifarlab.training.distributed")
        if dist_module is not None:
            dist_module.cleanup()  # leave the torchrun process group cleanly


if __name__ == "__main__":
    sys.exit(main())
