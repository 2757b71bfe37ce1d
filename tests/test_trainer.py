"""Trainer semantics against reference computations and scripted histories."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cifarlab.config.schema import TrainConfig
from cifarlab.core.errors import ConfigError
from cifarlab.training.history import EarlyStopping
from cifarlab.training.schedules import lr_factor
from cifarlab.training.step import TrainingDiverged, evaluate
from cifarlab.training.trainer import Trainer


def toy_data(n=600, seed=0):
    """Linearly separable-ish images: class k has a brighter channel pattern k."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.rand(n, 3, 32, 32, generator=g) * 0.5
    x.view(n, -1)[torch.arange(n), y * 300] += 0.5
    return (x * 255).to(torch.uint8), y


def softmax_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 10))


# --- early stopping ---------------------------------------------------------------------------


def test_early_stopping_scripted_history():
    accs = [0.5, 0.6, 0.6005, 0.59, 0.61, 0.6105, 0.6, 0.6, 0.9]
    es = EarlyStopping(patience=3, min_delta=0.001)
    improved, stopped_at = [], None
    for epoch, acc in enumerate(accs, 1):
        improved.append(es.update(acc, epoch))
        if es.should_stop:
            stopped_at = epoch
            break
    # 0.6005 does not beat 0.6 by more than 0.001; 0.6105 does not beat 0.61 by more than 0.001.
    assert improved == [True, True, False, False, True, False, False, False]
    assert stopped_at == 8 and es.best_epoch == 5 and es.best == 0.61


def test_early_stopping_disabled_never_stops():
    es = EarlyStopping(patience=-1)
    for epoch in range(1, 50):
        es.update(0.1, epoch)
    assert not es.should_stop and es.best_epoch == 1


def test_trainer_stops_early_and_restores_best_weights():
    x, y = toy_data(400)
    xt, yt = toy_data(200, seed=1)
    # lr 0 after warm-up... simpler: a tiny lr keeps accuracy flat, so patience 2 must stop at epoch 3.
    trainer = Trainer(
        softmax_net(), num_epochs=10, learning_rate=1e-9, patience=2, select_on="test", log=None, progress=False
    )
    history = trainer.train(x, y, xt, yt)
    assert len(history) == 3 and trainer.summary["stopped_early"]
    assert trainer.summary["best_epoch"] == 1
    # summary test_acc is the accuracy of exactly the weights the model holds now
    assert trainer.summary["test_acc"] == evaluate(trainer.net, xt, yt)[1]


def test_patience_without_watched_set_is_refused():
    x, y = toy_data(100)
    with pytest.raises(ConfigError, match="no val set"):
        Trainer(softmax_net(), num_epochs=2, patience=3, log=None).train(x, y)


# --- the loop against a hand-written reference -------------------------------------------------


def test_one_epoch_equals_reference_sgd_loop():
    x, y = toy_data(300)
    bs, lr, seed = 64, 0.05, 7
    trainer = Trainer(
        softmax_net(),
        num_epochs=1,
        learning_rate=lr,
        batch_size=bs,
        seed=seed,
        log=None,
        progress=False,
        momentum=0.9,
        weight_decay=1e-3,
        amp="off",
    )
    trainer.train(x, y)

    ref = softmax_net()
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    losses = []
    for i in range(0, len(x), bs):  # last partial batch kept, like a DataLoader with drop_last=False
        idx = perm[i : i + bs]
        loss = nn.functional.cross_entropy(ref(x[idx].float() / 255), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item() * len(idx))
    for p, q in zip(trainer.net.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)
    assert trainer.history["train_loss"][0] == pytest.approx(sum(losses) / len(x), rel=1e-5)


