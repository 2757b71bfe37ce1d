"""What people do around a run: compare, evaluation report, predict, export, report page."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli import CLI, SMALL, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

import cifarlab
from cifarlab.analysis.evaluation import expected_calibration_error, reliability_bins
from cifarlab.analysis.export import export_model
from cifarlab.data.cifar import load_cifar10
from cifarlab.models.registry import create_model, list_models


@pytest.fixture(scope="module")
def two_runs(fake_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("wf")
    for name, model in (("a", "softmax"), ("b", "mlp_first")):
        cli_in_process(
            "train",
            "--model",
            model,
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--epochs",
            "2",
            "--data",
            fake_folder,
            "--out",
            out,
            "--name",
            name,
            "--tta",
            "flip",
            *SMALL,
            check=True,
        )
    return out / "a", out / "b"


def test_training_ends_with_report_and_evaluation_files(two_runs):
    a, _ = two_runs
    for f in ("confusion.png", "per_class.png", "mistakes.png", "reliability.png", "curves.png"):
        with Image.open(a / f) as im:  # real images, not empty files
            im.verify()
            assert im.format == "PNG" and min(im.size) >= 100, (f, im.size)
    summary = json.loads((a / "summary.json").read_text())
    ev = json.loads((a / "evaluation.json").read_text())
    assert ev["test_images"] > 0 and 0 <= ev["test_acc"] <= 1
    assert len(ev["per_class_acc"]) == 10 and sum(map(sum, ev["confusion"])) == ev["test_images"]
    hits = sum(ev["confusion"][k][k] for k in range(10))
    assert hits / ev["test_images"] == pytest.approx(ev["test_acc"])  # accuracy is the confusion's diagonal
    # the checkpoints hold the trained epochs: last.pt the final one, best.pt the selected one
    last, best = (torch.load(a / f, weights_only=False) for f in ("last.pt", "best.pt"))
    assert last["epoch"] == summary["epochs_run"] and best["epoch"] == summary["best_epoch"]
    page = (a / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 5 and "http" not in page.split("<body>")[1]


def test_report_headline_is_the_summary_and_keys_are_folded(two_runs):
    """The page leads with what the summary (and `train`) reported, evaluated with the run's own
    test-time views; curves, confusion and mistakes come next; every key is folded below, with
    percentages, without None values or the machine's paths."""
    a, _ = two_runs
    summary = json.loads((a / "summary.json").read_text())
    ev = json.loads((a / "evaluation.json").read_text())
    page = (a / "report.html").read_text()
    assert summary["tta"] == ev["tta"] == "flip"
    assert abs(ev["test_acc"] - summary["test_acc"]) <= 0.01  # the same views; only bf16 vs fp32 may differ
    head, folded = page.split("<details>", 1)
    assert f"Test accuracy <b>{100 * summary['test_acc']:.2f}%</b> with test-time views <i>flip</i>" in head
    assert head.index("Training curves") < head.index("Confusion matrix") < head.index("Most confident mistakes")
    assert "<th>best_val_acc</th>" in folded and f"{100 * summary['best_val_acc']:.2f}%" in folded
    assert ">None<" not in page and str(Path(summary["data_source"]).parent) not in page


