# mallwake: `make report` builds the HTML reports on the demo data; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= test
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
# uv installs the exact versions of uv.lock (what CI tested); it lives in its own small venv.
# --compile-bytecode: every kernel then imports from .pyc (5 s of imports per notebook otherwise
# where PYTHONDONTWRITEBYTECODE is set, and 2-3 s more on the first run everywhere)
UV_VERSION := 0.13.9
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
EXTRA_FLAGS := $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e))
export UV_LINK_MODE ?= copy
# JupyterLab refuses to start as root unless told
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
DEMO   := data/demo
JOBS   ?= 2
MONTHS ?= 2024-01..2024-12

.DEFAULT_GOAL := help
.PHONY: help setup demo-data report monthly lint test test-fast lab lock handout bench validate-study clean clean-cache

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --disable-pip-version-check --progress-bar on uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --python $(PYTHON) $(EXTRA_FLAGS)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the exact versions of uv.lock (only when pyproject.toml or uv.lock changed)

lock: $(UV) ## upgrade uv.lock to the newest versions pyproject.toml allows and rewrite environment.yml; then run make test
	$(UV) lock --upgrade --python $(PYTHON)
	$(MAKE) setup
	$(BIN)/python -m analysis.application.lockfile

$(DEMO)/truth.json: $(STAMP) src/analysis/statistics/synthetic.py
	$(BIN)/mallwake demo-data --out $(DEMO)

demo-data: $(DEMO)/truth.json ## generate the synthetic Mall A demo data (if absent or outdated)

report: $(DEMO)/truth.json ## build the HTML reports and the last month's member report on the demo data: open reports/index.html
	$(BIN)/mallwake run --data $(DEMO) --jobs $(JOBS)
	$(BIN)/mallwake run --data $(DEMO) --month latest

monthly: $(DEMO)/truth.json ## backfill the monthly member reports of the demo data's last year (MONTHS=2024-01..2024-12)
	$(BIN)/mallwake run --data $(DEMO) --months $(MONTHS) --jobs $(JOBS)

lint: $(STAMP) ## ruff (lint and format check); the layer contract runs as a test (tests/test_layers.py)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint ## run the test suite (executes every notebook on a small generated mall)
	MALLWAKE_EXTRAS=$(EXTRAS) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile

test-fast: lint ## the edit loop: the tests not marked slow (no notebook executions); the full suite is make test
	MALLWAKE_EXTRAS=$(EXTRAS) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m "not slow" -q

# JupyterLab's default viewer of .py files: Jupytext's notebook (the settings of this .venv only)
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

lab: $(STAMP) ## open JupyterLab on the notebooks (defaults read the demo data; a double-clicked .py source opens as a notebook)
	@test -f $(DEMO)/truth.json || $(MAKE) demo-data
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' > $(LAB_OVERRIDES)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ROOT) $(LAB_ARGS)

handout: $(STAMP) ## write the students' copies of the teaching notebooks (no solution cells) into handout/
	$(BIN)/mallwake handout handout

bench: $(STAMP) ## run the benchmarks (writes benchmarks/results/*.json; see benchmarks/RESULTS.md)
	$(BIN)/python benchmarks/bench_run.py --members 50000

clean: ## remove generated reports, exports and demo data (keeps .venv)
	rm -rf reports/ exports/ $(DEMO)

clean-cache: ## remove the staged copies of data directories and cached validations
	rm -rf "$${MALLWAKE_CACHE_DIR:-$$HOME/.cache/mallwake}"