def test_fractional_epochs_end_with_the_first_batches_of_an_epoch():
    x, y = toy_data(300)
    bs, lr, seed = 64, 0.05, 3
    # 5 steps per epoch; 1.5 epochs is round(7.5) = 8 steps: a full epoch, then 3 batches (192 images)
    trainer = Trainer(
        softmax_net(),
        num_epochs=1.5,
        learning_rate=lr,
        batch_size=bs,
        seed=seed,
        log=None,
        progress=False,
        momentum=0.9,
        amp="off",
    )
    trainer.train(x, y)

    ref = softmax_net()
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    epoch_losses = []
    for batches in (5, 3):
        perm, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(batches):
            idx = perm[i * bs : (i + 1) * bs]
            loss = nn.functional.cross_entropy(ref(x[idx].float() / 255), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        epoch_losses.append(total / min(len(x), batches * bs))
    for p, q in zip(trainer.net.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)
    assert trainer.step == 8 and trainer.history["epoch"] == [1, 2]
    assert trainer.history["train_loss"] == pytest.approx(epoch_losses, rel=1e-5)


def test_same_seed_identical_metrics_different_seed_differs():
    x, y = toy_data(300)
    xv, yv = toy_data(100, seed=2)

    def run(seed):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Flatten(), nn.Linear(3072, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
        t = Trainer(net, num_epochs=3, learning_rate=0.05, seed=seed, log=None, progress=False)
        h = t.train(x, y, X_val=xv, y_val=yv)
        # NaN (no test set) never equals itself: compare it as None
        return [{k: None if v != v else v for k, v in r.items() if k != "seconds"} for r in h]

    a, b, c = run(1), run(1), run(2)
    assert a == b
    assert a != c


def test_notebook_style_signature_with_classes():
    x, y = toy_data(200)
    t = Trainer(
        softmax_net(),
        num_epochs=2,
        learning_rate=1e-3,
        weight_decay=0,
        batch_size=50,
        patience=-1,
        loss=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        log=None,
        progress=False,
    )
    h = t.train(x, y, x, y)
    assert isinstance(t.optimizer, torch.optim.Adam)
    assert len(h["test_acc"]) == 2 and h["epoch"] == [1, 2]
    assert math.isnan(h["val_acc"][0])
    assert h["train_loss"][1] < h["train_loss"][0]


def test_label_smoothing_reaches_the_loss():
    t = Trainer(softmax_net(), label_smoothing=0.2, log=None)
    assert t.loss_fn.label_smoothing == 0.2


def test_non_finite_loss_stops_with_a_hint():
    x, y = toy_data(100)
    nan_loss = lambda out, target: (out * float("nan")).sum()  # noqa: E731
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        Trainer(softmax_net(), num_epochs=2, loss=nan_loss, log=None, progress=False).train(x, y)


def test_unknown_option_and_bad_values():
    with pytest.raises(ConfigError, match="Did you mean 'momentum'"):
        Trainer(softmax_net(), momentun=0.9)
    with pytest.raises(ConfigError, match="--lr must be a positive"):
        Trainer(softmax_net(), learning_rate=0)
    with pytest.raises(ConfigError, match="unknown optimizer 'adm'. Did you mean 'adam'"):
        Trainer(softmax_net(), optimizer="adm")


# --- schedules --------------------------------------------------------------------------------


def test_schedules_are_pure_functions_of_the_step():
    total = 100
    assert [lr_factor(s, total) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    # warm-up: linear from 1/10 to 1 over 10 steps, then the schedule
    assert [lr_factor(s, total, "cosine", warmup_steps=10) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_factor(10, total, "cosine", warmup_steps=10) == 1.0
    assert lr_factor(55, total, "cosine", warmup_steps=10) == pytest.approx(0.5)
    assert lr_factor(99, total, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.99)))
    assert lr_factor(50, total, "onecycle") == pytest.approx(0.5)
    assert lr_factor(60, total, "onecycle", warmup_steps=20) == pytest.approx(0.5)
    assert lr_factor(0, total, "onecycle", warmup_steps=20) == pytest.approx(0.05)
    # step: x0.1 every 3 epochs of 10 steps
    assert [lr_factor(s, total, "step", steps_per_epoch=10, step_size=3) for s in (29, 30, 60)] == pytest.approx(
        [1.0, 0.1, 0.01]
    )


@pytest.mark.parametrize(
    "schedule, factors",
    [
        # 8 steps, a 2-step warm-up from 1/2, then linear down towards 0: 1 - k/6 after warm-up step k
        ("onecycle", [1 / 2, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]),
        # the same warm-up, then half a cosine: (1 + cos(pi k / 6)) / 2
        ("cosine", [0.5, 1.0, 1.0, 0.9330127019, 0.75, 0.5, 0.25, 0.0669872981]),
        ("constant", [1 / 2, 1, 1, 1, 1, 1, 1, 1]),
    ],
)
def test_trainer_applies_schedule_per_step(schedule, factors):
    """The LR of every optimizer step, recorded as the optimizer takes it, against values worked out
    by hand (not with the schedule function under test)."""
    x, y = toy_data(100)
    t = Trainer(
        softmax_net(),
        num_epochs=4,
        learning_rate=0.2,
        batch_size=50,
        schedule=schedule,
        warmup_epochs=1,
        log=None,
        progress=False,
    )
    applied, take_step = [], t.optimizer.step

    def recording_step(*args, **kwargs):
        applied.append(t.optimizer.param_groups[0]["lr"])
        return take_step(*args, **kwargs)

    t.optimizer.step = recording_step
    t.train(x, y)
    assert applied == pytest.approx([0.2 * f for f in factors])
    assert t.history["lr"] == pytest.approx([0.2 * f for f in factors[1::2]])  # each epoch's last step
    assert TrainConfig().min_delta == 0.001


@pytest.mark.parametrize(
    "name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)]
)
def test_the_config_names_the_optimizer(name, cls):
    """Given a config (as run_experiment passes one), the Trainer builds the optimizer it names,
    whatever the notebook-style ``optimizer`` argument's default says."""
    t = Trainer(softmax_net(), config=TrainConfig(optimizer=name, lr=0.01), log=None, progress=False)
    assert type(t.optimizer) is cls
    assert Trainer(softmax_net(), optimizer=torch.optim.Adam, log=None).optimizer.__class__ is torch.optim.Adam


def test_trainer_state_exists_before_training():
    """Everything the loop reads is built in __init__ (or declared there); checkpoint_state() before
    training says what to do instead of failing on a missing attribute."""
    from cifarlab.core.errors import CifarlabError

    net = softmax_net()
    t = Trainer(net, learning_rate=0.05, log=None, progress=False)
    optimised = [p for group in t.optimizer.param_groups for p in group["params"]]
    assert sorted(map(id, optimised)) == sorted(id(p) for p in net.parameters())  # every parameter, once
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.05] * len(t.optimizer.param_groups) and t.lr == 0.05
    assert not t.scaler.is_enabled()  # no fp16 on a CPU: nothing to scale
    assert t.plan is None and t.step == 0 and len(t.history) == 0 and t.loader is None
    with pytest.raises(CifarlabError, match="call train"):
        t.checkpoint_state()
