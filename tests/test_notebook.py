"""notebooks/quickstart.ipynb, executed headless in a real IPython kernel (nbclient + ipykernel) on a tiny
selection of the fake data set, checked for what a person would look at: one live figure per training updated
in place once per epoch (not one figure per epoch), progress bars as notebook widgets, the history's rows, the
comparison table with both runs, the HTML of the runs, and no cell raising. Two cells are appended: a bad model
name, which must raise the CLI's one-line error as an exception and leave the kernel alive, and one that reports
the kernel's state as JSON.

The notebook runs once, in one test (about a minute on a 2-core CPU): a module-scoped fixture would run it once
per pytest-xdist worker. Each check_* function below looks at one thing in its record.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="the dev extra installs nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="the dev extra installs ipykernel (pip install -e '.[dev]')")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
EPOCHS = 3  # cnn3 with the Trainer
TINY = {
    "train_images": 300,
    "val_images": 100,
    "test_images": 200,
    "epochs": EPOCHS,
    "budget": "8s",
    "zoo_model": "resnet20",
}
WIDGET = "application/vnd.jupyter.widget-view+json"

BAD_MODEL_CELL = 'cifarlab.train("resnet2O", arrays=arrays, out=out)'
STATE_CELL = """
import json
print("STATE", json.dumps({
    "history_epochs": [row["epoch"] for row in history],
    "history_columns": sorted(history.rows[0]),
    "frame_shape": list(history.to_frame().shape),
    "cnn3_run": cnn3_run.name,
    "zoo_run": zoo_run.name,
    "zoo_epochs": len(zoo_run.metrics),
    "reload_difference": difference,
    "best": best.name,
}))
"""


@dataclass
class Record:
    """The executed notebook, and every iopub message of each cell, in order."""

    nb: object
    work: Path
    messages: dict[int, list[dict]] = field(default_factory=dict)

    def code_cells(self) -> list[tuple[int, object]]:
        return [(i, c) for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]

    def cell_index(self, snippet: str) -> int:
        """The one code cell whose source is ``snippet`` or, failing that, contains it."""
        hits = [i for i, c in self.code_cells() if c.source.strip() == snippet]
        hits = hits or [i for i, c in self.code_cells() if snippet in c.source]
        assert len(hits) == 1, f"{snippet!r} is in {len(hits)} code cells"
        return hits[0]

    def of_type(self, index: int, *types: str) -> list[dict]:
        return [m for m in self.messages.get(index, []) if m["header"]["msg_type"] in types]


class RecordingClient(nbclient.NotebookClient):
    """An nbclient that keeps every message a cell's execution sent: the executed notebook alone cannot
    tell one display updated N times from N displays (nbclient replaces updated outputs in place)."""

    def __init__(self, nb, record: Record, **kwargs):
        super().__init__(nb, **kwargs)
        self.record = record

    def process_message(self, msg, cell, cell_index):
        # a copy of the header: nbclient rewrites an update_display_data message's type in place
        self.record.messages.setdefault(cell_index, []).append({**msg, "header": dict(msg["header"])})
        return super().process_message(msg, cell, cell_index)


def parameter_cell(nb) -> object:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and cells[0].cell_type == "code", "one code cell tagged 'parameters'"
    return cells[0]


def assigned_names(source: str) -> set[str]:
    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets}


def execute_quickstart(fake_folder: Path, work: Path) -> Record:
    """quickstart.ipynb with tiny parameters (papermill-style: the parameters cell's values replaced) and the
    two extra cells, run top to bottom in a fresh kernel of this interpreter, in a scratch folder."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = parameter_cell(nb)
    values = {**TINY, "data": str(fake_folder), "out": "runs"}
    missing = set(values) - assigned_names(params.source)
    assert not missing, f"the parameters cell does not set {missing}"
    params.source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.append(nbformat.v4.new_code_cell(BAD_MODEL_CELL, metadata={"tags": ["raises-exception"]}))
    nb.cells.append(nbformat.v4.new_code_cell(STATE_CELL.strip()))

    # A kernel spec of this very interpreter, found first: no user-wide 'python3' spec of another Python,
    # no IPython profile or startup files of the user's.
    spec = work / "jupyter" / "kernels" / "cifarlab-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "cifarlab test", "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(work / "jupyter"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))
        mp.setenv("IPYTHONDIR", str(work / "ipython"))
        record = Record(nb, work)
        client = RecordingClient(
            nb,
            record,
            kernel_name="cifarlab-test",
            timeout=240,
            startup_timeout=60,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute()  # a cell that raises (without the raises-exception tag) fails here
    return record


def test_committed_notebook_shows_a_real_run_and_explains_each_step():
    """Stored with the outputs of one run from top to bottom (so it shows something where people read
    it): every code cell ran, in order, none raised, and the figures are there."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run every cell once, in order"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    figures = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 4  # the two live plots, the comparison's curves, the confusion matrix, the mistakes
    text = json.dumps([c.outputs for c in code])
    assert not re.search(r"(/work/|/home/|/tmp/|/Users/)", text), "a machine's absolute path in the outputs"
    # every code cell but the parameters follows a markdown cell that says what it does
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown"
    assert sum(k == "markdown" for k in kinds) >= 9
    assert parameter_cell(nb).source.count("=") >= len(TINY)


def check_no_cell_raised_except_the_bad_name(executed):
    for index, cell in executed.code_cells():
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if cell.source == BAD_MODEL_CELL:
            assert len(errors) == 1
        else:
            assert not errors, f"cell {index} raised: {errors}"
        # no tqdm.auto 'IProgress not found' fallback, no tqdm experimental warnings, no traceback text
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "IProgress" not in text and "TqdmWarning" not in text and "Traceback" not in text, text


def _live_figure(record: Record, index: int) -> tuple[str, list[bytes]]:
    """The one display of PNG curves a training cell made, and the PNG of each update of it."""
    images = [m for m in record.of_type(index, "display_data") if "image/png" in m["content"]["data"]]
    assert len(images) == 1, f"{len(images)} figures displayed: the live plot must be one display, updated in place"
    display_id = images[0]["content"].get("transient", {}).get("display_id")
    assert display_id, "the live figure has no display_id, so it cannot be updated in place"
    updates = record.of_type(index, "update_display_data")
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    pngs = [images[0]["content"]["data"]["image/png"]] + [u["content"]["data"]["image/png"] for u in updates]
    # the executed notebook holds that one figure, the last epoch's
    outputs = [o for o in record.nb.cells[index].outputs if "image/png" in o.get("data", {})]
    assert len(outputs) == 1 and outputs[0]["data"]["image/png"] == pngs[-1]
    return display_id, pngs


def check_trainer_curves_are_one_figure_updated_once_per_epoch(executed):
    index = executed.cell_index("trainer.train(")
    _, pngs = _live_figure(executed, index)
    assert len(pngs) == EPOCHS, f"{len(pngs)} drawings of the curves for {EPOCHS} epochs"
    assert len(set(pngs)) == EPOCHS, "each epoch's drawing shows a new point"
    # the progress bars were notebook widgets (ipywidgets is installed by the dev extra), one per epoch
    bars = [m for m in executed.of_type(index, "display_data") if WIDGET in m["content"]["data"]]
    assert len(bars) == EPOCHS


def state(record: Record) -> dict:
    cell = record.nb.cells[record.cell_index('print("STATE"')]
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text.split("STATE", 1)[1])


def check_zoo_run_curves_are_one_figure_too(executed):
    index = executed.cell_index("cifarlab.train(\n    zoo_model")
    _, pngs = _live_figure(executed, index)
    epochs = state(executed)["zoo_epochs"]
    assert epochs >= 1 and len(pngs) == epochs
    stdout = "".join(m["content"].get("text", "") for m in executed.of_type(index, "stream"))
    assert "time budget 8 s:" in stdout, stdout  # the plan was made for the budget the parameters asked


def _html(record: Record, index: int) -> str:
    results = [o for o in record.nb.cells[index].outputs if o.output_type == "execute_result"]
    assert len(results) == 1 and "text/html" in results[0]["data"], "the last expression renders as HTML"
    return results[0]["data"]["text/html"]


def check_history_has_a_row_per_epoch_as_a_table_and_a_frame(executed):
    s = state(executed)
    assert s["history_epochs"] == list(range(1, EPOCHS + 1))
    assert {"train_loss", "train_acc", "val_acc", "test_acc"} <= set(s["history_columns"])
    assert s["frame_shape"][0] == EPOCHS
    html = _html(executed, executed.cell_index("history"))
    body = html.split("<tbody>", 1)[1]
    assert body.count("<tr>") == EPOCHS and "val_acc" in html and "%" in body
    frame = _html(executed, executed.cell_index("history.to_frame()["))
    assert "train_acc" in frame and "val_acc" in frame  # pandas' own HTML


def check_comparison_table_holds_both_runs_and_their_curves(executed):
    s = state(executed)
    html = _html(executed, executed.cell_index("comparison(["))
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert table.count("<tr>") == 2
    assert f">{s['cnn3_run']}<" in table and f">{s['zoo_run']}<" in table
    assert ">cnn3<" in table and ">resnet20<" in table
    assert "data:image/png;base64," in html  # the overlaid curves


def check_runs_render_as_html_and_reload_to_the_same_predictions(executed):
    s = state(executed)
    assert s["cnn3_run"] == "cnn3-trainer"
    assert "run cnn3-trainer" in _html(executed, executed.cell_index("save_run(trainer"))
    assert f"run {s['zoo_run']}" in _html(executed, executed.cell_index("cifarlab.train(\n    zoo_model"))
    reloaded = _html(executed, executed.cell_index("load_run("))
    assert "run cnn3-trainer" in reloaded and "data:image/png;base64," in reloaded
    assert s["reload_difference"] < 1e-4
    run = executed.work / "runs" / "cnn3-trainer"
    for name in ("config.json", "metrics.csv", "curves.png", "model.pt", "summary.json"):
        assert (run / name).is_file(), name


def check_evaluation_and_prediction_show_figures_and_a_class(executed):
    index = executed.cell_index("confusion_figure(")
    assert any("image/png" in o.get("data", {}) for o in executed.nb.cells[index].outputs), "no confusion matrix"
    index = executed.cell_index("gallery_figure(")
    assert any("image/png" in o.get("data", {}) for o in executed.nb.cells[index].outputs), "no mistakes figure"
    cell = executed.nb.cells[executed.cell_index("predict_files(")]
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert re.search(r"example\.png -> \w+ \d+\.\d%, \w+ \d+\.\d%, \w+ \d+\.\d%", text), text
    assert "true class:" in text


def check_bad_model_name_is_the_cli_one_line_error_and_the_kernel_survives(executed, fake_folder):
    cell = executed.nb.cells[executed.cell_index(BAD_MODEL_CELL)]
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "ConfigError"
    assert "\n" not in error.evalue and "Did you mean 'resnet20'?" in error.evalue
    # shown as that one line, not a traceback through cifarlab's modules
    assert len(error.traceback) == 1 and error.evalue in error.traceback[0]
    # the very line the CLI prints for the same mistake
    cli = subprocess.run(
        [sys.executable, "-m", "cifarlab", "train", "--model", "resnet2O", "--data", str(fake_folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode != 0 and cli.stderr.strip() == f"cifarlab: error: {error.evalue}"
    # the kernel lived on: the next cell ran, in the same kernel, with everything still defined
    assert state(executed)["history_epochs"]


@pytest.mark.slow
def test_quickstart_runs_in_a_kernel(fake_folder, tmp_path):
    record = execute_quickstart(fake_folder, tmp_path)
    check_no_cell_raised_except_the_bad_name(record)
    check_trainer_curves_are_one_figure_updated_once_per_epoch(record)
    check_zoo_run_curves_are_one_figure_too(record)
    check_history_has_a_row_per_epoch_as_a_table_and_a_frame(record)
    check_comparison_table_holds_both_runs_and_their_curves(record)
    check_runs_render_as_html_and_reload_to_the_same_predictions(record)
    check_evaluation_and_prediction_show_figures_and_a_class(record)
    check_bad_model_name_is_the_cli_one_line_error_and_the_kernel_survives(record, fake_folder)


def test_stored_outputs_name_files_relative_to_the_notebook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebook", NOTEBOOK.parents[1] / "scripts" / "run_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = Path("/srv/checkout")
    output = {
        "output_type": "stream",
        "text": ["/srv/checkout/src/cifarlab/data/cifar.py:1: /srv/shared/data/x.tar.gz is not official\n"],
        "data": {"image/png": "/srv/checkout/not-a-path-but-base64", "text/plain": "'/srv/shared/runs/a'"},
    }
    assert module.relative_paths(output, root) == {
        "output_type": "stream",
        "text": ["../src/cifarlab/data/cifar.py:1: ../../shared/data/x.tar.gz is not official\n"],
        "data": {"image/png": "/srv/checkout/not-a-path-but-base64", "text/plain": "'../../shared/runs/a'"},
    }
