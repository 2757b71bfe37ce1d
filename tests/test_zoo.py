"""The zoo (cifarlab.models.resnet): sizes against the published counts, reduced sizes, option errors."""

from __future__ import annotations

import pytest
import torch
from reduced_sizes import REDUCED

from cifarlab.core.errors import ConfigError
from cifarlab.models.registry import (
    count_parameters,
    create_model,
    forward_flops,
    list_models,
    model_info,
)


def _from_zoo(name: str) -> bool:
    builder = model_info(name).builder
    module = getattr(builder, "func", builder).__module__  # registered partials wrap the builder
    return module not in ("cifarlab.models.notebook", "cifarlab.models.fastnet")  # the lab's own and the notebook's


def _resnet_cifar_params(n: int, w: int = 16) -> int:
    """He et al.'s CIFAR ResNet (6n+2 layers, option A) counted by hand: convs, BN (2 per channel), head."""
    stem = 3 * w * 9 + 2 * w
    stages = 0
    for c_in, c in ((w, w), (w, 2 * w), (2 * w, 4 * w)):
        first = 9 * c_in * c + 9 * c * c + 4 * c  # the zero-padded shortcut has no parameters
        stages += first + (n - 1) * (2 * 9 * c * c + 4 * c)
    return stem + stages + 4 * w * 10 + 10


# Full-size parameters and forward FLOPs per image (FlopCounterMode, a multiply-add = 2), as printed by
# count_parameters / forward_flops. The published counts each agrees with:
ZOO_SIZES = {
    # He et al. 2015, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M (and the hand count above)
    "resnet20": (269_722, 81_102_080),
    "resnet32": (464_154, 137_725_184),
    "resnet44": (658_586, 194_348_288),
    "resnet56": (853_018, 250_971_392),  # ~125M multiply-adds, the figure usually quoted
    "resnet110": (1_727_962, 505_775_360),
    # kuangliu/pytorch-cifar's ResNet18 / ResNet34 / ResNet50 count exactly the same (11.17M, 21.28M, 23.52M)
    "resnet18": (11_173_962, 1_110_845_440),
    "resnet34": (21_282_122, 2_318_804_992),
    "resnet50": (23_520_842, 2_595_659_776),
    # kuangliu's PreActResNet18 is 11,171,146: ours adds the paper's final BN (2 x 512)
    "preact_resnet18": (11_172_170, 1_110_845_440),
    # Zagoruyko & Komodakis 2016: WRN-16-8 11.0M, WRN-28-10 36.5M (~5.25G multiply-adds)
    "wrn16_8": (10_961_370, 3_096_291_328),
    "wrn28_10": (36_479_194, 10_486_657_536),
    # kuangliu's VGG11/VGG16 (9,231,114 / 14,728,266) less the conv biases he keeps before BN
    "vgg11_bn": (9_228_362, 305_539_072),
    "vgg16_bn": (14_724_042, 626_403_328),
    # kuangliu's MobileNetV2 and DenseNet121 count exactly the same (2.30M, 6.96M)
    "mobilenetv2": (2_296_922, 182_309_888),
    "densenet121": (6_956_298, 1_776_701_440),
    # ConvMixer-256/8 (k5, p2): 0.59M. ViT 192/9/12 heads: Lee et al. 2021 list 189.8 M (multiply-adds) for it
    "convmixer": (594_186, 296_227_840),
    "vit": (2_697_610, 375_433_728),
}


def test_every_zoo_model_has_its_size_listed():
    assert sorted(n for n in list_models() if _from_zoo(n)) == sorted(ZOO_SIZES)


