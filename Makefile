# banwatch: `make demo` runs the pipeline over the bundled sample corpus (offline);
# `make test` runs the test suite. Both set up .venv themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build. 2.13.0 is a CPU build here;
# elsewhere set TORCH_PIP_ARGS to your CPU wheel index (see docs/install.md).
TORCH_VERSION  ?= 2.13.0
TORCH_PIP_ARGS ?=

.PHONY: help install install-dev demo test test-fast lint format bench airflow clean

help:
	@echo "make demo      pipeline over the bundled sample corpus, offline"
	@echo "make test      lint + the whole test suite (CI runs this)"
	@echo "make test-fast the suite without the slow real-scheduler test"
	@echo "make bench     throughput and detection-quality benchmarks"
	@echo "make airflow   airflow standalone with the project's DAGs (SQLite, ./airflow_home)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION) $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.base-installed
	$(BIN)/pip install --quiet -e '.[dev,airflow]'
	@touch $@

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/banwatch demo

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/pytest

test-fast: install-dev
	$(BIN)/pytest -m "not slow"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(BIN)/python bench/throughput.py
	$(BIN)/python -m bench.eval_events

airflow: install-dev
	bash scripts/airflow_standalone.sh

clean:
	rm -rf data/demo .pytest_cache .ruff_cache