def test_compare_table_and_files(two_runs, tmp_path):
    a, b = two_runs
    proc = cli_in_process("compare", a, b, "--out", tmp_path / "cmp.png", check=True)
    with open(tmp_path / "cmp.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["a", "b"] and [r["model"] for r in rows] == ["softmax", "mlp_first"]
    sa = json.loads((a / "summary.json").read_text())
    assert float(rows[0]["test_acc_at_best"]) == sa["test_acc"] and rows[0]["parameters"] == "30730"
    assert rows[0]["epochs"] == "2" and rows[0]["test_images"] == "10000"
    assert (tmp_path / "cmp.png").stat().st_size > 5000 and "| a | softmax | 30,730 |" in proc.stdout
    bad = cli_in_process("compare", a, tmp_path / "nope", "--out", tmp_path / "x.png")
    assert_one_line_error(bad, "is not a run folder")
    assert not (tmp_path / "x.png").exists()


def test_evaluation_numbers_match_a_reference(two_runs, fake_folder):
    a, _ = two_runs
    ev = json.loads((a / "evaluation.json").read_text())
    run = cifarlab.load_run(a)
    arrays = load_cifar10(fake_folder)
    probs = run.predict(arrays.test_x, tta=ev["tta"])  # the run's own test-time views
    pred = probs.argmax(1)
    assert ev["test_acc"] == pytest.approx((pred == arrays.test_y).double().mean().item(), abs=1e-12)
    for k, name in enumerate(arrays.classes):
        m = arrays.test_y == k
        assert ev["per_class_acc"][name] == pytest.approx((pred[m] == k).double().mean().item())
    # ECE by hand: 15 equal-width bins of the top probability
    conf = probs.max(1).values.double().numpy()
    hit = (pred == arrays.test_y).double().numpy()
    ece = 0.0
    for b in range(15):
        m = (conf > b / 15) & (conf <= (b + 1) / 15)
        if m.any():
            ece += m.mean() * abs(hit[m].mean() - conf[m].mean())
    assert ev["ece"] == pytest.approx(ece, abs=1e-6)
    # the gallery shows the most confident mistakes first
    conf_t = probs.max(1).values
    wrong = [i for i in ev["mistakes"]]
    assert all(pred[i] != arrays.test_y[i] for i in wrong)
    assert [conf_t[i].item() for i in wrong] == sorted((conf_t[i].item() for i in wrong), reverse=True)


def test_reliability_bins_on_a_tiny_case():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 1])
    bins = reliability_bins(probs, labels, n_bins=2)
    assert [b["count"] for b in bins] == [0, 3]
    assert expected_calibration_error(probs, labels, 2) == pytest.approx(abs(2 / 3 - (0.9 + 0.6 + 0.7) / 3))


def _images(folder: Path) -> dict[str, Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (40, 57, 3), dtype=np.uint8)
    files = {
        "rgb.png": Image.fromarray(rgb),
        "rgba.png": Image.fromarray(rng.integers(0, 255, (20, 20, 4), dtype=np.uint8), "RGBA"),
        "gray.jpg": Image.fromarray(rgb[..., 0], "L"),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "deep.png": Image.fromarray(rng.integers(0, 65535, (33, 31), dtype=np.uint16)),
        "big.jpeg": Image.fromarray(rng.integers(0, 255, (600, 400, 3), dtype=np.uint8)),
    }
    paths = {}
    for name, im in files.items():
        im.save(folder / name)
        paths[name] = folder / name
    (folder / "notes.png").write_text("not an image")
    return paths


def test_predict_any_image_and_report_bad_files(two_runs, tmp_path):
    a, _ = two_runs
    paths = _images(tmp_path)
    proc = cli_in_process("predict", a, tmp_path, "--topk", "3", "--json")
    assert proc.returncode == 1
    assert proc.stderr.count("cifarlab: error:") == 1 and "notes.png" in proc.stderr
    results = {Path(r["path"]).name: r for r in json.loads(proc.stdout)}
    assert set(results) == set(paths) | {"notes.png"}
    assert results["notes.png"]["topk"] is None
    run = cifarlab.load_run(a)
    probs = run.predict([paths["rgb.png"]])[0]
    got = results["rgb.png"]["topk"]
    assert [g["class"] for g in got] == [run.classes[i] for i in probs.topk(3).indices]
    assert got[0]["prob"] == pytest.approx(probs.max().item(), rel=1e-5)
    assert all(len(r["topk"]) == 3 for n, r in results.items() if n != "notes.png")
    ok = cli_in_process("predict", a, paths["gray.jpg"], check=True)
    assert ok.returncode == 0 and ok.stdout.startswith(str(paths["gray.jpg"]))


def test_16_bit_images_are_scaled_not_clipped():
    from PIL import Image

    from cifarlab.data.images import to_rgb_uint8

    im = Image.fromarray(np.full((32, 32), 32768, dtype=np.uint16))
    assert abs(int(to_rgb_uint8(im)[0, 0, 0]) - 128) <= 1


