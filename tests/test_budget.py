"""--time-budget: parsing, the plan's arithmetic against a reference, the guard, and a budgeted run
end to end (its folder's summary records budget, plan and actual time; no overrun past 10%)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_cli import _SHARED, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.config.schema import TrainConfig
from cifarlab.core.durations import parse_duration
from cifarlab.core.errors import ConfigError
from cifarlab.training.budget import BudgetGuard, RunCosts
from cifarlab.training.plan import StepPlan


@pytest.mark.parametrize(
    "text, seconds",
    [("10m", 600), ("90s", 90), ("1h30m", 5400), ("1.5h", 5400), ("45", 45), (" 2m 30s ", 150), (120, 120)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "0", "0m", "-5m", "m", "5m-", "inf", float("nan"), -3])
def test_bad_durations(text):
    with pytest.raises(ConfigError, match="--time-budget"):
        parse_duration(text)


def _reference_cost(epochs, step_s, spe, eval_s, ckpt_s, eval_last=None, restores=True):
    """Epoch by epoch, as the Trainer runs them: a partial last epoch, its evaluation and checkpoint."""
    total_steps, t, whole = max(1, round(spe * epochs)), 0.0, math.ceil(epochs)
    for e in range(1, whole + 1):
        t += min(spe, total_steps - (e - 1) * spe) * step_s + ckpt_s
        if eval_last is None or e > whole - eval_last:
            t += eval_s
    return t + eval_s if restores else t  # a best epoch's restored weights are evaluated once more


@pytest.mark.parametrize("epochs", [1, 1.5, 2.37, 7, 12.01])
@pytest.mark.parametrize("eval_last", [None, 1, 3])
@pytest.mark.parametrize("restores", [True, False])
def test_cost_matches_an_epoch_by_epoch_reference(epochs, eval_last, restores):
    assert RunCosts(0.2, 176, 9.0, 0.3, eval_last, restores).seconds(epochs) == pytest.approx(
        _reference_cost(epochs, 0.2, 176, 9.0, 0.3, eval_last, restores)
    )


@pytest.mark.parametrize(
    "overrides, restores",
    [
        ({}, True),  # a validation split is watched; the best epoch's weights may come back
        ({"val_size": 0}, False),  # nothing watched: the last weights, already evaluated (fast90 and co.)
        ({"val_size": 0, "select_on": "test"}, True),  # the notebook's protocol watches test
        ({"restore_best": False}, False),
    ],
)
def test_the_plan_reserves_a_last_evaluation_only_for_restored_weights(monkeypatch, overrides, restores):
    from cifarlab import experiment
    from cifarlab.config.overrides import apply_overrides
    from cifarlab.config.schema import ExperimentConfig
    from cifarlab.data.splits import Split, Splits

    seen = {}

    def fake_plan(budget_s, model, cfg, x, y, eval_images, restores, tta_share=None):
        seen.update(eval_images=eval_images, restores=restores)
        raise ConfigError("stop here")

    monkeypatch.setattr(experiment, "budget_plan", fake_plan)
    config = apply_overrides(ExperimentConfig(model="softmax"), {"time_budget": 60.0, **overrides})
    split = Split(torch.zeros(10, 3, 32, 32, dtype=torch.uint8), torch.zeros(10, dtype=torch.long))
    val = split if config.data.val_size > 0 else None
    with pytest.raises(ConfigError, match="stop here"):
        experiment.plan_budget(config, Splits(split, val, split, ("a",)), torch.nn.Identity(), print)
    assert seen == {"eval_images": 20 if val is not None else 10, "restores": restores}


@pytest.mark.parametrize("budget", [10.0, 19.0, 60.0, 600.0, 3600.0])
@pytest.mark.parametrize("eval_last", [None, 1])
def test_fit_steps_is_the_largest_that_fits(budget, eval_last):
    costs = RunCosts(0.2, 176, 9.0, 0.3, eval_last, restores=eval_last is None)
    s = costs.fit_steps(budget)
    assert s == 0 or costs.seconds_for_steps(s) <= budget
    assert costs.seconds_for_steps(s + 1) > budget
    assert costs.fit_epochs(budget) == s / 176


def test_a_fraction_of_an_epoch_pays_for_what_it_does():
    # 100 steps of a 391-step epoch: the steps, one checkpoint and, for a run that keeps its last
    # weights and evaluates only at the end, one evaluation (no restore, no per-epoch validation)
    keep_last = RunCosts(1.0, 391, 30.0, 2.0, eval_last=1, restores=False)
    assert keep_last.seconds_for_steps(100) == 100 + 30 + 2
    assert keep_last.fit_steps(300.0) == 300 - 30 - 2
    assert keep_last.fit_steps(600.0) == 600 - 30 - 2 * 2  # 566 steps start a second epoch: its checkpoint too
    # one that validates every epoch and may restore the best: the evaluation after each, plus one
    assert RunCosts(1.0, 391, 30.0, 2.0).seconds_for_steps(500) == 500 + 2 * 30 + 30 + 2 * 2


class _FakeTrainer:
    """What the guard sees of a Trainer: its step plan, and nothing else."""

    def __init__(self, steps_per_epoch, total, step, t_start):
        self.plan = StepPlan(steps_per_epoch, total, done=step, started=t_start)  # no progressive resizing


def test_guard_shrinks_a_run_that_turned_out_slower(monkeypatch):
    now = 100.0
    monkeypatch.setattr("cifarlab.training.budget.time.perf_counter", lambda: now)
    # planned 10 epochs of 100 steps in 100 s, but 2 epochs took 40 s: 60 s left, 0.2 s a step
    trainer = _FakeTrainer(100, 1000, 200, t_start=now - 40)
    logs = []
    BudgetGuard(100.0, eval_s=1.0, log=logs.append).on_epoch_end(trainer, {})
    assert trainer.plan.total == 200 + int((0.95 * 60 - 1.0) / 0.2)  # 480 steps
    assert logs and "re-planned to 4.80 epochs" in logs[0]


def test_guard_leaves_a_run_on_plan_alone(monkeypatch):
    monkeypatch.setattr("cifarlab.training.budget.time.perf_counter", lambda: 50.0)
    trainer = _FakeTrainer(100, 940, 200, t_start=30.0)  # 0.1 s a step: 950 steps fit, within 3% of the plan
    BudgetGuard(100.0, eval_s=1.0, log=None).on_epoch_end(trainer, {})
    assert trainer.plan.total == 940


def test_guard_fills_the_budget_near_the_end(monkeypatch):
    # 900 of 1000 steps in 90 s of a 100 s budget: 0.95 * 10 - 1 = 8.5 s left, 85 steps, so 985 in all.
    # 15 steps is 1.5% of the run (the old dead band, 3% of all steps, left them: 1.5 s of 100 unused)
    # but 15% of the 100 steps still to come, so the guard re-plans.
    monkeypatch.setattr("cifarlab.training.budget.time.perf_counter", lambda: 190.0)
    trainer = _FakeTrainer(100, 1000, 900, t_start=100.0)
    logs = []
    BudgetGuard(100.0, eval_s=1.0, log=logs.append).on_epoch_end(trainer, {})
    assert trainer.plan.total == 985
    assert logs == ["time budget: re-planned to 9.85 epochs (10.0 s an epoch so far; planned 10.00)"]


@pytest.mark.parametrize(
    "eval_s, tta, share, expect",
    [
        (40.0, "flip", 0.1, (20.0, "none")),  # resnet20, one thread of a Zen 3, 2 minutes: 20 s of extra views
        (11.0, "flip", 0.1, (11.0, None)),  # 5.5 s of extra views: under 12 s, kept
        (60.0, "flip_translate", 0.1, (10.0, "none")),
        (40.0, "flip", None, (40.0, None)),  # a recipe measured with its views (fast): never turned off
        (40.0, "none", 0.1, (40.0, None)),
    ],
)
def test_test_time_views_are_dropped_only_where_they_would_cost_over_a_tenth(eval_s, tta, share, expect):
    from cifarlab.training.budget import views_that_pay

    assert views_that_pay(eval_s, tta, 120.0, share) == expect


def test_guard_re_plans_within_an_epoch_every_30_s(monkeypatch):
    # one long epoch of 1000 steps planned at 0.1 s a step in 100 s; it runs at 0.2 s a step. Step
    # hooks before 30 s of training leave it alone; the first after 30 s re-fits it to the time left.
    clock = {"now": 10.0}
    monkeypatch.setattr("cifarlab.training.budget.time.perf_counter", lambda: clock["now"])
    trainer = _FakeTrainer(1000, 1000, 100, t_start=0.0)  # 100 steps in 20 s, then 150 in 30 s
    guard = BudgetGuard(100.0, eval_s=2.0, log=None)
    clock["now"] = 20.0
    guard.on_step_end(trainer)
    assert trainer.plan.total == 1000
    trainer.plan.done, clock["now"] = 150, 30.0
    guard.on_step_end(trainer)
    assert trainer.plan.total == 150 + int((0.95 * 70 - 2.0) / 0.2)  # 150 + 322 steps
    planned = trainer.plan.total
    trainer.plan.done, clock["now"] = 200, 45.0  # 15 s after that re-plan: too soon for another
    guard.on_step_end(trainer)
    assert trainer.plan.total == planned


TINY_NET = [
    "--model",
    "resnet20",
    "--model-arg",
    "width=8",
    "--train-limit",
    "1000",
    "--val-size",
    "200",
    "--no-progress",
    "--no-report",
    "--threads",
    "1",
]


def test_a_budgeted_run_end_to_end(fake_folder, tmp_path):
    # 1,000 test images: the evaluation the plan reserves stays small, so a short budget fits epochs
    # even on a loaded machine (with all 10,000, one epoch and its evaluation took ~26 s under CI load).
    # --val-size: the recipe's per-epoch validation stays under a budget; batch 32, 25 steps an epoch
    # (under a loaded 2-core CI a step of this net took up to 160 ms, 200 val + 200 test images ~1 s)
    args = [*TINY_NET, "--test-limit", "200", "--batch-size", "32", "--time-budget", "20s"]
    out = cli("train", *args, "--data", fake_folder, "--out", tmp_path, "--name", "b").stdout
    assert "time budget 20 s:" in out and "planned" in out
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    plan = summary["time_budget"]
    assert plan["budget_s"] == 20 and plan["epochs"] >= 1 and plan["steps_per_epoch"] == 25
    used = plan["probe_s"] + summary["wall_seconds"]
    assert used <= 1.10 * 20, f"overran the budget: {used:.1f} s of 20 s"  # the limit
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["train"]["time_budget"] == 20 and config["recipe"] == "zoo-sgd"
    assert f"time budget: {used:.0f}s used of 20s" in out


def test_a_sub_epoch_budget_trains_within_it_and_writes_a_complete_run(fake_folder, tmp_path):
    # resnet20 at width 8 takes ~0.1 s a step at batch 64 on one thread: 30 s of training fit well
    # under the 782 steps of an epoch of all 50,000 images, and well over the 50-step floor.
    # No validation split: the zoo's budget rule (all images, the last weights evaluated once).
    args = [*TINY_NET[:4], "--batch-size", "64", "--test-limit", "500", *TINY_NET[-4:]]
    out = cli("train", *args, "--time-budget", "30s", "--data", fake_folder, "--out", tmp_path, "--name", "s").stdout
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    plan = summary["time_budget"]
    assert 50 / 782 <= plan["epochs"] < 1 and plan["steps_per_epoch"] == 782, plan
    assert summary["epochs_run"] == 1 and summary["epochs_trained"] < 1 and summary["val_images"] == 0
    assert summary["selected_on"] == "last epoch" and summary["test_acc"] > 0.2  # chance is 0.1
    used = plan["probe_s"] + summary["wall_seconds"]
    assert 0.6 * 30 <= used <= 1.10 * 30, f"used {used:.1f} s of 30 s"
    rows = (tmp_path / "s" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2 and "of 782 batches" in out
    for name in ("config.json", "model.pt", "last.pt", "curves.png"):
        assert (tmp_path / "s" / name).stat().st_size > 0, name


def test_a_budget_below_the_step_floor(fake_folder, tmp_path):
    proc = cli_in_process(
        "train",
        *TINY_NET[:4],
        "--val-size",
        "200",
        "--time-budget",
        "1s",
        "--data",
        fake_folder,
        "--out",
        tmp_path,
        "--name",
        "x",
    )
    assert_one_line_error(proc, "--time-budget 1 s is too short here", "at least 50", "raise --time-budget to")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--time-budget", "soon"], "expects a duration"),
        (["--time-budget", "10m", "--epochs", "3"], "drop --epochs"),
        (["--model", "resnet_20"], "Did you mean 'resnet20'"),
        (["--model", "resnet20", "--model-arg", "depth=21"], "6n+2"),
        (["--model", "wrn16_8", "--model-arg", "depth=27"], "6n+4"),
        (["--model", "vit", "--model-arg", "heads=5"], "multiple of heads"),
    ],
)
def test_bad_model_and_budget_flags(capsys, tmp_path, args, needle):
    proc = cli_in_process("train", *args, "--out", tmp_path, "--name", "x") if "soon" not in args else None
    if proc is None:  # argparse rejects it: exit 2 with argparse's own one line
        with pytest.raises(SystemExit) as e:
            from cifarlab.cli.app import main

            main(["train", *args, "--out", str(tmp_path)])
        assert e.value.code == 2 and needle in capsys.readouterr().err
    else:
        assert_one_line_error(proc, needle)
    assert not (tmp_path / "x").exists()


def test_mismatched_recipe_warns_in_one_line(tmp_path):
    from cifarlab.cli.app import build_parser, config_from_args

    with pytest.warns(
        UserWarning,
        match=r"recipe 'fast' was made for fastnet, not resnet18; settings that may not "
        r"transfer: epochs 4.5, lr 1.125, optimizer 'muon', momentum 0.85",
    ):
        config = config_from_args(build_parser().parse_args(["train", "--recipe", "fast", "--model", "resnet18"]))
    assert config.recipe == "fast" and config.model == "resnet18" and config.model_kwargs == {}


def test_zoo_bench_refuses_bad_input(tmp_path):
    assert_one_line_error(cli_in_process("bench", "--zoo", "--out", tmp_path), "--time-budget")
    assert_one_line_error(
        cli_in_process("bench", "--zoo", "--time-budget", "1m", "--models", "resnet_20", "--out", tmp_path),
        "Did you mean 'resnet20'",
    )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------- the frontier


@pytest.mark.parametrize(
    "machine, budget, recipe, says",
    [
        ("cpu-bf16", 30, "fast", "the quickest measured; 30 s is shorter"),
        ("cpu-bf16", 299, "fast", "the most measured within 5.0 min on a cpu-bf16 host (85.38% in 2.0 min"),
        ("cpu-bf16", 300, "fast89", "the most measured within 5.0 min on a cpu-bf16 host (88.17% in 5.0 min"),
        ("cpu-bf16", 419, "fast89", "within 7.0 min on a cpu-bf16 host (88.17% in 5.0 min"),
        ("cpu-bf16", 599, "fast89", "within 10.0 min on a cpu-bf16 host (89.33% in 7.0 min"),
        ("cpu-bf16", 600, "fast90-sel", "within 10.0 min on a cpu-bf16 host (90.00% in 10.0 min"),
        ("cpu-bf16", 1100, "fast90-sel", "within 18.3 min on a cpu-bf16 host (90.00% in 10.0 min"),
        ("cpu-bf16", 1200, "fast90-sel", "within 20.0 min on a cpu-bf16 host (91.28% in 20.0 min"),
        ("cpu-bf16", 2099, "fast90-sel", "within 35.0 min on a cpu-bf16 host (91.28% in 20.0 min"),
        ("cpu-bf16", 2400, "fast90-sel", "within 40.0 min on a cpu-bf16 host (91.41% in 35.0 min"),
        ("cpu-bf16", 3600, "fast90", "within 60.0 min on a cpu-bf16 host (91.76% in 60.0 min"),
        ("cpu-fp32", 100, "fast", "the quickest measured; 100 s is shorter"),
        ("cpu-fp32", 149, "fast", "the most known within 2.5 min on a cpu-fp32 host (81.41% in 2.0 min, estimated"),
        ("cpu-fp32", 299, "fast", "the most measured within 5.0 min on a cpu-fp32 host (83.44% in 2.5 min"),
        ("cpu-fp32", 749, "fast", "the most known within 12.5 min on a cpu-fp32 host (87.16% in 10.0 min, estimated"),
        ("cpu-fp32", 750, "fast", "the most known within 12.5 min on a cpu-fp32 host (87.47% in 12.5 min, estimated"),
        ("cpu-fp32", 899, "fast", "the most known within 15.0 min on a cpu-fp32 host (87.47% in 12.5 min, estimated"),
        ("cpu-fp32", 900, "fast89-wide", "within 15.0 min on a cpu-fp32 host (88.41% in 15.0 min, estimated"),
        ("cpu-fp32", 1199, "fast89-wide", "within 20.0 min on a cpu-fp32 host (88.41% in 15.0 min, estimated"),
        (
            "cpu-fp32",
            1200,
            "fast89-wide",
            "the most known within 20.0 min on a cpu-fp32 host (89.55% in 20.0 min, estimated",
        ),
        ("cpu-fp32", 3599, "fast90", "the most measured within 60.0 min on a cpu-fp32 host (90.52% in 54.3 min"),
        (
            "cpu-fp32",
            3600,
            "fast90-sel",
            "the most known within 60.0 min on a cpu-fp32 host (91.28% in 60.0 min, estimated",
        ),
        ("cpu-amx", 60, "fast", "the quickest measured; 60 s is shorter"),
        ("cpu-amx", 299, "fast", "the most measured within 5.0 min on a cpu-amx host (86.22% in 2.0 min"),
        ("cpu-amx", 300, "fast89", "the most measured within 5.0 min on a cpu-amx host (89.37% in 5.0 min"),
        ("cpu-amx", 600, "fast90-sel", "within 10.0 min on a cpu-amx host (91.19% in 10.0 min"),
        ("cpu-amx", 1200, "fast90-sel", "within 20.0 min on a cpu-amx host (91.19% in 10.0 min"),
        ("cpu-amx", 3600, "fast90", "within 60.0 min on a cpu-amx host (91.76% in 60.0 min"),
        ("cuda", 30, "fast90", "on a cuda host (90.00% in 8 s"),
        ("cuda", 120, "fast94", "(93.50% in 60 s"),
    ],
)
def test_a_budget_alone_picks_the_recipe_measured_best_within_it(monkeypatch, machine, budget, recipe, says):
    from cifarlab.config import frontier

    monkeypatch.setattr(frontier, "machine_class", lambda device: machine)
    got, line = frontier.pick(budget, torch.device("cpu"))
    assert got == recipe and says in line and "\n" not in line
    # the rule, recomputed from the table: the most accurate point that fits, else the quickest
    points = [p for p in frontier.TABLE if p.machine == machine]
    fits = [p for p in points if p.seconds <= budget]
    expect = max(fits, key=lambda p: p.acc) if fits else min(points, key=lambda p: p.seconds)
    assert got == expect.recipe


def test_resolve_uses_the_frontier_only_without_model_and_recipe(monkeypatch):
    from cifarlab.config import frontier
    from cifarlab.config.recipes import resolve

    monkeypatch.setattr(frontier, "machine_class", lambda device: "cpu-bf16")
    notes: list[str] = []
    config = resolve(None, None, None, {"time_budget": 1200.0, "device": "cpu"}, note=notes.append)
    assert config.recipe == "fast90-sel" and config.train.time_budget == 1200.0 and len(notes) == 1
    notes.clear()
    assert resolve(None, "resnet20", None, {"time_budget": 1200.0}, note=notes.append).recipe == "zoo-sgd"
    assert resolve("fast", None, None, {"time_budget": 1200.0}, note=notes.append).recipe == "fast"
    assert resolve(None, None, None, {}, note=notes.append).recipe == "fast" and notes == []


@pytest.mark.parametrize("replan_to, evaluated", [(12, [4]), (6, [2]), (None, [3])])
def test_a_re_planned_run_still_evaluates_only_its_last_epochs(replan_to, evaluated):
    """eval_from counts from the end: a run planned for 3 epochs that evaluates its last one (eval_from
    3) and is stretched to 4 by the guard evaluates epoch 4 only; shrunk to 2, epoch 2 only."""
    from cifarlab.models.registry import create_model
    from cifarlab.training.trainer import Trainer

    class Replan:
        def on_epoch_end(self, trainer, row):
            if replan_to is not None and row["epoch"] == 1:
                trainer.plan.resize(replan_to)

    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (96, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (96,))
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.01, eval_from=3, select_on="test")
    net = create_model("fastnet", width=0.125)
    history = Trainer(net, config=cfg, progress=False, log=None, callbacks=[Replan()]).train(x, y, x[:40], y[:40])
    assert [r["epoch"] for r in history if not math.isnan(r["test_acc"])] == evaluated


def test_a_model_too_slow_for_the_floor_is_refused_after_its_warm_up(monkeypatch):
    # two warm-up steps of 3 s: 50 steps need at least 75 s (a later step is at least half a warm one),
    # so a 60 s budget is refused there, before the timed steps and the evaluation spend more of it
    from cifarlab.models.registry import create_model
    from cifarlab.training import budget

    calls = []

    class SlowTrainer:
        def __init__(self, net, config, **kw):
            self.net, self.history = net, [{"seconds": 6.0}]

        def train(self, x, y):
            calls.append(len(x))

    monkeypatch.setattr("cifarlab.training.trainer.Trainer", SlowTrainer)
    cfg = TrainConfig(batch_size=32)
    x, y = torch.zeros(6400, 3, 32, 32, dtype=torch.uint8), torch.zeros(6400, dtype=torch.long)
    with pytest.raises(ConfigError, match=r"a training step takes about 3 s, and a run needs at least 50; raise"):
        budget.plan(60.0, create_model("softmax"), cfg, x, y, eval_images=100)
    assert calls == [64]  # the warm-up only
    with pytest.raises(ConfigError, match="at least 20; raise --time-budget to at least 3[0-2]s"):
        budget.plan(25.0, create_model("softmax"), cfg, x[:640], y[:640], eval_images=100)  # a 20-batch set


def test_a_step_plan_resizes_and_what_depends_on_its_end_follows():
    plan = StepPlan.for_epochs(10, 3, warmup_epochs=0.5, crop_until=0.5, eval_from=3)
    assert (plan.total, plan.warmup, plan.last_epoch, plan.eval_from, plan.crop_steps) == (30, 5, 3, 3, 15)
    told = []
    plan.on_resize(told.append)
    plan.done = 12
    assert plan.resize(45) == 45 and told == [45]
    # the last epoch is a half one; the evaluated last epoch moved with the end; crops still half the run
    assert (plan.last_epoch, plan.steps_in(5), plan.eval_from, plan.crop_steps) == (5, 5, 5, 22)
    assert plan.resize(5) == 12 and told == [45, 12]  # never below the steps taken
    state = plan.state_dict()
    again = StepPlan.for_epochs(10, 3)
    again.load_state_dict(state)  # a resumed run keeps the guard's length
    assert (again.done, again.total) == (12, 12)
    longer = StepPlan.for_epochs(10, 4)
    longer.load_state_dict(state)  # resumed with a new --epochs: that length wins
    assert (longer.done, longer.total) == (12, 40)


@pytest.mark.parametrize("flags, bf16, machine", [({"amx_bf16", "avx512_bf16"}, True, "cpu-amx"),
                                                  ({"avx512_bf16"}, True, "cpu-bf16"),
                                                  ({"amx_bf16"}, False, "cpu-fp32"),
                                                  (set(), False, "cpu-fp32")])  # fmt: skip
def test_the_host_class_comes_from_the_cpu_flags(monkeypatch, flags, bf16, machine):
    from cifarlab.config import frontier
    from cifarlab.core import host

    monkeypatch.setattr(host, "cpu_flags", lambda: flags)
    monkeypatch.setattr(host, "cpu_has_fast_bf16", lambda: bf16)
    assert frontier.machine_class(torch.device("cpu")) == machine


def test_a_class_without_rows_gets_its_stand_ins_and_says_so(monkeypatch):
    from cifarlab.config import frontier

    monkeypatch.setattr(frontier, "machine_class", lambda device: "cpu-amx")
    monkeypatch.setattr(frontier, "TABLE", tuple(p for p in frontier.TABLE if p.machine != "cpu-amx"))
    with_stand_in = frontier.pick(600.0, torch.device("cpu"))
    monkeypatch.setattr(frontier, "machine_class", lambda device: "cpu-bf16")
    plain = frontier.pick(600.0, torch.device("cpu"))
    assert with_stand_in[0] == plain[0] == "fast90-sel"
    assert with_stand_in[1] == plain[1] + "; this cpu-amx host has no rows of its own yet and gets the cpu-bf16 ones"
