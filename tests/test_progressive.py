"""Progressive resizing (``--crop PX --crop-until F``): which steps see crops, the budget's arithmetic
for runs whose early steps are cheaper, and bad values refused in one line."""

from __future__ import annotations

import pytest
import torch
from test_cli import _SHARED, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.config.schema import TrainConfig
from cifarlab.models.registry import create_model
from cifarlab.training import budget
from cifarlab.training.budget import BudgetGuard, weighted_steps
from cifarlab.training.trainer import Trainer


def _sizes_seen(cfg: TrainConfig, n: int = 96, replan_to: int | None = None) -> list[int]:
    """The side of every training batch a fastnet sees (evaluation batches excluded)."""
    torch.manual_seed(0)
    net = create_model("fastnet", width=0.125)
    sizes: list[int] = []
    net.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[-1]) if m.training else None)

    class Replan:
        def on_epoch_end(self, trainer, row):
            if replan_to is not None and row["epoch"] == 1:
                trainer.plan.resize(replan_to)

    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (n,))
    Trainer(net, config=cfg, progress=False, log=None, callbacks=[Replan()]).train(x, y)
    return sizes


def test_crops_for_the_first_share_of_steps_then_full_images():
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.01, crop=24, crop_until=0.5, translate=2, flip="random")
    # 4 epochs x 3 steps = 12 steps; round(0.5 * 12) = 6 on crops, switching inside epoch 2
    assert _sizes_seen(cfg) == [24] * 6 + [32] * 6
    assert _sizes_seen(TrainConfig(epochs=2, batch_size=32, lr=0.01, crop=24)) == [24] * 6  # crop_until 1: all


def test_the_switch_follows_a_re_planned_length():
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.01, crop=16, crop_until=0.75)
    # planned 6 steps (switch after 4); after epoch 1 a guard extends the run to 12: switch after 9
    assert _sizes_seen(cfg, replan_to=12) == [16] * 9 + [32] * 3


def test_progressive_crops_draw_the_same_flips_and_translations_as_full_images():
    """Only the crop offsets are skipped after the switch: the other draws are identical."""
    from cifarlab.data.augment import BatchAugment

    cfg = TrainConfig(crop=24, crop_until=0.5, translate=2, flip="random")
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    idx = torch.arange(8)
    full = BatchAugment(TrainConfig(translate=2, flip="random"), 8, 3, torch.device("cpu"))(x, idx, 1)
    late = BatchAugment(cfg, 8, 3, torch.device("cpu"))(x, idx, 1, crop=False)
    assert torch.equal(full, late)
    assert BatchAugment(cfg, 8, 3, torch.device("cpu"))(x, idx, 1).shape[-1] == 24


@pytest.mark.parametrize(
    "start, end, switch, ratio, expected",
    [
        (0, 10, 4, 0.5, 8.0),
        (4, 10, 4, 0.5, 6.0),
        (0, 3, 4, 0.5, 1.5),
        (6, 6, 4, 0.5, 0.0),
        (0, 10, 0, 0.5, 10.0),
        (2, 9, 5, 0.25, 4.75),
    ],
)
def test_weighted_steps(start, end, switch, ratio, expected):
    assert weighted_steps(start, end, switch, ratio) == expected


def _reference_fit(done, elapsed, left, crop_until, switch, ratio):
    """Step by step: the rate per full step from the past, then one more step while the rest fits
    (each step adds at least ``ratio`` of a full step's time, so the first that does not fit ends it)."""
    past = sum(ratio if s < switch else 1.0 for s in range(done))
    rate, total = elapsed / past, done
    while rate * sum(ratio if s < round(crop_until * (total + 1)) else 1.0 for s in range(done, total + 1)) <= left:
        total += 1
    return total


@pytest.mark.parametrize(
    "done, elapsed, left, crop_until, switch, ratio",
    [
        (200, 40.0, 56.0, 1.0, 1000, 1.0),
        (200, 20.0, 56.0, 0.6, 600, 0.55),
        (300, 35.0, 40.0, 0.5, 250, 0.5),
        (100, 9.0, 3.0, 0.9, 900, 0.3),
        (50, 10.0, -4.0, 0.5, 100, 0.5),
    ],
)
def test_guard_fit_matches_a_step_by_step_reference(done, elapsed, left, crop_until, switch, ratio):
    got = BudgetGuard(100.0, 1.0, None, crop_ratio=ratio).fit(done, elapsed, left, crop_until, switch)
    assert got == _reference_fit(done, elapsed, left, crop_until, switch, ratio)


def test_without_crops_the_guard_keeps_its_old_rule():
    for done, elapsed, left in [(200, 40.0, 56.0), (37, 13.3, 91.7), (980, 99.0, 0.4)]:
        expected = done + max(0, int(left / (elapsed / done)))
        assert BudgetGuard(1.0, 1.0, None).fit(done, elapsed, left, 1.0, 10**9) == expected


def test_the_plan_mixes_crop_and_full_step_times(monkeypatch):
    """The probe times crop steps and full steps apart; the plan weighs them by --crop-until."""
    seen = []

    def fake_probe(model, cfg, x, y, budget_s):
        seen.append(cfg.crop)
        trainer = Trainer(model, config=cfg, progress=False, log=None)
        trainer.train(x[:64], y[:64])
        return trainer, (0.1 if cfg.crop else 0.4)

    monkeypatch.setattr(budget, "_probe_steps", fake_probe)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.01, crop=24, crop_until=0.75)
    x = torch.randint(0, 256, (640, 3, 32, 32), dtype=torch.uint8)
    p = budget.plan(600.0, create_model("fastnet", width=0.125), cfg, x, torch.randint(0, 10, (640,)), 100)
    assert seen == [24, 0]
    assert p.step_s == pytest.approx(0.75 * 0.1 + 0.25 * 0.4) and p.crop_ratio == pytest.approx(0.25)
    assert "a crop step 0.25x a full one" in p.line()


# A budgeted CLI run with crops (and selection, as the fast90-sel recipe trains) is in test_selection.py:
# test_a_budgeted_run_with_selection_and_crops_end_to_end.


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--crop", "24", "--crop-until", "0"], "in (0, 1]"),
        (["--crop", "24", "--crop-until", "1.5"], "in (0, 1]"),
        (["--crop", "24", "--crop-until", "nan"], "in (0, 1]"),
        (["--crop", "24", "--crop-until", "-0.2"], "in (0, 1]"),
        (["--crop-until", "0.5"], "add --crop PX"),
    ],
)
def test_bad_crop_until_is_refused_in_one_line(tmp_path, args, needle):
    proc = cli_in_process("train", "--model", "fastnet", *args, "--out", tmp_path, "--name", "bad")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "bad").exists()
