# iepwatch — a new user needs two commands: `make demo` and `make test`. Every target is one line;
# the logic lives in the development tools' CLI (python -m tools.cli --help), outside the package Airflow runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := $(CURDIR)/.venv/bin/python
UV := $(CURDIR)/.tools/bin/uv
DEMO_DATE ?= 2026-11-27
DEMO_STUDENTS ?= 2000
DEMO_SMTP_PORT ?= 8025
DEMO_PACK ?= federal
AIRFLOW_PORT ?= 8080
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
# the package Airflow runs (include/iepwatch) and the development tools (tools/)
export PYTHONPATH := $(CURDIR)/include:$(CURDIR)
CLI := $(PY) -m tools.cli

.PHONY: help venv demo nightly airflow stop cluster cluster-stop email-preview test test-fast rule-docs lint bench clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(UV):
	python3 -m venv $(CURDIR)/.tools && $(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --extra deploy && touch $@

ASSETS := $(CURDIR)/include/iepwatch/quality/assets
$(ASSETS)/node_modules/.synced: $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(ASSETS) --ignore-scripts --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the Data Docs will load their scripts and styles from CDNs"; fi

venv: .venv/.synced $(ASSETS)/node_modules/.synced ## the virtual environment from uv.lock, the Data Docs' assets from package-lock.json

demo: venv ## set up, generate the demo district and run its night (DEMO_PACK=texas, DEMO_SMTP_PORT=0, ...)
	$(CLI) demo --date $(DEMO_DATE) --students $(DEMO_STUDENTS) --smtp-port $(DEMO_SMTP_PORT) --pack $(DEMO_PACK)

nightly: venv ## run both DAGs for one night: make nightly DATE=YYYY-MM-DD [EXPORT=/path] [ALLOW_SHRINK=1] [BACKFILL=1] [DISTRICT=id]
	$(CLI) night --date $(DATE) $(if $(EXPORT),--export $(EXPORT)) $(if $(ALLOW_SHRINK),--allow-shrink) $(if $(BACKFILL),--backfill) $(if $(DISTRICT),--district $(DISTRICT))

airflow: venv ## the Airflow UI on 127.0.0.1:$(AIRFLOW_PORT) with the iepwatch page
	$(CLI) airflow start --port $(AIRFLOW_PORT)

stop: venv ## stop the Airflow UI
	$(CLI) airflow stop

cluster: venv ## a real deployment here: PostgreSQL metadata, Celery (Redis), 2 workers, each component its own process
	$(CLI) cluster start

cluster-stop: venv ## stop what make cluster started
	$(CLI) cluster stop

email-preview: venv ## the first demo email rendered to PNG (needs chromium)
	$(CLI) email-preview --date $(DEMO_DATE)

test: venv ## the whole test suite (what CI runs)
	$(PY) tests/ensure_chromium.py && $(PY) -m pytest -q

test-fast: venv ## the fast tier: no Airflow server, no browser, no cluster, no bench
	$(PY) -m pytest -q -m "not (dag_run or airflow_server or browser or cluster or bench)"

rule-docs: venv ## write docs/rules.md's rule tables from the rule catalog (include/iepwatch/rules/catalog.yaml)
	$(PY) -m tools.rule_docs

lint: venv ## ruff, with Airflow 3's rules on the DAGs
	$(CURDIR)/.venv/bin/ruff check . && $(CURDIR)/.venv/bin/ruff check --select AIR3 dags/

bench: venv ## every figure of "Performance" with its target: nights at 100,000 and 1,000,000 students (and larger teams), make nightly, 20 districts through make cluster
	$(PY) -m tools.bench

clean: ## remove the data folder and the local Airflow
	rm -rf $(CURDIR)/data $(CURDIR)/airflow_home
