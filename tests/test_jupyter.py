"""The notebook-facing library, without a kernel: progress bars in and out of Jupyter, History.to_frame and
its HTML, save_run, the comparison object, one-line user errors in IPython, the suggestion for a mistyped
name. tests/test_notebook.py runs the quickstart in a real kernel; tests/test_hostile.py escapes the HTML."""

from __future__ import annotations

import math
import sys
import warnings

import pytest
import torch
from tqdm.std import tqdm as std_tqdm

import cifarlab
from cifarlab.analysis.compare import Comparison, compare, comparison
from cifarlab.core import jupyter
from cifarlab.core.errors import CifarlabError, ConfigError, MissingPackage, RunError, closest_name
from cifarlab.models.registry import create_model, list_models
from cifarlab.plots import LivePlot
from cifarlab.runs.store import load_run, save_run
from cifarlab.training.history import History

ROWS = [
    {"epoch": 1, "train_loss": 2.0, "train_acc": 0.25, "val_loss": math.nan, "val_acc": math.nan, "lr": 0.1},
    {"epoch": 2, "train_loss": 1.5, "train_acc": 0.5, "val_loss": 1.7, "val_acc": 0.4567, "lr": 0.05},
]


# -- progress bars -----------------------------------------------------------------------------------


def test_progress_bar_outside_a_kernel_is_tqdm_on_a_terminal_only(capsys):
    assert not jupyter.in_notebook()
    bar = jupyter.progress_bar(total=3, disable=None)  # pytest's stderr is no terminal: tqdm hides it
    assert type(bar) is std_tqdm and bar.disable
    bar.close()
    shown = jupyter.progress_bar(total=3, disable=False, desc="shown")
    shown.update(3)
    shown.close()
    assert "shown" in capsys.readouterr().err


def test_progress_bar_in_a_kernel_is_the_widget_when_ipywidgets_is_there(monkeypatch, capsys):
    pytest.importorskip("ipywidgets")
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr(jupyter, "in_notebook", lambda: True)
    bar = jupyter.progress_bar(total=3, disable=None, desc="epoch 1/1")
    assert isinstance(bar, notebook_tqdm) and not bar.disable  # None means shown in a notebook
    bar.close()
    assert jupyter.progress_bar(total=3, disable=True).disable


def test_progress_bar_in_a_kernel_without_ipywidgets_is_plain_text_and_silent(monkeypatch, capsys):
    monkeypatch.setattr(jupyter, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto would warn 'IProgress not found' here
        bar = jupyter.progress_bar(total=2, disable=None, desc="plain")
        bar.update(2)
        bar.close()
    assert type(bar) is std_tqdm
    assert "plain" in capsys.readouterr().err  # shown although a kernel's stderr is no terminal


def test_trainer_uses_the_chooser(monkeypatch):
    made = []
    real = jupyter.progress_bar

    def spy(**kwargs):
        made.append(kwargs)
        return real(**kwargs)

    import cifarlab.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "progress_bar", spy)
    x, y = torch.rand(64, 3, 32, 32), torch.randint(0, 10, (64,))
    cifarlab.Trainer(create_model("softmax"), num_epochs=2, batch_size=32, log=None).train(x, y)
    assert [m["desc"] for m in made] == ["epoch 1/2", "epoch 2/2"] and made[0]["disable"] is None


# -- History -----------------------------------------------------------------------------------------


def test_history_to_frame_is_indexed_by_epoch():
    pd = pytest.importorskip("pandas")
    frame = History(ROWS).to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [1, 2] and frame.index.name == "epoch"
    assert list(frame.columns) == ["train_loss", "train_acc", "val_loss", "val_acc", "lr"]  # METRIC_COLUMNS order
    assert math.isnan(frame.loc[1, "val_acc"]) and frame.loc[2, "val_acc"] == pytest.approx(0.4567)


def test_history_to_frame_without_pandas_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingPackage) as caught:
        History(ROWS).to_frame()
    message = str(caught.value)
    assert "\n" not in message and "pip install pandas" in message and ".[notebook]" in message
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, CifarlabError)


def test_history_html_is_a_table_with_one_row_per_epoch():
    html = History(ROWS)._repr_html_()
    body = html.split("<tbody>")[1]
    assert body.count("<tr>") == 2
    assert ">45.67%<" in body and ">–<" in body and ">1.00e-01<" in body and ">5.00e-02<" in body
    assert "History: 2 epochs" in html
    assert "<tr>" not in History()._repr_html_().split("<tbody>")[1]


# -- saving a Trainer as a run, comparing ----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (200,))
    trainer = cifarlab.Trainer(create_model("softmax"), num_epochs=2, batch_size=50, progress=False, log=None)
    trainer.train(x[:150], y[:150], x[150:], y[150:])
    return trainer, x


