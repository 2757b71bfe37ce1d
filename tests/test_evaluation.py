"""Evaluation numbers against reference computations, and the notebook's own weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from notebook_reference import notebook_cnn3_wide, notebook_mlp_first

from cifarlab.analysis.evaluation import confusion_matrix, evaluate_model, load_weights
from cifarlab.core.errors import RunError

CLI = str(Path(sys.executable).parent / "cifarlab")
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference"
WEIGHTS = REFERENCE / "notebook-weights"


def test_confusion_matrix_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    pred, true = torch.randint(0, 10, (500,), generator=g), torch.randint(0, 10, (500,), generator=g)
    ref = torch.zeros(10, 10, dtype=torch.long)
    for p, t in zip(pred.tolist(), true.tolist()):
        ref[t, p] += 1
    assert torch.equal(confusion_matrix(pred, true, 10), ref)


def test_per_class_accuracy_matches_direct_count():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 4))
    x, y = torch.rand(200, 3, 32, 32), torch.randint(0, 4, (200,))
    result = evaluate_model(model, x, y, ["a", "b", "c", "d"], batch_size=64)
    pred = model(x).argmax(1)
    for k in range(4):
        assert result.per_class_accuracy[k] == pytest.approx(
            ((pred == k) & (y == k)).sum().item() / (y == k).sum().item()
        )
    assert result.accuracy == (pred == y).double().mean().item()
    assert result.loss == pytest.approx(torch.nn.functional.cross_entropy(model(x), y).item(), rel=1e-5)


def _accuracy_plain(model: torch.nn.Module, x_uint8: torch.Tensor, y: torch.Tensor) -> float:
    """Reference: one batch at a time, the notebook's way (float / 255, eval mode, argmax). Conv nets
    run in channels_last memory layout, the same arithmetic and CPU convolutions about 1.5x as fast."""
    model.eval().to(memory_format=torch.channels_last)
    hits = 0
    with torch.no_grad():
        for i in range(0, len(x_uint8), 500):
            xb = (x_uint8[i : i + 500].float() / 255).contiguous(memory_format=torch.channels_last)
            hits += (model(xb).argmax(1) == y[i : i + 500]).sum().item()
    return hits / len(x_uint8)


@pytest.mark.skipif(not WEIGHTS.exists(), reason="notebook weights not in ../shared")
def test_notebook_cnn3_weights_on_the_lossless_subset():
    """On the only lossless test images (official test_batch[0:1000]) the saved cnn3 scores 83.3%."""
    d = np.load(REFERENCE / "cifar10_exact_subset.npz")
    x = torch.from_numpy(d["test_x"]).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(d["test_y"]).long()
    ours = evaluate_model(load_weights("cnn3_wide", WEIGHTS / "cnn3.pth"), x, y, [str(i) for i in range(10)])
    ref = notebook_cnn3_wide()
    ref.load_state_dict(torch.load(WEIGHTS / "cnn3.pth", map_location="cpu", weights_only=True))
    assert ours.accuracy == _accuracy_plain(ref, x, y) == 0.833


# The notebook's cnn3 weights go through the same loading and evaluation in the lossless-subset test
# above; through the CLI over all 10,000 images they cost ~34 s on 2 cores, so only mlp_first runs here.
@pytest.mark.skipif(not WEIGHTS.exists(), reason="notebook weights not in ../shared")
@pytest.mark.parametrize("model, file, reference", [("mlp_first", "mlp_first.pth", notebook_mlp_first)])
def test_cli_evaluate_weights_equals_plain_sequential(model, file, reference, real_arrays, real_data, real_cache_dir):
    arrays, _ = real_arrays
    # The CLI and the reference run side by side, one core each (faster than one after the other).
    env = {**os.environ, "CIFARLAB_CACHE": str(real_cache_dir), "OMP_NUM_THREADS": "1"}  # the session's parsed copy
    proc = subprocess.Popen(
        [CLI, "evaluate", "--model", model, "--weights", str(WEIGHTS / file), "--data", str(real_data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ref = reference()
    ref.load_state_dict(torch.load(WEIGHTS / file, map_location="cpu", weights_only=True))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        acc = _accuracy_plain(ref, arrays.test_x, arrays.test_y)
    finally:
        torch.set_num_threads(threads)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"test accuracy {100 * acc:.2f}%" in out


def test_weights_that_do_not_fit_say_so(tmp_path):
    f = tmp_path / "w.pth"
    torch.save(notebook_mlp_first().state_dict(), f)
    with pytest.raises(RunError, match="do not fit model 'cnn3'"):
        load_weights("cnn3", f)
    with pytest.raises(RunError, match="does not exist"):
        load_weights("cnn3", tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(RunError, match="not a readable PyTorch weights file"):
        load_weights("cnn3", tmp_path / "junk.pth")
