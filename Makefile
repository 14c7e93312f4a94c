# earlywarning: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EW := $(VENV)/bin/earlywarning
STAMP := $(VENV)/.installed
PIPELINE ?= pipelines/demo.yaml

.PHONY: setup demo test test-fast bench mlflow serve lint clean system-deps app-assets

setup: $(STAMP) app-assets

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## GOV.UK Frontend (pinned in package-lock.json) copied into the web app's static folder
GOVUK_DIST := node_modules/govuk-frontend/dist/govuk
APP_ASSETS := src/app/static/govuk/govuk-frontend.min.css
app-assets: $(APP_ASSETS)
$(APP_ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund
	rm -rf src/app/static/govuk && mkdir -p src/app/static/govuk
	cp -r $(GOVUK_DIST)/govuk-frontend.min.css $(GOVUK_DIST)/govuk-frontend.min.js \
	      $(GOVUK_DIST)/assets src/app/static/govuk/

## Debian's chromium (browser tests; never a downloaded browser) and PostgreSQL server
## (the app's database test), installed only when missing
system-deps:
	@missing=""; test -x /usr/bin/chromium || missing="chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y $$missing; fi

## make demo: set up, build the default synthetic LA, load and validate it, run the pipeline
demo: setup
	$(EW) demo $(PIPELINE)

## make test: set up and run the whole test suite (slow end-to-end tests included)
test: setup system-deps
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
