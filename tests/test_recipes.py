"""Recipes reproduce the notebook's settings exactly (DEVELOPERS.md)."""

from __future__ import annotations

import json
import math

import pytest

from cifarlab.cli.app import build_parser, config_from_args
from cifarlab.config.overrides import apply_overrides, get_setting
from cifarlab.config.recipes import DEFAULT_RECIPE, RECIPES, get_recipe
from cifarlab.core.errors import ConfigError
from cifarlab.models.registry import create_model

# (model, optimizer, lr, weight_decay, batch_size, epochs, patience, train_batches) from the notebook
NOTEBOOK = {
    "seed-softmax": ("softmax", "sgd", 0.1, 0.0, 256, 20, -1, (1, 2, 3, 4, 5)),
    "seed-mlp-first": ("mlp_first", "sgd", 0.1, 0.0, 256, 50, -1, (1,)),
    "seed-mlp-final": ("mlp_final", "adam", 1e-3, 1e-4, 256, 50, -1, (1, 2, 3, 4, 5)),
    "seed-cnn1": ("cnn1", "adam", 1e-3, 5e-4, 256, 50, -1, (1, 2, 3, 4, 5)),
    "seed-cnn2": ("cnn2", "adam", 1e-3, 5e-4, 256, 50, -1, (1, 2, 3, 4, 5)),
    "seed-cnn3": ("cnn3", "adam", 3e-3, 1e-4, 256, 100, 10, (1, 2, 3, 4, 5)),
    "seed-cnn3-wide": ("cnn3_wide", "adam", 5e-4, 1e-3, 128, 100, 10, (1, 2, 3, 4, 5)),
}


@pytest.mark.parametrize("name", sorted(NOTEBOOK))
def test_seed_recipes_match_the_notebook(name):
    cfg = get_recipe(name).config()
    t = cfg.train
    got = (cfg.model, t.optimizer, t.lr, t.weight_decay, t.batch_size, t.epochs, t.patience, cfg.data.train_batches)
    assert got == NOTEBOOK[name]
    assert t.schedule == "constant" and t.momentum == 0.0 and t.label_smoothing == 0.0
    assert t.min_delta == 0.001 and t.flip == "none" and t.translate == 0  # no augmentation in the notebook


