"""Batched augmentations against straightforward per-image reference implementations."""

from __future__ import annotations

import pytest
import torch

from cifarlab.config.schema import TrainConfig
from cifarlab.data.augment import (
    BatchAugment,
    alternating_flip,
    cutout,
    random_crop,
    random_flip,
    random_translate,
    translate_and_crop,
)


def images(n=16, seed=0):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_translate_matches_per_image_crop(mode):
    x, pad = images(), 4
    out = random_translate(x, pad, torch.Generator().manual_seed(5), mode)
    offsets = torch.randint(0, 2 * pad + 1, (2, len(x)), generator=torch.Generator().manual_seed(5))
    for i in range(len(x)):
        padded = torch.nn.functional.pad(x[i : i + 1], (pad,) * 4, mode=mode)[0]
        dy, dx = offsets[0, i].item(), offsets[1, i].item()
        assert torch.equal(out[i], padded[:, dy : dy + 32, dx : dx + 32])
    assert not torch.equal(out, x)


def test_translate_zero_offset_is_identity_and_uint8_works():
    x = (images(4) * 255).to(torch.uint8)
    out = random_translate(x, 2, torch.Generator().manual_seed(0), "constant")
    assert out.dtype == torch.uint8 and out.shape == x.shape


def test_random_crop_matches_per_image_crop():
    x, size = images(), 24
    out = random_crop(x, size, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    dy, dx = torch.randint(0, 9, (16,), generator=g), torch.randint(0, 9, (16,), generator=g)
    assert out.shape == (16, 3, 24, 24)
    for i in range(len(x)):
        assert torch.equal(out[i], x[i, :, dy[i] : dy[i] + size, dx[i] : dx[i] + size])
    assert len({(a, b) for a, b in zip(dy.tolist(), dx.tolist())}) > 1
    assert random_crop(x, 32, torch.Generator()) is x and random_crop(x, 0, torch.Generator()) is x


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_translate_then_crop_is_one_window_of_the_padded_image(mode):
    x, pad, size = images(), 2, 28
    out = translate_and_crop(x, pad, size, torch.Generator().manual_seed(9), mode)
    g = torch.Generator().manual_seed(9)  # the draws, in order: translation (dy, dx), then crop (dy, dx)
    t = torch.randint(0, 2 * pad + 1, (2, len(x)), generator=g)
    cy = torch.randint(0, 32 - size + 1, (len(x),), generator=g)
    cx = torch.randint(0, 32 - size + 1, (len(x),), generator=g)
    assert out.shape == (16, 3, size, size)
    for i in range(len(x)):
        padded = torch.nn.functional.pad(x[i : i + 1], (pad,) * 4, mode=mode)[0]
        moved = padded[:, t[0, i] : t[0, i] + 32, t[1, i] : t[1, i] + 32]
        assert torch.equal(out[i], moved[:, cy[i] : cy[i] + size, cx[i] : cx[i] + size])
    g2 = torch.Generator().manual_seed(9)
    assert torch.equal(out, random_crop(random_translate(x, pad, g2, mode), size, g2))


def test_random_flip_matches_reference():
    x = images()
    out = random_flip(x, torch.Generator().manual_seed(3))
    coins = torch.rand(len(x), generator=torch.Generator().manual_seed(3)) < 0.5
    for i in range(len(x)):
        assert torch.equal(out[i], x[i].flip(-1) if coins[i] else x[i])
    assert 0 < coins.sum() < len(x)


def test_alternating_flip_flips_each_image_every_other_epoch():
    x = images(8)
    bits = torch.tensor([0, 1, 0, 1, 1, 0, 0, 1])
    idx = torch.arange(8)
    for epoch in range(4):
        out = alternating_flip(x, idx, epoch, bits)
        for i in range(8):
            flipped = bool(bits[i]) != bool(epoch % 2)
            assert torch.equal(out[i], x[i].flip(-1) if flipped else x[i])
    e0, e1 = alternating_flip(x, idx, 0, bits), alternating_flip(x, idx, 1, bits)
    assert all(torch.equal(e0[i].flip(-1), e1[i]) for i in range(8))


def test_cutout_matches_reference():
    x, size = images(), 8
    out = cutout(x, size, torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(9)
    cy = torch.randint(0, 32, (len(x),), generator=g)
    cx = torch.randint(0, 32, (len(x),), generator=g)
    for i in range(len(x)):
        ref = x[i].clone()
        top, left = cy[i].item() - size // 2, cx[i].item() - size // 2
        ref[:, max(top, 0) : max(top + size, 0), max(left, 0) : max(left + size, 0)] = 0
        assert torch.equal(out[i], ref)


def test_batch_augment_is_seeded_and_resumable():
    cfg = TrainConfig(translate=2, flip="alternating", cutout=6, crop=28)
    x, idx = images(), torch.arange(16)
    a = BatchAugment(cfg, 16, seed=1, device=torch.device("cpu"))
    b = BatchAugment(cfg, 16, seed=1, device=torch.device("cpu"))
    assert torch.equal(a(x, idx, 0), b(x, idx, 0))
    assert a(x, idx, 0).shape == (16, 3, 28, 28)
    state = a.state_dict()
    first = a(x, idx, 1)
    a.load_state_dict(state)
    assert torch.equal(a(x, idx, 1), first)
    c = BatchAugment(cfg, 16, seed=2, device=torch.device("cpu"))
    assert not torch.equal(c(x, idx, 0), b(x, idx, 0))
