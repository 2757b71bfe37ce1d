"""ConvMuon: Muon steps on conv filters checked against a float64 reference, SGD steps against torch's."""

from __future__ import annotations

import math

import pytest
import torch
from test_trainer import toy_data as toy
from torch import nn

from cifarlab.config.schema import TrainConfig
from cifarlab.models.registry import create_model
from cifarlab.training.muon import NS_COEFFICIENTS, ConvMuon, orthogonalize
from cifarlab.training.optim import param_groups
from cifarlab.training.trainer import Trainer


def test_orthogonalize_keeps_singular_vectors_and_evens_out_singular_values():
    torch.manual_seed(0)
    for shape in [(16, 72), (72, 16)]:
        g = torch.randn(*shape) @ torch.diag(torch.logspace(-1, 1, shape[1]))  # singular values ~100x apart
        u, s, vh = torch.linalg.svd(g, full_matrices=False)
        o = orthogonalize(g)
        core = u.T @ o @ vh.T  # diagonal if o = U S' V^T
        off = core - torch.diag(torch.diagonal(core))
        assert off.abs().max() < 1e-4
        s_new = torch.diagonal(core)
        # Quintic Newton-Schulz lands every singular value in a band around 1, not exactly on it,
        # even when the input's singular values are ~100x apart.
        assert s_new.min() > 0.6 and s_new.max() < 1.25, s_new


def _reference_muon(w, grads, lr, momentum):
    """The Muon update as written in the docstring, in float64, one filter tensor."""
    a, b, c = NS_COEFFICIENTS
    w, buf = w.double().clone(), torch.zeros_like(w, dtype=torch.float64)
    for g in grads:
        g = g.double()
        buf = momentum * buf + g
        g = g + momentum * buf  # Nesterov
        w = w * math.sqrt(w.shape[0]) / w.norm()
        x = g.reshape(w.shape[0], -1)
        tall = x.shape[0] > x.shape[1]
        x = x.T if tall else x
        x = x / x.norm()
        for _ in range(5):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        w = w - lr * (x.T if tall else x).reshape(w.shape)
    return w


def test_conv_muon_matches_reference_and_sgd_part_matches_torch_sgd():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 16, 3, bias=False)  # 16 x 9: tall, so the iterations run on the transpose
    wide = nn.Conv2d(64, 4, 3, bias=False)  # 4 x 576: wide
    lin = nn.Linear(5, 3)
    ref_lin = nn.Linear(5, 3)
    ref_lin.load_state_dict(lin.state_dict())
    w0, wide0 = conv.weight.detach().clone(), wide.weight.detach().clone()
    opt = ConvMuon(
        [
            {"params": list(lin.parameters())},
            {"params": [conv.weight, wide.weight], "muon": True, "lr": 0.05, "momentum": 0.6},
        ],
        lr=0.1,
        momentum=0.85,
        nesterov=True,
        weight_decay=0.01,
    )
    sgd = torch.optim.SGD(ref_lin.parameters(), lr=0.1, momentum=0.85, nesterov=True, weight_decay=0.01)
    grads, wide_grads = [], []
    for _ in range(3):
        g, gw = torch.randn_like(w0), torch.randn_like(wide0)
        grads.append(g), wide_grads.append(gw)
        conv.weight.grad, wide.weight.grad = g.clone(), gw.clone()
        x = torch.randn(4, 5)
        for m in (lin, ref_lin):
            m.zero_grad()
            m(x).square().sum().backward()
        opt.step()
        sgd.step()
    assert torch.allclose(conv.weight.double(), _reference_muon(w0, grads, 0.05, 0.6), atol=1e-5)
    assert torch.allclose(wide.weight.double(), _reference_muon(wide0, wide_grads, 0.05, 0.6), atol=1e-5)
    for p, q in zip(lin.parameters(), ref_lin.parameters()):
        assert torch.equal(p, q)


def test_conv_muon_refuses_non_filters():
    with pytest.raises(ValueError, match="4-D"):
        ConvMuon([{"params": [nn.Parameter(torch.zeros(3, 3))], "muon": True}], lr=0.1)


def test_muon_param_groups_put_trainable_filters_last():
    model = create_model("fastnet", width=0.25)
    groups = param_groups(model, TrainConfig(optimizer="muon", lr=0.5, bn_lr_scale=64, muon_lr=0.1))
    filters = [p for p in model.parameters() if p.dim() == 4 and p.requires_grad]
    assert len(groups) == 3 and groups[-1]["muon"] and groups[-1]["lr"] == 0.1
    assert [id(p) for p in groups[-1]["params"]] == [id(p) for p in filters]
    assert len(filters) == 6  # the frozen whitening filter is not among them
    in_groups = [id(p) for g in groups for p in g["params"]]
    assert sorted(in_groups) == sorted(id(p) for p in model.parameters() if p.requires_grad)


def test_trainer_with_muon_learns_and_keeps_filter_norms():
    x, y = toy(256)
    torch.manual_seed(0)
    model = create_model("cnn2")
    t = Trainer(
        model,
        num_epochs=3,
        learning_rate=0.01,
        optimizer="muon",
        momentum=0.9,
        nesterov=True,
        batch_size=64,
        muon_lr=0.02,
        log=None,
        progress=False,
    )
    t.train(x, y)
    losses = t.history["train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            # Renormalised to sqrt(out) before each step, then moved by at most lr * ||O||.
            assert m.weight.norm().item() == pytest.approx(math.sqrt(m.out_channels), rel=0.1)
    assert any("momentum_buffer" in s for s in t.optimizer.state.values())
