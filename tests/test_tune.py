"""cifarlab tune: search-space parsing, the SQLite default, pruning, --from-study, and two workers
sharing one study on a real PostgreSQL server."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
from pathlib import Path

import optuna
import pg
import pytest
from test_cli import _SHARED, CLI, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.config.recipes import get_recipe
from cifarlab.config.schema import ExperimentConfig
from cifarlab.core.errors import ConfigError
from cifarlab.tools.search_space import Param, default_space, parse_param
from cifarlab.tools.study_storage import TuneError, open_storage
from cifarlab.tools.tune import tune

TINY = ["--epochs", "2", "--train-limit", "600", "--val-size", "200", "--batch-size", "100", "--test-limit", "500"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_parse_param():
    assert parse_param("lr=1e-4..1e-1:log") == Param("lr", "float", 1e-4, 1e-1, log=True)
    assert parse_param("weight_decay=0..0.001") == Param("weight_decay", "float", 0.0, 0.001)
    assert parse_param("epochs=2..8") == Param("epochs", "int", 2, 8)  # an int field stays int
    assert parse_param("train.translate=0..4:int") == Param("train.translate", "int", 0, 4)
    assert parse_param("train.epochs=3.5..5") == Param("train.epochs", "float", 3.5, 5.0)  # epochs may be fractional
    # progressive resizing's two settings: a crop side in whole pixels, the share of steps on crops
    assert parse_param("crop=16..28") == Param("crop", "int", 16, 28)
    assert parse_param("crop_until=0.3..0.9") == Param("crop_until", "float", 0.3, 0.9)
    assert parse_param("keep_hard=0.3..0.7") == Param("keep_hard", "float", 0.3, 0.7)  # selective backprop's share
    for spec in ["epochs=2..8", "train.translate=0..4", "epochs=3.5..5", "lr=0.0001..0.1:log", "lr=1..3:int"]:
        assert parse_param(spec).spec() == spec, "a study's saved space reads back as it was given"
    assert parse_param("batch_size=64,128,256") == Param("batch_size", "categorical", choices=(64, 128, 256))
    assert parse_param("optimizer=sgd,adam") == Param("optimizer", "categorical", choices=("sgd", "adam"))
    for bad, needle in [
        ("lr", "NAME=LOW..HIGH"),
        ("lr=", "NAME=LOW..HIGH"),
        ("lr=1..x", "not a number"),
        ("lr=0.1..0.01", "LOW < HIGH"),
        ("lr=0..1:log", "must be positive"),
        ("lr=1e-3..1:sqrt", ":sqrt"),
        ("batch_size=1.5..3", "whole numbers"),
        ("crop=20.5..24", "whole numbers"),
        ("epochs=1.5..3:int", "whole numbers"),
        ("batch_size=64", "at least two"),
        ("nope=1..2", "unknown setting"),
        ("batch_size=64,128:log", "apply to ranges"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_param(bad)


def test_default_space_is_centred_on_the_recipe():
    config = get_recipe("seed-cnn3-wide").config()  # Adam 5e-4, wd 1e-3, batch 128
    space = {p.name: p for p in default_space(config)}
    assert space["lr"] == Param("lr", "float", 5e-5, 5e-3, log=True)
    assert space["weight_decay"].low == pytest.approx(1e-4) and space["weight_decay"].high == pytest.approx(1e-2)
    assert space["batch_size"].choices == (64, 128, 256)


def test_sqlite_study_then_from_study(fake_folder, tmp_path):
    proc = cli(
        "tune",
        "--recipe",
        "seed-mlp-final",
        "--trials",
        "3",
        "--param",
        "lr=1e-4..1e-2:log",
        "--param",
        "epochs=1.5..2.5",
        "--pruner",
        "none",
        "--train-batches",
        "1",
        *TINY,
        "--data",
        fake_folder,
        "--out",
        tmp_path,
    )
    folder = tmp_path / "tune" / "seed-mlp-final"
    assert proc.stdout.strip().splitlines()[-1] == str(folder)
    assert (tmp_path / "tune" / "seed-mlp-final.db").is_file()  # the SQLite default
    rows = read_csv(folder / "trials.csv")
    assert [(r["number"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "COMPLETE"), ("2", "COMPLETE")]
    for r in rows:  # each trial is a real run; its objective is that run's best validation accuracy
        run = Path(r["run_dir"])
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())
        assert float(r["value"]) == pytest.approx(summary["best_val_acc"], abs=1e-6)
        assert float(r["lr"]) == pytest.approx(config["train"]["lr"], rel=1e-5)
        epochs = config["train"]["epochs"]  # a fractional range: any epoch count in it, the last epoch partial
        assert 1.5 <= epochs <= 2.5 and float(r["epochs"]) == pytest.approx(epochs, rel=1e-5)
        trained = round(4 * epochs) / 4  # 400 training images in batches of 100: whole batches of 1/4 epoch
        assert summary["epochs_trained"] == trained and len(read_csv(run / "metrics.csv")) == math.ceil(trained)
        assert config["data"]["train_batches"] == [1]
    best = json.loads((folder / "best_params.json").read_text())
    values = [float(r["value"]) for r in rows]
    assert best["best_val_acc"] == pytest.approx(max(values), abs=1e-6) and best["completed"] == 3
    winner = max(rows, key=lambda r: float(r["value"]))  # the best trial's own settings, as trials.csv has them
    assert best["best_trial"] == int(winner["number"]) and (best["failed"], best["running"]) == (0, 0)
    assert best["params"]["lr"] == pytest.approx(float(winner["lr"]), rel=1e-5)  # trials.csv keeps 6 digits
    assert best["params"]["epochs"] == pytest.approx(float(winner["epochs"]), rel=1e-5)
    from PIL import Image

    for figure in ("history.png", "importance.png"):  # real images of a readable size, not empty files
        with Image.open(folder / figure) as im:
            assert im.format == "PNG" and im.width >= 300 and im.height >= 200, (figure, im.size)

    # A second worker with another search space is refused, and the study is left as it was.
    proc = cli_in_process(
        "tune",
        "--recipe",
        "seed-mlp-final",
        "--trials",
        "1",
        "--param",
        "lr=1e-3..1e-1:log",
        *TINY,
        "--data",
        fake_folder,
        "--out",
        tmp_path,
    )
    assert_one_line_error(proc, "searches epochs=1.5..2.5 lr=0.0001..0.01:log, not lr=0.001..0.1:log", "--study")
    assert len(read_csv(folder / "trials.csv")) == 3

    # Retrain the best parameters: the study's fixed proxy flags (data_batch_1 only) do not carry over.
    proc = cli_in_process(
        "train",
        "--from-study",
        "seed-mlp-final",
        "--epochs",
        "1",
        "--train-limit",
        "600",
        "--val-size",
        "200",
        "--data",
        fake_folder,
        "--out",
        tmp_path,
        "--name",
        "final",
        "--no-report",
        "--no-progress",
        check=True,
    )
    config = json.loads((tmp_path / "final" / "config.json").read_text())
    assert config["train"]["lr"] == pytest.approx(best["params"]["lr"], rel=1e-9)
    assert config["recipe"] == "seed-mlp-final" and config["data"]["train_batches"] == [1, 2, 3, 4, 5]
    assert "best trial" in proc.stdout


def test_pruned_trials_are_recorded_and_can_be_cleaned(fake_folder, tmp_path):
    config = get_recipe("seed-mlp-first").config()
    config.out, config.data.data = str(tmp_path), str(fake_folder)
    config.data.train_limit, config.data.val_size, config.train.epochs = 400, 100, 3
    always = optuna.pruners.ThresholdPruner(lower=1.01)  # no accuracy reaches 101%: every trial is pruned
    space = [Param("lr", "float", 1e-3, 1e-1, log=True)]
    result = tune(config, space=space, trials=1, study="p", pruner=always, log=lambda m: None)
    assert (result.trials, result.completed, result.pruned, result.best_params) == (1, 0, 1, None)
    kept = tmp_path / "tune" / "p" / "trial-0000"
    summary = json.loads((kept / "summary.json").read_text())
    assert summary["status"] == "pruned" and summary["epochs_run"] == 1  # stopped after its first epoch
    result = tune(
        ExperimentConfig.from_dict(config.to_dict()),
        space=space,
        trials=1,
        study="p",
        pruner=always,
        clean_pruned=True,
        log=lambda m: None,
    )
    assert result.pruned == 2 and not (tmp_path / "tune" / "p" / "trial-0001").exists()
    assert [r["state"] for r in read_csv(tmp_path / "tune" / "p" / "trials.csv")] == ["PRUNED", "PRUNED"]


def test_a_baseline_trial_trains_the_settings_the_search_starts_from(fake_folder, tmp_path):
    config = get_recipe("seed-mlp-first").config()  # SGD lr 0.1, batch 256
    config.out, config.data.data = str(tmp_path), str(fake_folder)
    config.data.train_limit, config.data.val_size, config.train.epochs = 400, 100, 1
    space = [Param("lr", "float", 1e-3, 1.0, log=True), Param("batch_size", "categorical", choices=(64, 128, 256))]
    start = (0.1, 256)
    tune(config, space=space, trials=2, study="b", pruner="none", baseline=True, sampler_seed=0, log=lambda m: None)
    rows = read_csv(tmp_path / "tune" / "b" / "trials.csv")
    trained = json.loads((Path(rows[0]["run_dir"]) / "config.json").read_text())["train"]
    assert (trained["lr"], trained["batch_size"]) == start  # the first trial is the baseline, as given
    assert (float(rows[0]["lr"]), int(rows[0]["batch_size"])) == start
    assert float(rows[1]["lr"]) != 0.1  # then the sampler's own choices
    # a second worker asking for the baseline does not train it again
    again = ExperimentConfig.from_dict(config.to_dict())
    tune(again, space=space, trials=1, study="b", pruner="none", baseline=True, sampler_seed=1, log=lambda m: None)
    rows = read_csv(tmp_path / "tune" / "b" / "trials.csv")
    assert len(rows) == 3 and [float(r["lr"]) == 0.1 for r in rows] == [True, False, False]


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--param", "lr=1e-4..1e-2:log"], "--baseline: lr is 0.1 here, outside --param lr=0.0001..0.01:log"),
        (["--param", "batch_size=64,128"], "--baseline: batch_size is 256 here, outside --param batch_size=64,128"),
        (["--param", "crop=16..28"], "crop is 0 here, outside --param crop=16..28; widen the range or set --crop"),
    ],
)
def test_a_baseline_outside_the_search_space_is_one_line(tmp_path, flags, says):
    proc = cli_in_process("tune", "--recipe", "seed-mlp-first", "--baseline", *flags, "--out", tmp_path)
    assert_one_line_error(proc, says)
    assert not (tmp_path / "tune").exists()


def test_a_param_contains_only_values_it_could_sample():
    assert Param("crop", "int", 16, 28).contains(24) and not Param("crop", "int", 16, 28).contains(24.5)
    assert not Param("crop", "int", 16, 28).contains(0) and not Param("x", "float", 0, 1).contains(True)
    assert Param("x", "float", 0.3, 0.7).contains(0.5) and not Param("x", "float", 0.3, 0.7).contains(None)
    assert Param("o", "categorical", choices=("sgd", "adam")).contains("adam")


def test_open_storage_retries_the_schema_creation_race_only(monkeypatch):
    import sqlite3

    import psycopg.errors
    from sqlalchemy.exc import OperationalError, ProgrammingError

    monkeypatch.setattr("cifarlab.tools.study_storage.time.sleep", lambda s: None)
    calls = []

    def failing_once(error):
        def storage(url, engine_kwargs, **heartbeat):
            calls.append(url)
            if len(calls) == 1:
                raise error
            return "storage"

        return storage

    lost_races = [  # what the slower of two workers starting on an empty database is told
        ProgrammingError("CREATE TYPE", {}, psycopg.errors.DuplicateObject('type "studydirection" already exists')),
        # the same with lc_messages=de_DE: the SQLSTATE (42710) decides, not the words
        ProgrammingError("CREATE TYPE", {}, psycopg.errors.DuplicateObject("Typ »studydirection« existiert bereits")),
        ProgrammingError("CREATE TABLE", {}, psycopg.errors.DuplicateTable('relation "studies" already exists')),
        OperationalError("CREATE TABLE", {}, sqlite3.OperationalError("table studies already exists")),
    ]
    for error in lost_races:
        calls.clear()
        monkeypatch.setattr(optuna.storages, "RDBStorage", failing_once(error))
        assert open_storage("postgresql://u@h/db") == "storage" and len(calls) == 2, error

    not_races = [  # retrying cannot fix these: reported at once
        (
            ProgrammingError("SELECT", {}, psycopg.errors.InsufficientPrivilege("permission denied for schema public")),
            "permission denied",
        ),
        # an English "already exists" from PostgreSQL under another SQLSTATE is not the race
        (
            ProgrammingError("CREATE", {}, psycopg.errors.DuplicateDatabase('database "x" already exists')),
            "already exists",
        ),
        (OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: studies")), "no such table"),
    ]
    for error, needle in not_races:
        calls.clear()
        monkeypatch.setattr(optuna.storages, "RDBStorage", failing_once(error))
        with pytest.raises(TuneError, match=needle):
            open_storage("postgresql://u@h/db")
        assert len(calls) == 1, error


@pytest.fixture(scope="module")
def postgres_url():
    bin_dir = pg.server_binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; make test installs it (scripts/ensure_postgres.sh)")
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    with pg.postgres_server(bin_dir) as url:
        yield url


def test_two_workers_share_a_postgresql_study(fake_folder, tmp_path, postgres_url):
    args = [
        CLI,
        "tune",
        "--recipe",
        "seed-mlp-first",
        "--study",
        "shared",
        "--storage",
        postgres_url,
        "--trials",
        "3",
        "--pruner",
        "none",
        *TINY,
        "--data",
        str(fake_folder),
        "--out",
        str(tmp_path),
    ]
    env = {**os.environ, **_SHARED, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(err for _, err in outputs)

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(6)), "3 trials from each worker, none lost"
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    folders = sorted(p.name for p in (tmp_path / "tune" / "shared").glob("trial-*"))
    assert folders == [f"trial-{n:04d}" for n in range(6)], "one run folder per trial, none duplicated"
    for t in trials:  # each trial's parameters are those its own run trained with
        config = json.loads((Path(t.user_attrs["run_dir"]) / "config.json").read_text())
        assert config["train"]["lr"] == pytest.approx(t.params["lr"], rel=1e-9)
        assert config["train"]["batch_size"] == t.params["batch_size"]


def test_tuning_never_selects_on_test(tmp_path):
    proc = cli_in_process("tune", "--recipe", "seed-cnn3", "--select-on", "test", "--out", tmp_path)
    assert_one_line_error(proc, "never looks at test accuracy")
    assert not (tmp_path / "tune").exists()


def test_unreachable_storage_is_one_line(tmp_path, fake_folder):
    # With data at hand: everything a trial needs is checked before the storage is opened.
    proc = cli_in_process(
        "tune",
        "--recipe",
        "seed-mlp-first",
        "--trials",
        "1",
        "--data",
        fake_folder,
        "--storage",
        "postgresql://someone:secret@127.0.0.1:1/nothing",
        "--out",
        tmp_path,
    )
    line = assert_one_line_error(proc, "cannot use the study storage", "Connection refused")
    assert "secret" not in line
    assert not (tmp_path / "tune").exists() or not any((tmp_path / "tune").iterdir())


def test_a_grid_tries_every_combination_once_then_stops(fake_folder, tmp_path):
    config = get_recipe("seed-mlp-first").config()
    config.out, config.data.data = str(tmp_path), str(fake_folder)
    config.data.train_limit, config.data.val_size, config.train.epochs = 200, 100, 1
    space = [Param("lr", "categorical", choices=(0.01, 0.1)), Param("batch_size", "categorical", choices=(64, 128))]
    tune(config, space=space, trials=3, study="g", pruner="none", sampler="grid", log=lambda m: None)
    # a second worker on the same storage finishes the grid, then starts nothing more
    tune(
        ExperimentConfig.from_dict(config.to_dict()),
        space=space,
        trials=5,
        study="g",
        pruner="none",
        sampler="grid",
        log=lambda m: None,
    )
    rows = read_csv(tmp_path / "tune" / "g" / "trials.csv")
    tried = sorted((float(r["lr"]), int(r["batch_size"])) for r in rows)
    assert tried == [(0.01, 64), (0.01, 128), (0.1, 64), (0.1, 128)]


def test_a_grid_over_a_range_is_one_line(tmp_path):
    proc = cli_in_process(
        "tune", "--sampler", "grid", "--param", "lr=0.01..0.1", "--recipe", "seed-mlp-first", "--out", tmp_path
    )
    assert_one_line_error(
        proc, "--sampler grid takes lists of values; write e.g. lr=0.05,0.1,0.2 instead of lr=0.01..0.1"
    )
    assert not (tmp_path / "tune").exists()