@pytest.mark.parametrize("name", sorted(ZOO_SIZES))
def test_full_size_parameters_and_flops(name):
    with torch.device("meta"):  # no memory, no init cost: the counts only need the shapes
        model = create_model(name)
    assert (count_parameters(model), forward_flops(model)) == ZOO_SIZES[name]


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_resnet_cifar_counts_match_hand_count(depth):
    assert ZOO_SIZES[f"resnet{depth}"][0] == _resnet_cifar_params((depth - 2) // 6)


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_family_and_a_reduced_size(name):
    assert model_info(name).family
    assert name in REDUCED, f"add a reduced size of '{name}' to tests/reduced_sizes.py"


def test_reduced_names_only_registered_models():
    assert set(REDUCED) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_reduced_size_honours_the_contract(name):
    torch.manual_seed(0)
    model = create_model(name, **REDUCED[name])
    x = torch.rand(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    assert model.eval()(x).shape == (2, 10)


@pytest.mark.parametrize("name", [n for n in list_models() if REDUCED[n]])
def test_reduced_sizes_are_cheap(name):
    # A proxy for "a forward+backward at batch 64 in well under 0.3 s on 2 cores" that does not flake.
    with torch.device("meta"):
        reduced, full = create_model(name, **REDUCED[name]), create_model(name)
    assert forward_flops(reduced) <= 75e6
    assert count_parameters(reduced) < count_parameters(full)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("resnet20", {"depth": 21}, "depth must be 6n+2 (20, 32, 44, 56, 110 ...), got 21"),
        ("resnet56", {"depth": 2}, "depth must be 6n+2 (20, 32, 44, 56, 110 ...), got 2"),
        ("wrn28_10", {"depth": 27}, "depth must be 6n+4 (10, 16, 22, 28, 40 ...), got 27"),
        ("wrn16_8", {"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ("resnet34", {"width": 0}, "width must be a positive integer, got 0"),
        ("resnet20", {"width": -16}, "width must be a positive integer, got -16"),
        ("resnet20", {"shortcut": "C"}, "shortcut must be 'A' (zero-padded identity) or 'B' (1x1 projection), got 'C'"),
        ("resnet50", {"blocks": (3, 4, 6)}, "blocks must be 4 positive block counts, got (3, 4, 6)"),
        ("preact_resnet18", {"width": 2.5}, "width must be a positive integer, got 2.5"),
        ("wrn28_10", {"widen_factor": 0}, "widen_factor must be a positive integer, got 0"),
        ("vgg16_bn", {"layers": 13}, "layers must be one of [11, 16], got 13"),
        ("mobilenetv2", {"width_mult": 0}, "width_mult must be a positive number, got 0"),
        ("densenet121", {"growth": 0}, "growth must be a positive integer, got 0"),
        ("convmixer", {"kernel_size": 4}, "kernel_size must be a positive odd integer, got 4"),
        ("vit", {"dim": 100, "heads": 3}, "dim must be a multiple of heads, got dim=100, heads=3"),
        ("vit", {"patch_size": 5}, "patch_size must divide the 32-pixel image side (1, 2, 4, 8, 16, 32), got 5"),
    ],
)
def test_bad_options_are_one_line_config_errors(name, options, message):
    with pytest.raises(ConfigError) as info:
        create_model(name, **options)
    text = str(info.value)
    assert text.startswith(f"model '{name}' cannot be built with ") and text.endswith(f": {message}")
    assert "\n" not in text


def test_resnet_cifar_option_a_pads_the_identity_and_option_b_projects():
    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    block = model.layers[3]  # first block of the second stage: 16 -> 32 channels, stride 2
    x = torch.randn(2, 16, 32, 32)
    expected = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 16, 16, 16)], 1)
    assert torch.equal(block.shortcut(x), expected)
    assert not list(block.shortcut.parameters())
    # option B: a 1x1 conv + BN at each of the two widenings (16->32, 32->64)
    extra = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert count_parameters(create_model("resnet20", shortcut="B")) == ZOO_SIZES["resnet20"][0] + extra


def test_wide_resnet_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model = create_model("wrn16_8", **REDUCED["wrn16_8"], dropout=0.3)
    x = torch.rand(4, 3, 32, 32)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_reduced_sizes_scale_the_same_builder():
    # resnet110 at depth 20 is resnet20; a smaller WRN is a WRN-d-k with the paper's 6n+4 rule
    assert count_parameters(create_model("resnet110", depth=20)) == ZOO_SIZES["resnet20"][0]
    assert count_parameters(create_model("wrn28_10", depth=16, widen_factor=8)) == ZOO_SIZES["wrn16_8"][0]
    vit = create_model("vit", patch_size=8)
    assert vit.pos_embed.shape == (1, 4 * 4 + 1, 192)  # 16 patches and the class token
