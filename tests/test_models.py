"""Registry-driven model tests: every registered model honours the one contract."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from notebook_reference import notebook_cnn3_wide
from torch import nn

from cifarlab.core.errors import ConfigError
from cifarlab.models.registry import count_parameters, create_model, forward_flops, list_models

# Parameter counts of the notebook's networks, computed by hand from its layer list:
# e.g. cnn3 = convs (896 + 9248 + 18496 + 36928 + 73856) + BN 2*(32+32+64+64+128) + 2048*256+256 + 256*10+10.
NOTEBOOK_PARAMS = {
    "softmax": 3072 * 10 + 10,
    "mlp_first": 3072 * 96 + 96 + 96 * 10 + 10,
    "mlp_final": 3072 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10,
    "cnn1": (3 * 64 * 9 + 64) + (64 * 32 * 9 + 32) + 8192 * 256 + 256 + 2570,
    "cnn2": (3 * 32 * 9 + 32) + 64 + (32 * 64 * 9 + 64) + 128 + 4096 * 256 + 256 + 2570,
    "cnn3": 667_178,
    "cnn3_wide": (3 * 64 * 9 + 64)
    + 3 * (64 * 64 * 9 + 64)
    + (64 * 128 * 9 + 128)
    + 2 * (4 * 64 + 128)
    + 2048 * 256
    + 256
    + 2570,
    "resnet18": 11_173_962,
    "resnet9": 6_573_120,  # Page's DAWNBench ResNet-9 (no biases on convs, bias-free head)
    # whiten 24*3*2*2+24, groups 24->64, 64->256, 256->256 (two convs, two scale-free BNs each), head 256*10
    "fastnet": 24 * 12 + 24 + sum(9 * a * b + 9 * b * b + 4 * b for a, b in ((24, 64), (64, 256), (256, 256))) + 2560,
}

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference"


@pytest.mark.parametrize("name", list_models())
def test_contract_shape_finite_and_gradients(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(4, 3, 32, 32)
    out = model(x)
    assert out.shape == (4, 10)
    assert torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing}"
    zero = [n for n, p in trainable if p.grad.abs().sum() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"


@pytest.mark.parametrize("name", list_models())
def test_parameter_counts(name):
    from test_zoo import ZOO_SIZES  # the zoo's counts, each beside the published figure it agrees with

    expected = {**NOTEBOOK_PARAMS, **{k: params for k, (params, _) in ZOO_SIZES.items()}}
    assert name in expected, f"add the expected parameter count of new model '{name}'"
    with torch.device("meta"):  # shapes only: wrn28_10's 36M parameters need no memory here
        assert count_parameters(create_model(name)) == expected[name]


@pytest.mark.parametrize("name", list_models())
def test_num_classes_and_eval_determinism(name):
    model = create_model(name, num_classes=7).eval()
    x = torch.rand(3, 3, 32, 32)
    assert model(x).shape == (3, 7)
    assert torch.equal(model(x), model(x))


def test_flops_match_hand_count():
    # softmax: one 3072x10 matmul (2 FLOPs per multiply-add) -> 61440; cnn1 convs+linears by hand.
    assert forward_flops(create_model("softmax")) == 2 * 3072 * 10
    cnn1 = 2 * (3 * 64 * 9 * 1024 + 64 * 32 * 9 * 1024 + 8192 * 256 + 256 * 10)
    assert forward_flops(create_model("cnn1")) == cnn1


def test_xavier_init_on_notebook_models_only():
    torch.manual_seed(0)
    w = create_model("mlp_final")[1].weight  # Linear(3072, 1024)
    expected_std = (2.0 / (3072 + 1024)) ** 0.5
    assert abs(w.std().item() - expected_std) / expected_std < 0.02
    # cnn3 keeps PyTorch's default (Kaiming-uniform) init, as in the notebook: bounded by 1/sqrt(fan_in)
    conv = create_model("cnn3")[0]
    bound = 1 / (3 * 9) ** 0.5
    assert conv.weight.abs().max().item() <= bound + 1e-6  # Xavier-normal (std 0.08) would exceed it
    assert create_model("cnn2")[0].weight.abs().max().item() > bound  # ...as cnn2's Xavier init does


def test_unknown_model_suggests_closest():
    with pytest.raises(ConfigError, match="Did you mean 'cnn3_wide'"):
        create_model("cnn3wide")


@pytest.mark.skipif(not (REFERENCE / "notebook-weights").exists(), reason="notebook weights not in ../shared")
def test_notebook_weights_load_and_match_plain_sequential():
    state = torch.load(REFERENCE / "notebook-weights" / "cnn3.pth", map_location="cpu", weights_only=True)
    ours = create_model("cnn3_wide")
    ours.load_state_dict(state)
    ref = notebook_cnn3_wide()
    ref.load_state_dict(state)
    x = torch.rand(16, 3, 32, 32)
    assert torch.equal(ours.eval()(x), ref.eval()(x))
    mlp = torch.load(REFERENCE / "notebook-weights" / "mlp_first.pth", map_location="cpu", weights_only=True)
    create_model("mlp_first").load_state_dict(mlp)
    assert isinstance(mlp, OrderedDict)


def test_fastnet_whitening_decorrelates_patches():
    torch.manual_seed(0)
    model = create_model("fastnet")
    x = (torch.rand(400, 3, 32, 32) * 255).to(torch.uint8)
    x[:, 1] = x[:, 0]  # strongly correlated channels: whitening must undo it
    model.init_from_data(x)
    z = torch.nn.functional.conv2d(model.normalize(x.float() / 255), model.whiten.weight)[:, :12]
    z = z.permute(1, 0, 2, 3).reshape(12, -1)
    cov = torch.cov(z)
    strong = cov.diag()[:8]  # the strongest directions come out with unit variance...
    assert torch.allclose(strong, torch.ones(8), atol=0.05)
    off = cov[:8, :8] - torch.diag(cov.diag()[:8])
    assert off.abs().max() < 0.05  # ...and uncorrelated
    assert not model.whiten.weight.requires_grad


def test_fastnet_wider_and_residual_variants():
    # airbench95's widths: same layout as fastnet, wider groups.
    groups95 = sum(9 * a * b + 9 * b * b + 4 * b for a, b in ((24, 128), (128, 384), (384, 384)))
    assert count_parameters(create_model("fastnet", widths=(128, 384, 384))) == 24 * 12 + 24 + groups95 + 3840
    # airbench96's: a third conv and scale-free BN per group.
    groups96 = sum(9 * a * b + 2 * 9 * b * b + 6 * b for a, b in ((24, 128), (128, 512), (512, 512)))
    assert count_parameters(create_model("fastnet", widths=[128, 512, 512], depth=3)) == 24 * 12 + 24 + groups96 + 5120


def test_fastnet_depth3_group_adds_its_input_after_the_last_two_convs():
    torch.manual_seed(0)
    model = create_model("fastnet", widths=(8, 16, 16), depth=3).eval()
    g = model.groups[1]
    x = torch.randn(2, 8, 16, 16)
    # reference, op by op from the definition: conv-pool-BN-GELU, then x0 + GELU(BN(conv(GELU(BN(conv(x0))))))
    bn = lambda m, t: torch.nn.functional.batch_norm(
        t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps
    )  # noqa: E731
    x0 = torch.nn.functional.gelu(bn(g.norm1, torch.nn.functional.max_pool2d(g.conv1(x), 2)))
    y = torch.nn.functional.gelu(bn(g.norm2, g.conv2(x0)))
    y = torch.nn.functional.gelu(bn(g.norm3, g.conv3(y))) + x0
    assert torch.allclose(g(x), y, atol=1e-6)
    # the two-conv group has no residual
    assert not hasattr(create_model("fastnet", width=0.25).groups[0], "conv3")


def test_fastnet_stem_stride_2_whitens_non_overlapping_patches():
    torch.manual_seed(0)
    model = create_model("fastnet", width=0.25, stem_stride=2)
    x = (torch.rand(64, 3, 32, 32) * 255).to(torch.uint8)
    model.init_from_data(x)
    z = x.float() / 255
    stem = model.act(model.whiten(model.normalize(z)))
    assert stem.shape == (64, 24, 16, 16)
    # reference: the 12 values of each non-overlapping 2x2 patch, (c, kh, kw) order, times the filters
    patches = model.normalize(z).unfold(2, 2, 2).unfold(3, 2, 2).permute(0, 2, 3, 1, 4, 5).reshape(64, 16, 16, 12)
    ref = patches @ model.whiten.weight.reshape(24, 12).T + model.whiten.bias
    assert torch.allclose(stem, model.act(ref).permute(0, 3, 1, 2), atol=1e-5)
    assert model(z).shape == (64, 10)
    assert forward_flops(model) < forward_flops(create_model("fastnet", width=0.25)) / 3


def test_fastnet_depth_per_group():
    # depth=(2, 2, 3): a third conv (and its scale-free BN) in the last group only
    model = create_model("fastnet", widths=[32, 128, 256], depth=[2, 2, 3])
    assert [hasattr(g, "conv3") for g in model.groups] == [False, False, True]
    groups = sum(9 * a * b + 9 * b * b + 4 * b for a, b in ((24, 32), (32, 128), (128, 256))) + 9 * 256 * 256 + 2 * 256
    assert count_parameters(model) == 24 * 12 + 24 + groups + 2560
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": d} for d in (4, None, 2.5, "223", True, [2, 3], [2, 2, 4], [2, 2, 2.5], [2, 2, 3.0], [2, 2, True])]
    + [{"widths": (64, 256)}, {"widths": (64, 0, 256)}, {"stem_stride": 3}],
)
def test_fastnet_rejects_bad_options(kwargs):
    with pytest.raises(ValueError, match="fastnet"):
        create_model("fastnet", **kwargs)


def test_create_model_option_errors(monkeypatch):
    from cifarlab.models import registry as models

    with pytest.raises(ConfigError, match=r"^model 'cnn3' has no option width; its options: none$"):
        create_model("cnn3", width=2)

    def broken(num_classes: int = 10, depth: int = 2):
        return None + depth  # a bug inside a builder, not a bad option

    monkeypatch.setitem(models._REGISTRY, "broken", models.ModelInfo("broken", broken, ""))
    with pytest.raises(TypeError):  # without options nothing is reworded
        create_model("broken")
    with pytest.raises(ConfigError, match="cannot be built with depth=3") as info:
        create_model("broken", depth=3)
    assert isinstance(info.value.__cause__, TypeError)  # the API keeps the original traceback

    def open_ended(num_classes: int = 10, **options):  # a builder that takes any option itself
        return nn.Linear(options["features"], num_classes)

    monkeypatch.setitem(models._REGISTRY, "open", models.ModelInfo("open", open_ended, ""))
    assert create_model("open", features=5).in_features == 5