@pytest.fixture(scope="module")
def export_images(request, fake_folder):
    """Real CIFAR-10 images when the data set is at hand (CI), else the fake set's."""
    try:
        arrays, _ = request.getfixturevalue("real_arrays")
    except pytest.skip.Exception:
        arrays = load_cifar10(fake_folder)
    return arrays.train_x[:500], arrays.test_x[:8].float() / 255


@pytest.mark.parametrize("name", list_models())
def test_export_every_model_onnx_and_torchscript(name, tmp_path, export_images):
    from reduced_sizes import REDUCED

    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = create_model(name, **REDUCED[name]).eval()  # the same builder at a size the suite can afford
    train_sample, x = export_images
    if hasattr(model, "init_from_data"):
        model.init_from_data(train_sample)
    with torch.no_grad():
        ref = model(x).numpy()
    onnx_file = export_model(model, "onnx", tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"images": x.numpy()})[0]
    # Relative to the logits' scale: an untrained deep ResNet in eval mode gives logits up to ~1e8.
    tol = 1e-4 * max(1.0, float(np.abs(ref).max()))
    assert np.abs(got - ref).max() < tol
    ts = torch.jit.load(str(export_model(model, "torchscript", tmp_path / "m.pt")))
    with torch.no_grad():
        assert np.abs(ts(x).numpy() - ref).max() < tol


def test_export_cli_and_bad_format(two_runs, tmp_path):
    a, _ = two_runs
    out = cli_in_process("export", a, "--format", "torchscript", "--out", tmp_path / "a.pt", check=True)
    out = out.stdout.strip()
    assert Path(out) == tmp_path / "a.pt" and (tmp_path / "a.pt").exists()
    bad = cli_in_process("export", a, "--format", "tflite")
    assert_one_line_error(bad, "unknown export format 'tflite'")
    assert not list(a.glob("*.tflite")) and not list(a.glob(".*tmp"))


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (make test installs it with apt where it can)")
def test_report_renders_in_headless_chromium(two_runs, tmp_path):
    """Open report.html in a real browser: every image decoded, and the screenshot is not blank."""
    from PIL import Image

    a, _ = two_runs
    shot = tmp_path / "shot.png"
    common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = (a / "report.html").as_uri()
    subprocess.run(
        [_chromium(), *common, f"--screenshot={shot}", "--window-size=1200,2400", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10, "the screenshot is blank"
    # --dump-dom after load: images that failed to decode report naturalWidth 0. The page's own markup is
    # static, so we measure with a tiny script in a copy of the page (the report itself has no script).
    probe = tmp_path / "probe.html"
    check = (
        "<script>window.addEventListener('load', () => { const bad = [...document.images]"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).length; document.title = "
        "'images:' + document.images.length + ':bad:' + bad; });</script>"
    )
    probe.write_text((a / "report.html").read_text().replace("</body>", check + "</body>"))
    dom = subprocess.run(
        [_chromium(), *common, "--dump-dom", "--virtual-time-budget=5000", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<title>images:5:bad:0</title>" in dom


def test_tensorboard_scalars_equal_the_metrics(fake_folder, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    proc = cli_in_process(
        "train",
        "--recipe",
        "seed-softmax",
        "--epochs",
        "2",
        "--tensorboard",
        "--data",
        fake_folder,
        "--out",
        tmp_path,
        "--name",
        "tb",
        *SMALL,
        "--no-report",
        check=True,
    )
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for tag, column in (("acc/train", "train_acc"), ("loss/val", "val_loss"), ("acc/test", "test_acc")):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [1, 2]
        assert [e.value for e in events] == pytest.approx([float(r[column]) for r in rows], rel=1e-5)


def test_tensorboard_missing_is_a_one_line_error(monkeypatch, fake_folder, tmp_path):
    import sys

    from cifarlab.config.schema import ExperimentConfig
    from cifarlab.core.errors import ConfigError
    from cifarlab.experiment import run_experiment

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(ConfigError, match="pip install tensorboard"):
        run_experiment(ExperimentConfig(model="softmax", out=str(tmp_path)), tensorboard=True)
    assert not any(tmp_path.iterdir())
