"""Issue 21, part 3: airbench94_muon beside cifarlab on one GPU and one copy of the data.

airbench's published script is never part of this repository. Keep a copy in the ignored folder
``bench/airbench/airbench94_muon.py`` (from github.com/KellerJordan/cifar10-airbench) and carry it to
the lent machine; ``scripts/gpu_airbench.sh`` runs it there. This helper does the two jobs around it:

    python3 scripts/airbench_side.py prepare BATCHES_DIR DEST   # DEST/train.pt, DEST/test.pt
    python3 scripts/airbench_side.py parse LOG [--targets 0.827 0.90]   # JSON on stdout

``prepare`` writes the files airbench's loader reads before it would download anything: a dict of
``images`` (uint8, N x 32 x 32 x 3), ``labels`` (int64) and ``classes``, read from the same batches
cifarlab trains on (through its validating loader; run with ``src`` on PYTHONPATH), so both sides see
the same pixels.

``parse`` reads airbench's printed table. airbench's clock (its ``time_seconds`` column) covers the
whitening layer's set-up, the training steps and the final 6-view evaluation; it leaves out the
per-epoch plain evaluations it prints, the data loading and its compile warm-up run. Per run this gives
the final TTA accuracy and time, and for each target the first time it is known to be reached: the end
of the first epoch whose plain accuracy reaches it (the evaluation that shows it is outside airbench's
clock), else the final row's time if the TTA accuracy does, else null.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def prepare(batches: Path, dest: Path) -> None:
    """airbench's ``train.pt``/``test.pt`` in ``dest``, read through cifarlab's validated loader."""
    import torch

    from cifarlab.data.cifar import load_cifar10

    arrays = load_cifar10(batches, offline=True, progress=False)
    dest.mkdir(parents=True, exist_ok=True)
    for split, x, y in (("train", arrays.train_x, arrays.train_y), ("test", arrays.test_x, arrays.test_y)):
        images = x.permute(0, 2, 3, 1).contiguous()  # NCHW planes -> NHWC, as torchvision's CIFAR10.data
        torch.save({"images": images, "labels": y.clone(), "classes": list(arrays.classes)}, dest / f"{split}.pt")
        print(f"{dest / f'{split}.pt'}: {tuple(images.shape)} images")


_ROW = re.compile(r"^\|(.*)\|\s*$")


def parse(text: str, targets: list[float]) -> dict:
    """airbench's table -> per-run accuracy and times to ``targets`` (see the module's docstring)."""
    runs: list[dict] = []
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        cells = [c.strip() for c in m.group(1).split("|")]
        if len(cells) != 6 or cells[0] == "run":
            continue
        run, epoch, _train_acc, val_acc, tta_val_acc, seconds = cells
        if run:  # the run number is printed on its first row only
            runs.append({"run": run, "epochs": []})
        if not runs:
            continue
        if epoch == "eval":
            runs[-1].update(tta_acc=float(tta_val_acc), seconds=float(seconds))
        else:
            runs[-1]["epochs"].append((int(epoch), float(val_acc), float(seconds)))
    timed = [r for r in runs if r["run"] != "warmup" and "tta_acc" in r]
    for r in timed:
        r["seconds_to"] = {}
        for t in targets:
            hit = next((s for _, acc, s in r["epochs"] if acc >= t), None)
            r["seconds_to"][str(t)] = hit if hit is not None else (r["seconds"] if r["tta_acc"] >= t else None)
    return {
        "clock": "airbench's own: whitening set-up + training steps + final TTA evaluation; per-epoch plain "
        "evaluations, data loading and the compile warm-up run are outside it",
        "runs": [
            {"run": r["run"], "tta_acc": r["tta_acc"], "seconds": r["seconds"], "seconds_to": r["seconds_to"]}
            for r in timed
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("batches", type=Path)
    p.add_argument("dest", type=Path)
    q = sub.add_parser("parse")
    q.add_argument("log", type=Path)
    q.add_argument("--targets", type=float, nargs="+", default=[0.827, 0.90])
    args = ap.parse_args()
    if args.cmd == "prepare":
        prepare(args.batches, args.dest)
    else:
        json.dump(parse(args.log.read_text(), args.targets), sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
