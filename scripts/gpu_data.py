"""Carry CIFAR-10 to a machine that takes at most 64 MiB per transfer and reaches no network.

The gzip archive is 174 MB: three transfers. Tiles of 1,000 images as lossless WebP are ~89 MB in
all (WebP's lossless predictors do far better than gzip on photos), so two parts of ~45 MB each.

    python scripts/gpu_data.py pack ARCHIVE OUTDIR [--parts 2]   # here: OUTDIR/part0, OUTDIR/part1, ...
    python3 scripts/gpu_data.py unpack DEST PARTDIR...            # there: DEST/cifar-10-batches-py

``unpack`` rebuilds the pickled batches (``b'data'``, ``b'labels'``, ``b'batch_label'``) and checks
every batch's pixels against the sha256 recorded at packing, so the figures measured there are on
exactly the images used here. Needs numpy and Pillow only (a GPU image has both; cifarlab is not
imported).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import pickle
import sys
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
TILE, COLS = 1000, 40  # images per tile; a tile is 40 x 25 images (1280 x 800 pixels)


def _encode(flat: np.ndarray) -> bytes:
    """uint8 (TILE, 3072) rows of R, G, B planes -> one lossless WebP of the images side by side."""
    img = flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # NHWC
    grid = img.reshape(-1, COLS, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(-1, COLS * 32, 3)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, "WEBP", lossless=True, quality=100, method=4)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    grid = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    img = grid.reshape(-1, 32, COLS, 32, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 32, 32, 3)
    return np.ascontiguousarray(img.transpose(0, 3, 1, 2)).reshape(len(img), 3072)


def pack(archive: Path, out: Path, parts: int) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        files = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    meta = {"batches": {}, "batches.meta": files["batches.meta"].hex()}
    tiles = []
    for name in BATCHES:
        d = pickle.loads(files[name], encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        meta["batches"][name] = {
            "labels": list(map(int, d[b"labels"])),
            "batch_label": d[b"batch_label"].decode("latin1"),
            "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
            "tiles": len(data) // TILE,
        }
        tiles += [(f"{name}.{k:02d}.webp", data[k * TILE : (k + 1) * TILE]) for k in range(len(data) // TILE)]
    with ProcessPoolExecutor() as pool:
        encoded = list(pool.map(_encode, [t for _, t in tiles]))
    dirs = [out / f"part{p}" for p in range(parts)]
    sizes = [0] * parts
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    (dirs[0] / "meta.json").write_text(json.dumps(meta))
    for (name, _), blob in zip(tiles, encoded):
        p = sizes.index(min(sizes))  # the lightest part so far
        (dirs[p] / name).write_bytes(blob)
        sizes[p] += len(blob)
    print(" ".join(f"{d}: {s / 2**20:.1f} MiB" for d, s in zip(dirs, sizes)))


def unpack(dest: Path, part_dirs: list[Path]) -> None:
    found = {f.name: f for d in part_dirs for f in d.iterdir()}
    if "meta.json" not in found:
        sys.exit("meta.json not found: pass every part folder")
    meta = json.loads(found["meta.json"].read_text())
    folder = dest / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, info in meta["batches"].items():
        names = [f"{name}.{k:02d}.webp" for k in range(info["tiles"])]
        missing = [n for n in names if n not in found]
        if missing:
            sys.exit(f"{len(missing)} tiles missing (e.g. {missing[0]}): pass every part folder")
        data = np.concatenate([_decode(found[n].read_bytes()) for n in names])
        if hashlib.sha256(data.tobytes()).hexdigest() != info["sha256"]:
            sys.exit(f"{name}: pixels differ from the packed ones")
        batch = {b"batch_label": info["batch_label"].encode("latin1"), b"labels": info["labels"], b"data": data}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(bytes.fromhex(meta["batches.meta"]))
    print(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("archive", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--parts", type=int, default=2)
    u = sub.add_parser("unpack")
    u.add_argument("dest", type=Path)
    u.add_argument("parts", type=Path, nargs="+")
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.archive, args.out, args.parts)
    else:
        unpack(args.dest, args.parts)


if __name__ == "__main__":
    main()