def test_save_run_writes_a_run_that_loads_back(trained, tmp_path):
    trainer, x = trained
    classes = [f"c{i}" for i in range(10)]
    run = save_run(trainer, tmp_path, model="softmax", classes=classes, name="mine")
    assert run.path == tmp_path / "mine" and run.name == "mine"
    for name in ("config.json", "metrics.csv", "curves.png", "model.pt", "summary.json"):
        assert (run.path / name).is_file(), name
    assert run.summary["status"] == "completed"
    assert (run.summary["train_images"], run.summary["test_images"]) == (150, 50)
    back = load_run(run.path)
    assert back.classes == classes and back.config.train.epochs == 2 and back.config.model == "softmax"
    assert torch.allclose(back.predict(x[:20]), run.predict(x[:20]), atol=1e-6)
    assert [r["epoch"] for r in back.history] == [1, 2]
    html = back._repr_html_()
    assert "run mine" in html and "data:image/png;base64," in html and "c0, c1" in html
    # a second save never overwrites the first
    assert save_run(trainer, tmp_path, model="softmax", classes=classes, name="mine").name == "mine-2"


def test_save_run_refuses_a_net_of_another_shape_before_writing(trained, tmp_path):
    trainer, _ = trained
    with pytest.raises(RunError, match="not a 'mlp_first'"):
        save_run(trainer, tmp_path, model="mlp_first", classes=list("abcdefghij"))
    with pytest.raises(RunError, match="with 3 classes"):
        save_run(trainer, tmp_path, model="softmax", classes=["a", "b", "c"])
    with pytest.raises(ConfigError, match="unknown model"):
        save_run(trainer, tmp_path, model="sofmax", classes=list("abcdefghij"))
    fresh = cifarlab.Trainer(create_model("softmax"), progress=False, log=None)
    with pytest.raises(RunError, match="call trainer.train"):
        save_run(fresh, tmp_path, model="softmax", classes=list("abcdefghij"))
    assert list(tmp_path.iterdir()) == []


def test_comparison_object_and_compare_agree(trained, tmp_path):
    trainer, _ = trained
    classes = list("abcdefghij")
    a = save_run(trainer, tmp_path / "runs", model="softmax", classes=classes, name="a")
    b = save_run(trainer, tmp_path / "runs", model="softmax", classes=classes, name="b")
    result = comparison([a, b.path])  # runs and folders alike
    assert isinstance(result, Comparison) and [r["name"] for r in result.rows] == ["a", "b"]
    html = result._repr_html_()
    table = html.split("<tbody>")[1].split("</tbody>")[0]
    assert table.count("<tr>") == 2 and ">a<" in table and ">b<" in table and ">softmax<" in table
    assert "data:image/png;base64," in html
    rows, md = compare([a.path, b.path], tmp_path / "cmp.png")
    assert md == result.table() and [r["name"] for r in rows] == ["a", "b"]
    assert (tmp_path / "cmp.csv").read_text() == result.csv()
    pd = pytest.importorskip("pandas")
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == ["a", "b"]
    with pytest.raises(RunError, match="nothing to compare"):
        comparison([])


# -- live plot, one-line errors, suggestions --------------------------------------------------------


def test_live_plot_outside_a_kernel_draws_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # would fail on import if LivePlot reached for it
    x, y = torch.rand(32, 3, 32, 32), torch.randint(0, 10, (32,))
    live = LivePlot("t")
    cifarlab.Trainer(create_model("softmax"), num_epochs=1, callbacks=[live], progress=False, log=None).train(x, y)
    assert live._handle is None


class _Shell:
    """The two IPython shell members the handler uses."""

    def __init__(self, custom=()):
        self.custom_exceptions = custom
        self.shown = []

    def set_custom_exc(self, exc_tuple, handler):
        self.custom_exceptions, self.handler = exc_tuple, handler

    def _showtraceback(self, etype, value, stb):
        self.shown.append((etype, value, stb))


def test_user_errors_show_as_one_line_in_ipython():
    shell = _Shell()
    assert jupyter.show_user_errors_briefly(shell) and shell.custom_exceptions == (CifarlabError,)
    error = ConfigError("unknown model 'x'. Did you mean 'y'?")
    stb = shell.handler(shell, ConfigError, error, None)
    assert len(stb) == 1 and stb[0].endswith("ConfigError\x1b[0m: unknown model 'x'. Did you mean 'y'?")
    assert shell.shown == [(ConfigError, error, stb)] and sys.last_value is error
    other = _Shell(custom=(KeyError,))  # a user's own handler is left alone
    assert not jupyter.show_user_errors_briefly(other) and other.custom_exceptions == (KeyError,)
    assert not jupyter.show_user_errors_briefly()  # no kernel here: nothing installed


def test_a_mistyped_character_suggests_the_name_it_was_typed_over():
    names = [m if isinstance(m, str) else m.name for m in list_models()]
    assert closest_name("resnet2O", names) == "resnet20"  # difflib alone prefers resnet32
    assert closest_name("ResNet56", names) == "resnet56"
    assert closest_name("cnn3wide", names) == "cnn3_wide"
    assert closest_name("qqqq", names) is None
    with pytest.raises(ConfigError, match="Did you mean 'resnet20'"):
        cifarlab.train("resnet2O")
