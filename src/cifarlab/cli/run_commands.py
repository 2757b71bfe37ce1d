"""The commands on finished runs: evaluate, robustness, predict, export, compare and report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import ConfigError


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..analysis.evaluation import evaluate_run, evaluate_weights

    if args.weights or args.model:
        if not (args.weights and args.model):
            raise ConfigError("--weights FILE needs --model NAME (and the other way round)")
        if args.run_dir:
            raise ConfigError("give either a RUN_DIR or --model with --weights, not both")
        result = evaluate_weights(
            args.model,
            args.weights,
            data=args.data,
            offline=bool(args.offline),
            tta=args.tta or "none",
            test_limit=args.test_limit,
        )
        print(f"{args.model} with {args.weights}")
        print(result.table())
        return 0
    if not args.run_dir:
        raise ConfigError("pass a RUN_DIR, or --model NAME --weights FILE")
    result = evaluate_run(
        args.run_dir, data=args.data, offline=bool(args.offline), tta=args.tta, test_limit=args.test_limit
    )
    print(result.table())
    print(f"expected calibration error {100 * result.ece():.2f}%")
    print(f"wrote evaluation.json, confusion.png, per_class.png, mistakes.png, reliability.png in {args.run_dir}")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from ..analysis.robustness import robustness_of_run

    result = robustness_of_run(
        args.run_dir,
        data=args.data,
        offline=bool(args.offline),
        corruptions=args.corruptions,
        severities=args.severities,
        corruptions_from=args.corruptions_from,
        shift=args.shift,
        images=args.images,
        seed=args.seed,
        tta=args.tta,
        batch_size=args.batch_size,
        amp=args.amp,
        progress=True,
    )
    print(result.table())
    print(f"wrote robustness.json, robustness_heatmap.png, robustness_severity.png in {args.run_dir}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from ..analysis.predict import predict_files
    from ..core.errors import printable
    from ..runs.store import load_run

    if args.topk <= 0:
        raise ConfigError(f"--topk must be a positive number, got {args.topk}")
    run = load_run(args.run_dir)
    results = predict_files(run, args.images, topk=args.topk)
    if not results:
        raise ConfigError("no images found in " + ", ".join(map(printable, args.images)))
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
    for r in results:  # names are printed with control characters escaped: a file name cannot forge a line
        if r.error:
            print(f"cifarlab: error: {printable(r.error)}", file=sys.stderr)
        elif not args.json:
            print(f"{printable(r.path)}: " + ", ".join(f"{printable(c)} {100 * p:.1f}%" for c, p in r.topk))
    return 1 if any(r.error for r in results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..analysis.export import export_run

    path = export_run(args.run_dir, args.format, args.out, force=args.force)
    print(path)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..analysis.compare import compare

    out = Path(args.out)
    _, table = compare(args.run_dirs, out, force=args.force)
    print(table, end="")
    print(f"wrote {out}, {out.with_suffix('.csv')}, {out.with_suffix('.md')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..analysis.report import write_report

    print(write_report(args.run_dir, data=args.data, offline=bool(args.offline)))
    return 0
