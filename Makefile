# earlywarning: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EW := $(VENV)/bin/earlywarning
STAMP := $(VENV)/.installed
PIPELINE ?= pipelines/demo.yaml

.PHONY: setup demo test test-fast bench mlflow serve lint clean system-deps

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## make demo: set up, build the default synthetic LA, load and validate it, run the pipeline
demo: setup
	$(EW) demo $(PIPELINE)

## make test: set up and run the whole test suite (slow end-to-end tests included)
test: setup
	$(PY) -m pytest -q

## make test-fast: skip the slow end-to-end tests (for development)
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

## make bench: run the benchmarks beside their baselines; writes bench/results.json
bench: setup
	$(PY) bench/run.py

mlflow: setup
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

lint: setup
	$(VENV)/bin/ruff check src

clean:
	rm -rf data runs mlruns mlflow.db bench/_work bench/results.json