def test_flags_override_the_recipe():
    args = build_parser().parse_args(
        [
            "train",
            "--recipe",
            "seed-cnn3",
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--train-batches",
            "1,2",
            "--select-on",
            "test",
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.weight_decay) == (3, 0.01, 1e-4)
    assert cfg.data.train_batches == (1, 2) and cfg.data.val_size == 0 and cfg.train.select_on == "test"
    assert config_from_args(build_parser().parse_args(["train"])).recipe == DEFAULT_RECIPE == "fast"


def test_every_recipe_validates():
    for recipe in RECIPES.values():
        assert recipe.config().validate().recipe == recipe.name


def test_warmup_follows_an_epochs_override():
    parse = build_parser().parse_args
    cfg = config_from_args(parse(["train", "--recipe", "fast94", "--epochs", "2"]))
    assert (cfg.train.epochs, cfg.train.warmup_epochs) == (2, 0.4)  # 20% of the training, as in the recipe
    cfg = config_from_args(parse(["train", "--recipe", "fast94", "--epochs", "2", "--warmup-epochs", "1"]))
    assert cfg.train.warmup_epochs == 1
    cfg = config_from_args(parse(["train", "--recipe", "seed-cnn3", "--epochs", "2"]))
    assert cfg.train.warmup_epochs == 0


def test_a_recipe_evaluating_its_last_epoch_still_does_after_an_epochs_override():
    parse = build_parser().parse_args
    assert get_recipe("fast").config().train.eval_from == 5  # 4.5 epochs: the last is the 5th, a half one
    for epochs, last in ((2, 2), (6, 6), (3.5, 4)):
        assert config_from_args(parse(["train", "--recipe", "fast", "--epochs", str(epochs)])).train.eval_from == last
    four = config_from_args(parse(["train", "--recipe", "fast", "--epochs", "4"])).train  # fast's first version
    assert (four.epochs, four.warmup_epochs, four.eval_from) == (4, 0.8, 4)
    cfg = config_from_args(parse(["train", "--recipe", "fast", "--epochs", "6", "--eval-from", "2"]))
    assert cfg.train.eval_from == 2
    cfg = config_from_args(parse(["train", "--recipe", "seed-cnn3", "--epochs", "2"]))  # evaluates every epoch
    assert cfg.train.eval_from == 1
    cfg = apply_overrides(get_recipe("fast").config(), {"epochs": 1})
    assert cfg.train.eval_from == 1


def test_fast90_sel_is_fast90_with_selection_and_crops_as_measured():
    """docs/performance.md measured it as ``--recipe fast90 --keep-hard 0.5 --crop 24 --crop-until 0.6``
    under a budget; the recipe must be that command at 13 epochs, every other setting fast90's."""
    parse = build_parser().parse_args
    flags = ["--keep-hard", "0.5", "--crop", "24", "--crop-until", "0.6", "--epochs", "13"]
    measured = config_from_args(parse(["train", "--recipe", "fast90", *flags])).to_dict()
    recipe = get_recipe("fast90-sel").config().to_dict()
    assert recipe.pop("recipe") == "fast90-sel" and measured.pop("recipe") == "fast90"
    assert recipe == measured
    assert (recipe["train"]["warmup_epochs"], recipe["train"]["eval_from"]) == (2.6, 13)


def test_fast89_is_fast90_sel_at_half_width_as_measured():
    """docs/performance.md measured it as ``--recipe fast90-sel --model-arg width=0.5`` under a budget; the
    recipe must be that command at 23 epochs, every other setting fast90-sel's."""
    parse = build_parser().parse_args
    flags = ["--model-arg", "width=0.5", "--epochs", "23"]
    measured = config_from_args(parse(["train", "--recipe", "fast90-sel", *flags])).to_dict()
    recipe = get_recipe("fast89").config().to_dict()
    assert recipe.pop("recipe") == "fast89" and measured.pop("recipe") == "fast90-sel"
    assert recipe == measured and recipe["model_kwargs"] == {"width": 0.5}
    assert (recipe["train"]["warmup_epochs"], recipe["train"]["eval_from"]) == (4.6, 23)


def test_fast89_wide_is_fast89_with_a_wider_last_group_as_measured():
    """docs/performance.md measured it as ``--recipe fast89 --model-arg widths=[32,128,256]`` under a budget;
    the recipe must be that command at 19 epochs, every other setting fast89's. The measured run also
    carried fast89's width=0.5 (fastnet ignores width when widths is given; the command now drops it):
    the networks must match."""
    parse = build_parser().parse_args
    flags = ["--model-arg", "widths=[32,128,256]", "--epochs", "19"]
    measured = json.loads(json.dumps(config_from_args(parse(["train", "--recipe", "fast89", *flags])).to_dict()))
    recipe = json.loads(json.dumps(get_recipe("fast89-wide").config().to_dict()))
    assert recipe.pop("recipe") == "fast89-wide" and measured.pop("recipe") == "fast89"
    assert recipe == measured and recipe["model_kwargs"] == {"widths": [32, 128, 256]}
    assert (recipe["train"]["warmup_epochs"], recipe["train"]["eval_from"]) == (3.8, 19)
    ran = create_model("fastnet", width=0.5, widths=[32, 128, 256]).state_dict()
    built = create_model("fastnet", **get_recipe("fast89-wide").config().model_kwargs).state_dict()
    assert [(k, v.shape) for k, v in ran.items()] == [(k, v.shape) for k, v in built.items()]
    assert built["head.weight"].shape == (10, 256)


def test_fast89_wide_trains_by_name_end_to_end(fake_folder, tmp_path):
    """The recipe's tuple of widths survives config.json: the saved run rebuilds the 256-channel head; a
    --model-arg that breaks the widths is refused in one line, before a run folder is made."""
    from test_cli import assert_one_line_error, cli_in_process

    import cifarlab

    small = ["--train-limit", "600", "--test-limit", "300", "--epochs", "1", "--tta", "none", "--threads", "1"]
    args = ["--recipe", "fast89-wide", "--data", fake_folder, "--out", tmp_path, "--no-progress", "--no-report"]
    proc = cli_in_process("train", *args, *small, "--name", "wide")
    assert proc.returncode == 0, proc.stderr
    run = cifarlab.load_run(tmp_path / "wide")
    saved = json.loads((tmp_path / "wide" / "config.json").read_text())
    assert saved["recipe"] == "fast89-wide" and saved["model_kwargs"] == {"widths": [32, 128, 256]}
    assert run.config.recipe == "fast89-wide" and list(run.config.model_kwargs["widths"]) == [32, 128, 256]
    assert run.config.train.keep_hard == 0.5 and run.config.train.crop == 24
    assert run.model.head.in_features == 256 and run.model.groups[0].conv1.out_channels == 32
    bad = cli_in_process("train", *args, *small, "--model-arg", "widths=[32,128]", "--name", "bad")
    assert_one_line_error(bad, "three positive channel counts")
    assert not (tmp_path / "bad").exists()


def test_a_model_option_replaces_the_recipes_alternative_to_it(fake_folder, tmp_path):
    """fastnet takes widths over width: --model-arg width=0.75 on fast89-wide (whose network is set by
    widths) must drop the recipe's widths, not train the recipe's network without a word; both at once
    are refused in one line, before a run folder is made."""
    from test_cli import assert_one_line_error, cli_in_process

    parse = build_parser().parse_args
    cfg = config_from_args(parse(["train", "--recipe", "fast89-wide", "--model-arg", "width=0.75"]))
    assert cfg.model_kwargs == {"width": 0.75}
    assert create_model("fastnet", **cfg.model_kwargs).head.in_features == 192
    cfg = config_from_args(parse(["train", "--recipe", "fast89", "--model-arg", "widths=[32,128,256]"]))
    assert cfg.model_kwargs == {"widths": [32, 128, 256]}
    cfg = config_from_args(parse(["train", "--recipe", "fast94", "--model-arg", "depth=2"]))
    assert cfg.model_kwargs == {"widths": (128, 512, 512), "depth": 2}  # not an alternative: merged
    both = ["--model-arg", "width=0.5", "--model-arg", "widths=[32,128,256]", "--name", "both"]
    args = ["--recipe", "fast89", "--data", fake_folder, "--out", tmp_path, "--epochs", "1", "--no-progress"]
    bad = cli_in_process("train", *args, *both)
    assert_one_line_error(bad, "--model-arg width and widths set the same thing in fastnet; give one of them")
    assert not (tmp_path / "both").exists()


def test_settings_are_read_and_set_by_the_same_names():
    cfg = get_recipe("fast").config()
    assert get_setting(cfg, "lr") == get_setting(cfg, "train.lr") == cfg.train.lr == 1.125
    assert get_setting(cfg, "data.val_size") == 0 and get_setting(cfg, "recipe") == "fast"
    apply_overrides(cfg, {"train.crop": 24, "val_size": 100})
    assert (get_setting(cfg, "crop"), cfg.data.val_size) == (24, 100)
    for bad in ("data.lr", "train.bogus", "bogus", "model.width"):  # a field in the wrong section is unknown too
        with pytest.raises(ConfigError, match="unknown setting"):
            get_setting(cfg, bad)
        with pytest.raises(ConfigError, match="unknown setting"):
            apply_overrides(cfg, {bad: 1})


def test_cli_and_python_api_resolve_alike(capsys):
    """The rules live in resolve.py: the CLI and cifarlab.train/for_model get the same config."""
    import cifarlab
    from cifarlab.config.recipes import for_model, resolve

    parse = build_parser().parse_args
    cli_cfg = config_from_args(parse(["train", "--model", "cnn2", "--select-on", "test"]))
    api_cfg = resolve(model="cnn2", overrides={"select_on": "test"})
    assert cli_cfg.to_dict() == api_cfg.to_dict() and api_cfg.data.val_size == 0  # the notebook's protocol
    assert for_model("cnn2").to_dict() == config_from_args(parse(["train", "--model", "cnn2"])).to_dict()
    # tuning needs a validation split; a recipe without one holds out the default, unless told otherwise
    assert config_from_args(parse(["tune", "--recipe", "fast"]), tuning=True).data.val_size == 5000
    assert "holding out 5000 validation images" in capsys.readouterr().out
    assert resolve("fast", overrides={"val_size": 0}, tuning=True).data.val_size == 0
    # options given with a named model replace the recipe's; without one they update them
    assert resolve("fast", "fastnet", {"depth": 3}).model_kwargs == {"depth": 3}
    assert resolve("fast", None, {"depth": 3}).model_kwargs == {"width": 0.5, "stem_stride": 2, "depth": 3}
    with pytest.raises(cifarlab.CifarlabError, match="drop --epochs"):
        resolve(model="cnn2", overrides={"epochs": 3, "time_budget": 60.0})


def test_cifarlab_evaluate_stays_the_function():
    import cifarlab
    import cifarlab.analysis.evaluation  # noqa: F401  (importing the module must not shadow the function)
    from cifarlab.training.step import evaluate

    assert cifarlab.evaluate is evaluate


# ------------------------------------------------------------------------------ the zoo's rule under a budget


@pytest.mark.parametrize("model", ["resnet20", "resnet56", "vgg16_bn", "mobilenetv2", "vit", "convmixer"])
def test_under_a_budget_the_zoo_trains_on_all_images_and_keeps_the_last_epoch(model):
    from cifarlab.config.recipes import for_model

    plain, budgeted = for_model(model), for_model(model, budget="10m")
    assert plain.data.val_size == 5000 and plain.train.eval_from == 1  # validated every epoch
    assert budgeted.data.val_size == 0 and budgeted.train.time_budget == 600
    assert budgeted.train.eval_from == math.ceil(budgeted.train.epochs)  # only the last epoch is evaluated
    # everything else is the recipe's own
    differ = {k for k, v in vars(budgeted.train).items() if getattr(plain.train, k) != v}
    assert differ == {"eval_from", "time_budget"}


@pytest.mark.parametrize("extra", [{"val_size": 2000}, {"select_on": "test"}])
def test_a_validation_protocol_asked_for_keeps_the_recipes_per_epoch_evaluation(extra):
    from cifarlab.config.recipes import resolve

    config = resolve(None, "resnet20", None, {"time_budget": 600.0, **extra})
    assert config.train.eval_from == 1
    assert config.data.val_size == extra.get("val_size", 0)


def test_the_notebook_and_fast_recipes_are_untouched_by_a_budget():
    from cifarlab.config.recipes import RECIPES, for_model

    for name, recipe in RECIPES.items():
        if name.startswith(("seed-", "fast")):
            assert recipe.budget == {}, name
    assert for_model("cnn3", budget=600).data.val_size == 5000


def test_the_textbook_recipe_is_what_the_baseline_loop_trains_with():
    import cifarlab.tools.baseline as b
    from cifarlab.config.recipes import for_model

    t = for_model("resnet20").train
    assert (t.optimizer, t.momentum, t.nesterov, t.lr, t.weight_decay) == ("sgd", 0.9, True, b.PEAK_LR, b.WEIGHT_DECAY)
    assert (t.batch_size, t.label_smoothing, t.schedule, t.translate) == (b.BATCH, b.LABEL_SMOOTHING, "onecycle", 4)
    assert t.warmup_epochs == pytest.approx(b.WARMUP * t.epochs)
