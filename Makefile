# mallwake: `make report` builds the HTML reports on the demo data; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= test
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DEMO   := data/demo
JOBS   ?= 2
MONTHS ?= 2024-01..2024-12

.DEFAULT_GOAL := help
.PHONY: help setup demo-data report monthly test test-fast lab bench validate-study clean clean-cache

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project (only when pyproject.toml changed)

$(DEMO)/truth.json: $(STAMP) src/analysis/synthetic.py
	$(BIN)/mallwake demo-data --out $(DEMO)

demo-data: $(DEMO)/truth.json ## generate the synthetic Mall A demo data (if absent or outdated)

report: $(DEMO)/truth.json ## build the HTML reports and the last month's member report on the demo data: open reports/index.html
	$(BIN)/mallwake run --data $(DEMO) --jobs $(JOBS)
	$(BIN)/mallwake run --data $(DEMO) --month latest

monthly: $(DEMO)/truth.json ## backfill the monthly member reports of the demo data's last year (MONTHS=2024-01..2024-12)
	$(BIN)/mallwake run --data $(DEMO) --months $(MONTHS) --jobs $(JOBS)

test: $(STAMP) ## run the test suite (executes every notebook on a small generated mall)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

lab: $(DEMO)/truth.json ## open JupyterLab on the notebooks (defaults read the demo data)
	cd notebooks && ../$(BIN)/jupyter lab

bench: $(STAMP) ## run the benchmarks (writes benchmarks/results/*.json; see benchmarks/RESULTS.md)
	$(BIN)/python benchmarks/bench_run.py --members 50000

clean: ## remove generated reports and demo data (keeps .venv)
	rm -rf reports/*/ reports/index.html reports/.mallwake exports/ $(DEMO)

clean-cache: ## remove the staged copies of data directories and cached validations
	rm -rf "$${MALLWAKE_CACHE_DIR:-$$HOME/.cache/mallwake}"
