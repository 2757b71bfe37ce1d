"""`cifarlab robustness`: generated corruptions, official CIFAR-10-C and CIFAR-10.1 files, what it writes,
and hostile inputs (one line, non-zero exit, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import SMALL, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.analysis.robustness import RESULT_FILE, evaluate_robustness
from cifarlab.core.errors import ConfigError
from cifarlab.data import corruptions as C
from cifarlab.data.cifar import load_cifar10
from cifarlab.runs.store import load_run

N = 120  # test images per set


@pytest.fixture(scope="module")
def run_dir(fake_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rob")
    cli_in_process(
        "train",
        "--model",
        "cnn2",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--epochs",
        "1",
        "--tta",
        "flip",
        "--data",
        fake_folder,
        "--out",
        out,
        "--name",
        "r",
        "--no-report",
        "--test-limit",  # the report's evaluation scores these too: 1,000 of them keep it short
        "1000",
        *SMALL,
        check=True,
    )
    return out / "r"


@pytest.fixture(scope="module")
def first_images(fake_folder):
    arrays = load_cifar10(fake_folder)
    return arrays.test_x[:N], arrays.test_y[:N]


def reference_accuracy(model, images_nhwc: np.ndarray, labels) -> float:
    """Flip TTA written out: the mean of the logits of the image and its mirror, in fp32."""
    x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = (model(x) + model(x.flip(3))) / 2
    return float((logits.argmax(1) == torch.as_tensor(labels)).double().mean())


def written(run: Path) -> set[str]:
    return {p.name for p in run.iterdir() if p.name.startswith("robustness")}


def test_generated_corruptions_end_to_end(run_dir, first_images, fake_folder, cache_dir):
    proc = cli_in_process(
        "robustness",
        run_dir,
        "--images",
        N,
        "--corruptions",
        "gaussian_noise,frost,contrast",
        "--severities",
        "1,5",
        "--data",
        fake_folder,
        env={"CIFARLAB_CACHE": str(cache_dir)},
        check=True,
    )
    assert "mean corruption accuracy" in proc.stdout and "test-time views: flip, fp32" in proc.stdout
    res = json.loads((run_dir / RESULT_FILE).read_text())
    assert written(run_dir) == {RESULT_FILE, "robustness_heatmap.png", "robustness_severity.png"}
    for png in ("robustness_heatmap.png", "robustness_severity.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(res["corruptions"]) == ["gaussian_noise", "frost*", "contrast"]
    assert res["tta"] == "flip" and res["images"] == N and res["source"] == "generated" and res["seed"] == 0
    assert res["complete"] is False and any("frost*" in n for n in res["notes"])
    model = load_run(run_dir).model
    x_nhwc = first_images[0].permute(0, 2, 3, 1).numpy()
    assert res["clean_acc"] == pytest.approx(reference_accuracy(model, x_nhwc, first_images[1]), abs=1e-12)
    pairs = []
    for name in ("gaussian_noise", "frost*", "contrast"):
        accs = res["corruptions"][name]
        assert accs[1] is None and accs[2] is None and accs[3] is None
        for s in (1, 5):
            expect = reference_accuracy(model, C.corrupt(x_nhwc, name, s, 0), first_images[1])
            assert accs[s - 1] == pytest.approx(expect, abs=1e-12), (name, s)
            pairs.append(expect)
    assert res["mean_corruption_acc"] == pytest.approx(np.mean(pairs))
    assert res["drop_from_clean"] == pytest.approx(res["clean_acc"] - np.mean(pairs))
    assert res["per_severity"]["5"] == pytest.approx(np.mean(pairs[1::2]))
    assert set(res["per_severity"]) == {"1", "5"}

    # the second evaluation reads the cached sets: a planted (valid) cached array changes the answer ...
    cached = sorted((cache_dir / "cifar10-c").glob("*/contrast-s5.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.zeros((N, 32, 32, 3), np.uint8))

    def contrast_s5_again() -> float:
        cli_in_process(
            "robustness",
            run_dir,
            "--images",
            N,
            "--corruptions",
            "contrast",
            "--severities",
            "5",
            "--data",
            fake_folder,
            env={"CIFARLAB_CACHE": str(cache_dir)},
            check=True,
        )
        return json.loads((run_dir / RESULT_FILE).read_text())["corruptions"]["contrast"][4]

    planted = contrast_s5_again()
    blank = reference_accuracy(model, np.zeros((N, 32, 32, 3), np.uint8), first_images[1])
    assert planted == pytest.approx(blank, abs=1e-12)
    # ... and a damaged one is regenerated, not trusted
    cached[0].write_bytes(cached[0].read_bytes()[:100])
    again = contrast_s5_again()
    assert again == pytest.approx(res["corruptions"]["contrast"][4], abs=1e-12)


def official_folder(tmp_path: Path, first_images, names=("gaussian_noise", "frost")) -> Path:
    """A CIFAR-10-C-shaped folder: severity s of each file is the test images darkened by 10 s levels."""
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    x = first_images[0].permute(0, 2, 3, 1).numpy()
    for name in names:
        sets = [np.clip(x.astype(int) - 10 * s, 0, 255).astype(np.uint8) for s in C.SEVERITIES]
        np.save(folder / f"{name}.npy", np.concatenate(sets))
    np.save(folder / "labels.npy", np.tile(first_images[1].numpy().astype(np.uint8), 5))
    return folder


def test_official_files_and_the_shift_set(run_dir, first_images, fake_folder, tmp_path):
    folder = official_folder(tmp_path, first_images)
    shift = tmp_path / "cifar10.1"
    shift.mkdir()
    x = first_images[0].permute(0, 2, 3, 1).numpy()
    np.save(shift / "cifar10.1_v6_data.npy", x[:50][::-1].copy())
    np.save(shift / "cifar10.1_v6_labels.npy", first_images[1].numpy()[:50][::-1].astype(np.int64))
    cli_in_process(
        "robustness",
        run_dir,
        "--corruptions-from",
        folder,
        "--corruptions",
        "gaussian_noise,frost",
        "--shift",
        shift,
        "--images",
        40,
        "--data",
        fake_folder,
        check=True,
    )
    res = json.loads((run_dir / RESULT_FILE).read_text())
    assert res["source"] == "official files" and res["seed"] is None
    assert list(res["corruptions"]) == ["gaussian_noise", "frost"]  # official frost: no star
    model = load_run(run_dir).model
    y = first_images[1].numpy()
    for s in C.SEVERITIES:
        darker = np.clip(x[:40].astype(int) - 10 * s, 0, 255).astype(np.uint8)
        assert res["corruptions"]["frost"][s - 1] == pytest.approx(reference_accuracy(model, darker, y[:40]), abs=1e-12)
    assert res["shift"]["name"] == "CIFAR-10.1 v6" and res["shift"]["images"] == 50
    assert res["shift"]["acc"] == pytest.approx(reference_accuracy(model, x[:50], y[:50]), abs=1e-12)


def test_python_api_on_a_model_in_memory(run_dir, first_images):
    model = load_run(run_dir).model
    res = evaluate_robustness(
        model, first_images[0], first_images[1], corruptions=["brightness"], severities=[3], tta="flip"
    )
    x = first_images[0].permute(0, 2, 3, 1).numpy()
    expect = reference_accuracy(model, C.corrupt(x, "brightness", 3, 0), first_images[1])
    assert res.corruptions == {"brightness": [None, None, expect, None, None]}
    assert "brightness" in res.table() and res.mean_corruption_acc == pytest.approx(expect)
    # the notebook's float images in [0, 1] give the same answer
    floats = evaluate_robustness(
        model, first_images[0].float() / 255, first_images[1], corruptions=["brightness"], severities=[3], tta="flip"
    )
    assert floats.corruptions == res.corruptions
    # autocast as in training: the same predictions up to bf16 rounding, and it says so
    bf16 = evaluate_robustness(
        model, first_images[0], first_images[1], corruptions=["brightness"], severities=[3], tta="flip", amp="bf16"
    )
    assert bf16.precision == "bfloat16" and res.precision == "fp32" and "bfloat16" in bf16.table()
    assert abs(bf16.corruptions["brightness"][2] - expect) <= 0.05
    with pytest.raises(ConfigError, match="--amp"):
        evaluate_robustness(model, first_images[0], first_images[1], corruptions=["fog"], amp="fp8")


def test_the_notebook_trainer_has_it_too(first_images, fake_folder):
    from cifarlab import Trainer, create_model

    arrays = load_cifar10(fake_folder)
    torch.manual_seed(0)
    trainer = Trainer(create_model("softmax"), num_epochs=1, batch_size=256, progress=False, log=None, tta="flip")
    trainer.train(arrays.train_x[:1000], arrays.train_y[:1000], first_images[0], first_images[1])
    res = evaluate_robustness(
        trainer.net, first_images[0], first_images[1], tta=trainer.config.tta, corruptions="contrast", severities="4"
    )
    x = first_images[0].permute(0, 2, 3, 1).numpy()
    expect = reference_accuracy(trainer.net.cpu().eval(), C.corrupt(x, "contrast", 4, 0), first_images[1])
    assert res.tta == "flip" and res.corruptions["contrast"][3] == pytest.approx(expect, abs=1e-12)


def test_report_and_compare_show_it(fresh_run, fake_folder):
    from cifarlab.analysis.robustness import RobustnessResult, robustness_of_run, write_result

    def ok(*args) -> str:
        return cli_in_process(*args, check=True).stdout

    ok("report", fresh_run, "--data", fake_folder)
    assert "Not measured: <code>cifarlab robustness" in (fresh_run / "report.html").read_text()
    res = robustness_of_run(fresh_run, data=fake_folder, corruptions="fog", severities="2", images=N)
    ok("report", fresh_run, "--data", fake_folder)
    page = (fresh_run / "report.html").read_text()
    assert (
        f"Mean corruption accuracy <b>{100 * res.mean_corruption_acc:.2f}%</b> over 1 corruption-severity pairs" in page
    )
    assert page.count("data:image/png") >= 2 and "test-time views <i>flip</i>" in page
    table = ok("compare", fresh_run, fresh_run, "--out", fresh_run.parent / "cmp.png")
    assert "mean_corruption_acc" in table and "| – |" in table  # a subset's mean is not comparable: not shown
    complete = RobustnessResult(0.5, {n: [0.25, 0.25, 0.25, 0.25, 0.125] for n in C.NAMES}, N, "flip", "generated", 0)
    write_result(fresh_run, complete)
    table = ok("compare", fresh_run, fresh_run, "--out", fresh_run.parent / "cmp2.png")
    assert "| 22.50% |" in table


# ---------------------------------------------------------------------------------------------------- hostile


def refusal(run: Path, *args) -> tuple[str, bool]:
    """``cifarlab robustness RUN ARGS`` must fail in one line: that line, and whether the run folder's
    robustness files are as they were (nothing written or replaced)."""
    before = written(run) if run.is_dir() else set()
    line = assert_one_line_error(cli_in_process("robustness", run, *args))
    return line, (written(run) if run.is_dir() else set()) == before


@pytest.fixture
def fresh_run(run_dir, tmp_path) -> Path:
    """A copy of the run without robustness files, so 'nothing written' is checkable."""
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns("robustness*"))
    return dst


def test_bad_names_and_numbers(fresh_run, fake_folder):
    cases = [
        (["--corruptions", "gausian_noise"], "unknown corruption 'gausian_noise'. Did you mean 'gaussian_noise'"),
        (["--severities", "0,6"], "--severities"),
        (["--severities", "one"], "--severities"),
        (["--images", "0"], "--images"),
        (["--tta", "sideways"], "unknown --tta mode"),
    ]
    for args, needle in cases:
        line, untouched = refusal(fresh_run, *args, "--data", fake_folder)
        assert needle in line and untouched, (args, line)


def test_a_run_folder_without_a_model(fresh_run, tmp_path):
    (fresh_run / "model.pt").unlink()
    line, untouched = refusal(fresh_run)
    assert "has no model.pt" in line and untouched
    assert "does not exist" in refusal(tmp_path / "nowhere")[0]


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("missing", "frost.npy is missing"),
        ("float", "holds float32 images"),
        ("shape", "expected uint8 (N, 32, 32, 3)"),
        ("short", "images but its labels file"),
        ("pickle", "not a readable .npy array"),
        ("truncated", "not a readable .npy array"),
        ("labels_range", "labels outside 0-9"),
        ("labels_count", "expected 5 severities x N images"),
        ("labels_float", "one integer label per image"),
        ("not_a_folder", "is not a folder"),
    ],
)
def test_malformed_official_files(fresh_run, first_images, fake_folder, tmp_path, damage, needle):
    folder = official_folder(tmp_path, first_images)
    frost, labels = folder / "frost.npy", folder / "labels.npy"
    good = np.load(frost)
    if damage == "missing":
        frost.unlink()
    elif damage == "float":
        np.save(frost, good.astype(np.float32))
    elif damage == "shape":
        np.save(frost, good.reshape(-1, 32, 96))
    elif damage == "short":
        np.save(frost, good[:-5])
    elif damage == "pickle":
        np.save(frost, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif damage == "truncated":
        frost.write_bytes(frost.read_bytes()[:1000])
    elif damage == "labels_range":
        np.save(labels, np.full(5 * N, 12, np.uint8))
    elif damage == "labels_count":
        np.save(labels, np.zeros(5 * N + 1, np.uint8))
    elif damage == "labels_float":
        np.save(labels, np.zeros(5 * N, np.float32))
    elif damage == "not_a_folder":
        folder = frost
    line, untouched = refusal(
        fresh_run, "--corruptions-from", folder, "--corruptions", "gaussian_noise,frost", "--data", fake_folder
    )
    assert needle in line and untouched, line


@pytest.mark.parametrize("damage", ["missing_labels", "mismatch", "not_a_folder"])
def test_malformed_shift_files(fresh_run, first_images, fake_folder, tmp_path, damage):
    shift = tmp_path / "c101"
    shift.mkdir()
    x = first_images[0].permute(0, 2, 3, 1).numpy()
    np.save(shift / "cifar10.1_v6_data.npy", x[:20])
    np.save(shift / "cifar10.1_v6_labels.npy", np.zeros(20 if damage != "mismatch" else 19, np.int64))
    if damage == "missing_labels":
        (shift / "cifar10.1_v6_labels.npy").unlink()
    target = shift / "nothing-here" if damage == "not_a_folder" else shift
    needle = {"missing_labels": "cifar10.1_v6_labels.npy is missing", "mismatch": "do not belong together"}
    line, untouched = refusal(
        fresh_run, "--shift", target, "--corruptions", "fog", "--severities", "1", "--data", fake_folder
    )
    assert needle.get(damage, "is not a folder") in line and untouched, line
