"""Every setting is defined once: its config field's metadata makes its flag (name, type, help, choices)."""

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from cifarlab.cli.flags import _add_setting, build_parser
from cifarlab.config.overrides import transfer_settings, whole_number_settings
from cifarlab.config.schema import SCHEDULES, DataConfig, TrainConfig, setting

FLAGGED = [f for cls in (TrainConfig, DataConfig) for f in dataclasses.fields(cls) if f.metadata.get("flag")]


def _example(f: dataclasses.Field) -> tuple[list[str], object]:
    """Command-line words for field ``f`` and the value argparse should give back."""
    flag = "--" + f.name.replace("_", "-")
    if f.type == "bool":
        return [flag], True
    if f.metadata["parse"] == "duration":
        return [flag, "1m30s"], 90.0
    if f.metadata["parse"] == "batches":
        return [flag, "1-3"], "1-3"  # parsed with the config's rules (data/splits.py)
    if f.metadata["choices"]:
        return [flag, f.metadata["choices"][-1]], f.metadata["choices"][-1]
    if f.type == "int | float":
        return [flag, "4.5"], 4.5
    if f.type.startswith("int"):
        return [flag, "3"], 3
    if f.type.startswith("float"):
        return [flag, "0.25"], 0.25
    return [flag, "cpu"], "cpu"


@pytest.mark.parametrize("f", FLAGGED, ids=lambda f: f.name)
def test_every_flagged_field_has_a_typed_flag_with_help(f):
    words, value = _example(f)
    for command in ("train", "tune"):
        args = build_parser().parse_args([command, *words])
        assert getattr(args, f.name) == value and type(getattr(args, f.name)) is type(value)
    assert f.metadata["help"] and f.metadata["group"]


def test_a_flag_not_given_leaves_the_recipes_value():
    args = build_parser().parse_args(["train"])
    assert all(getattr(args, f.name) is None for f in FLAGGED)  # None: not given
    assert not hasattr(args, "restore_best")  # a field without a flag


def test_a_new_field_gets_its_flag_from_its_metadata():
    @dataclass
    class Toy:
        decay: str = setting("step", "how the LR decays", group="toy", choices=SCHEDULES, show_default=True)
        warm: int = setting(0, "warm-up steps", group="toy", metavar="N")

    p = argparse.ArgumentParser()
    for f in dataclasses.fields(Toy):
        _add_setting(p, f)
    assert p.parse_args(["--decay", "cosine", "--warm", "7"]) == argparse.Namespace(decay="cosine", warm=7)
    text = p.format_help()
    assert "how the LR decays: constant, step, cosine, onecycle (default step)" in " ".join(text.split())
    assert "--warm N" in text
    with pytest.raises(SystemExit):
        p.parse_args(["--warm", "x"])


def test_whole_numbers_and_transferring_settings_come_from_the_fields():
    whole, fractional = whole_number_settings()
    assert {"batch_size", "epochs", "translate", "step_size", "proxy_every"} <= whole
    assert not {"lr", "weight_decay", "crop_until"} & whole and fractional == {"epochs"}
    assert {"optimizer", "lr", "batch_size", "schedule", "val_size"} <= set(transfer_settings())
    assert "seed" not in transfer_settings()
