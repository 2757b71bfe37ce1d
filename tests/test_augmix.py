"""AugMix: each operation against PIL (the paper's implementation), the mixing, the consistency loss, and
training with it from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from test_cli import SMALL, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.config.schema import TrainConfig
from cifarlab.core.errors import ConfigError
from cifarlab.data import augmix as A


def batch(n=6, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 32, 32, generator=g) ** 2  # skewed histograms: equalize has work to do
    x[0, 1] = 0.5  # a flat channel: autocontrast and equalize leave it alone
    return (x * 255).round() / 255


def pil(img: torch.Tensor) -> Image.Image:
    return Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def levels(img) -> np.ndarray:
    return (
        np.asarray(img, dtype=np.int64)
        if isinstance(img, Image.Image)
        else (img.permute(1, 2, 0) * 255).round().long().numpy()
    )


def test_point_ops_match_pil():
    x = batch()
    eq, ac = A.equalize(x), A.autocontrast(x)
    bits = torch.tensor([1, 2, 3, 4, 4, 3])
    thr = torch.tensor([0, 128, 200, 254, 255, 256])
    post, sol = A.posterize(x, bits), A.solarize(x, thr)
    for i in range(len(x)):
        np.testing.assert_array_equal(levels(eq[i]), levels(ImageOps.equalize(pil(x[i]))))
        np.testing.assert_array_equal(levels(post[i]), levels(ImageOps.posterize(pil(x[i]), int(bits[i]))))
        np.testing.assert_array_equal(levels(sol[i]), levels(ImageOps.solarize(pil(x[i]), int(thr[i]))))
        # PIL's autocontrast rounds its lookup table to 8 bits; ours keeps the exact stretch
        assert np.abs(levels(ac[i]) - levels(ImageOps.autocontrast(pil(x[i])))).max() <= 1
    assert torch.equal(ac[0, 1], x[0, 1]) and torch.equal(eq[0, 1], x[0, 1])


def test_affine_translates_and_rotates_like_the_pixels_say():
    x = batch(2)
    theta = torch.tensor([[[1.0, 0, 2 * 3 / 32], [0, 1, 0]]] * 2)  # sample 3 px to the right: content moves left
    out = A.affine(x, theta)
    torch.testing.assert_close(out[..., :-3], x[..., 3:], atol=1e-5, rtol=0)
    assert out[..., -3:].abs().max() == 0  # black outside, as PIL
    quarter = torch.tensor([[[0.0, -1, 0], [1, 0, 0]]] * 2)
    torch.testing.assert_close(A.affine(x, quarter), torch.rot90(x, 1, dims=(2, 3)), atol=1e-5, rtol=0)
    identity = torch.eye(2, 3).expand(2, 2, 3)
    torch.testing.assert_close(A.affine(x, identity), x, atol=1e-6, rtol=0)


def test_augmix_is_seeded_mixes_and_keeps_range():
    x = batch(64)
    a = A.AugMix(torch.Generator().manual_seed(3))(x)
    b = A.AugMix(torch.Generator().manual_seed(3))(x)
    c = A.AugMix(torch.Generator().manual_seed(4))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    changed = (a - x).abs().flatten(1).mean(1)
    assert (changed > 1e-3).float().mean() > 0.8  # nearly every image altered ...
    assert changed.mean() < 0.2  # ... but still an image of the same thing (a convex mix with the original)


def test_augmix_op_levels_are_the_papers():
    """Severity 3: rotation by whole degrees below 9, translation by at most 3 pixels, shear below 0.09."""
    aug = A.AugMix(torch.Generator().manual_seed(0))
    n = 20000
    for op, check in (
        ("rotate", lambda t: torch.rad2deg(torch.atan2(t[:, 1, 0], t[:, 0, 0])).round().abs().max() <= 8),
        ("translate_x", lambda t: (t[:, 0, 2] * 16).round().abs().max() == 3),
        ("shear_y", lambda t: t[:, 1, 0].abs().max() < 0.09),
    ):
        theta = aug._theta(torch.full((n,), A.OPS.index(op)), 32, 32)
        assert check(theta), op


def test_jsd_loss_is_the_papers_formula():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(12, 10, generator=g), torch.randint(0, 10, (4,), generator=g)
    base = torch.nn.CrossEntropyLoss()
    got = A.jsd_loss(base, 12.0)(logits, y)
    p = logits.softmax(1).view(3, 4, 10)
    m = p.mean(0)
    js = sum((q * (q / m).log()).sum(1).mean() for q in p) / 3
    torch.testing.assert_close(got, base(logits[:4], y) + 12.0 * js)
    same = logits[:4].repeat(3, 1)
    torch.testing.assert_close(A.jsd_loss(base, 12.0)(same, y), base(logits[:4], y))  # no divergence, no penalty


def test_config_rules():
    TrainConfig(augmix=True, augmix_jsd=12).validate()
    with pytest.raises(ConfigError, match="add --augmix"):
        TrainConfig(augmix_jsd=12).validate()
    with pytest.raises(ConfigError, match="--augmix-jsd"):
        TrainConfig(augmix=True, augmix_jsd=-1).validate()


def test_training_with_augmix_from_the_cli(fake_folder, tmp_path):
    cli(
        "train",
        "--model",
        "cnn2",
        "--epochs",
        "1",
        "--augmix",
        "--augmix-jsd",
        "12",
        "--data",
        fake_folder,
        "--out",
        tmp_path,
        "--name",
        "am",
        "--no-report",
        *SMALL,
    )
    cfg = json.loads((tmp_path / "am" / "config.json").read_text())["train"]
    assert cfg["augmix"] is True and cfg["augmix_jsd"] == 12
    rows = (tmp_path / "am" / "metrics.csv").read_text().splitlines()
    train_acc = float(rows[1].split(",")[rows[0].split(",").index("train_acc")])
    assert 0.1 < train_acc <= 1  # statistics of the clean rows, not of three views
    proc = cli_in_process("train", "--augmix-jsd", "5", "--data", fake_folder, "--out", tmp_path)
    assert_one_line_error(proc, "add --augmix")
    assert [p.name for p in tmp_path.iterdir()] == ["am"]
