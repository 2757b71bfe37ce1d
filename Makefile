# Two commands do all set-up: `make run` and `make test`. Both are idempotent: the venv is
# rebuilt only when pyproject.toml changes (stamp files), so a second call starts at once.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU wheel of torch on this machine's disk; override (e.g. TORCH_SPEC=torch) on a GPU box.
TORCH_SPEC ?= torch==2.13.0
RUN_ARGS ?=
# pytest worker processes for `make test` (pytest-xdist): one per core; TEST_JOBS=0 runs serially.
# --durations lists the slowest tests in every run (CI included), to keep the suite within ~5 min.
TEST_JOBS ?= auto

.PHONY: run test install dev notebook clean

run: $(VENV)/.installed
	$(VENV)/bin/cifarlab train $(RUN_ARGS)

test: $(VENV)/.dev
	@scripts/ensure_chromium.sh
	@scripts/ensure_postgres.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_JOBS) --dist load --durations=15

install: $(VENV)/.installed
dev: $(VENV)/.dev

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# Jupyter: the notebook extra (ipykernel, ipywidgets, pandas) and a kernel named "Python (cifarlab)" for
# the Jupyter front ends of this user (JupyterLab, Notebook, VS Code); then open notebooks/quickstart.ipynb.
notebook: $(VENV)/.notebook
	$(PY) -m ipykernel install --user --name cifarlab --display-name "Python (cifarlab)"
	@echo "open notebooks/quickstart.ipynb in JupyterLab, Jupyter Notebook or VS Code and pick the kernel 'Python (cifarlab)'"

$(VENV)/.notebook: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[notebook]"
	touch $@

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
