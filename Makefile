# iepwatch — the two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
PY := $(ROOT)/.venv/bin/python
UV := $(ROOT)/.tools/bin/uv
DEMO_DATE ?= 2026-11-27
DEMO_STUDENTS ?= 2000

export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(ROOT)/.venv
export AIRFLOW_HOME ?= $(ROOT)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT := 60
export IEPWATCH_DATA_DIR ?= $(ROOT)/data
export PYTHONPATH := $(ROOT)/include
# `airflow dags test` (dag.test) fails on DAGs with a DeadlineAlert in Airflow 3.3.2 (see iepwatch/notify.py);
# the alert is on for scheduled runs (make airflow, docker-compose).
nightly: export IEPWATCH_DISABLE_DEADLINE := 1

.PHONY: help venv airflow-db demo demo-export nightly email-preview airflow stop test test-browser lint bench clean

help:
	@echo "make demo   - set up, generate the demo district, run the nightly DAG once"
	@echo "make test   - set up and run the test suite"
	@echo "make nightly DATE=YYYY-MM-DD EXPORT=/abs/path - run one night on an export"
	@echo "make bench  - ingest, rules and whole-night figures at 100,000 and 1,000,000 students"
	@echo "make airflow / make stop - the Airflow UI on 127.0.0.1:8080 with the iepwatch page"
	@echo "make email-preview - the first demo email rendered to PNG (needs chromium)"

$(UV):
	python3 -m venv $(ROOT)/.tools
	$(ROOT)/.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

venv: .venv/.synced

$(AIRFLOW_HOME)/airflow.db: .venv/.synced
	@mkdir -p $(AIRFLOW_HOME)
	$(ROOT)/.venv/bin/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(ROOT)/.venv/bin/airflow pools set iepwatch_warehouse 1 "DuckDB warehouse: one writing task at a time" \
	  >> $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

airflow-db: $(AIRFLOW_HOME)/airflow.db

demo-export: venv
	@test -f $(IEPWATCH_DATA_DIR)/exports/$(DEMO_DATE)/students.csv || \
	  $(PY) -m iepwatch.demo --out $(IEPWATCH_DATA_DIR)/exports/$(DEMO_DATE) --students $(DEMO_STUDENTS) --as-of $(DEMO_DATE)

DEMO_SMTP_PORT ?= 8025

# The demo's mail goes to a local SMTP server (aiosmtpd) writing $(IEPWATCH_DATA_DIR)/outbox/*.eml;
# the pipeline sends it through the Airflow connection smtp_default as in production.
demo: demo-export airflow-db
	@mkdir -p $(IEPWATCH_DATA_DIR)/outbox
	@$(PY) -m iepwatch.alerts.mailcatcher --port $(DEMO_SMTP_PORT) --outbox $(IEPWATCH_DATA_DIR)/outbox \
	  > $(IEPWATCH_DATA_DIR)/outbox/mailcatcher.log 2>&1 & echo $$! > $(IEPWATCH_DATA_DIR)/outbox/mailcatcher.pid; \
	sleep 1; \
	AIRFLOW_CONN_SMTP_DEFAULT='smtp://127.0.0.1:$(DEMO_SMTP_PORT)?disable_ssl=true&disable_tls=true&from_email=iepwatch%40example.org' \
	  $(MAKE) --no-print-directory nightly DATE=$(DEMO_DATE) EXPORT=$(IEPWATCH_DATA_DIR)/exports/$(DEMO_DATE); \
	status=$$?; kill $$(cat $(IEPWATCH_DATA_DIR)/outbox/mailcatcher.pid) 2>/dev/null; \
	rm -f $(IEPWATCH_DATA_DIR)/outbox/mailcatcher.pid; exit $$status

nightly: airflow-db
	@test -n "$(DATE)" || (echo "usage: make nightly DATE=YYYY-MM-DD EXPORT=/abs/path/to/export"; exit 2)
	@mkdir -p $(IEPWATCH_DATA_DIR)/runs/$(DATE)
	@echo "running iep_nightly for $(DATE) (log: $(IEPWATCH_DATA_DIR)/runs/$(DATE)/airflow.log)"
	@set -o pipefail; $(ROOT)/.venv/bin/airflow dags test iep_nightly "$$($(PY) -m iepwatch.cli logical-date $(DATE))" \
	  --conf '{"export_dir": "$(EXPORT)"}' > $(IEPWATCH_DATA_DIR)/runs/$(DATE)/airflow.log 2>&1; \
	  status=$$?; grep -E "\[error +\].*\[iepwatch|^[A-Za-z_.]+(Error|Exception): " $(IEPWATCH_DATA_DIR)/runs/$(DATE)/airflow.log \
	    | grep -v "raise " | sed -E 's/^[0-9TZ:.-]+ \[error +\] //; s/ \[iepwatch[^]]*\] loc=.*//' | cut -c1-600 | awk '!seen[$$0]++' | head -12; \
	  grep -q "DagRun Finished:.*state=success," $(IEPWATCH_DATA_DIR)/runs/$(DATE)/airflow.log && [ $$status -eq 0 ] || \
	  { echo "iep_nightly FAILED for $(DATE); see the lines above and $(IEPWATCH_DATA_DIR)/runs/$(DATE)/airflow.log"; exit 1; }
	@echo "running state_reporting for $(DATE) (log: $(IEPWATCH_DATA_DIR)/runs/$(DATE)/state_reporting.log)"
	@set -o pipefail; log=$(IEPWATCH_DATA_DIR)/runs/$(DATE)/state_reporting.log; \
	  $(ROOT)/.venv/bin/airflow dags test state_reporting "$$($(PY) -m iepwatch.cli logical-date $(DATE))" \
	  --conf '{"as_of": "$(DATE)"}' > $$log 2>&1; status=$$?; \
	  grep -E "\[error +\].*\[iepwatch|^[A-Za-z_.]+(Error|Exception): " $$log | grep -v "raise " \
	    | sed -E 's/^[0-9TZ:.-]+ \[error +\] //; s/ \[iepwatch[^]]*\] loc=.*//' | cut -c1-600 | awk '!seen[$$0]++' | head -12; \
	  grep -q "DagRun Finished:.*state=success," $$log && [ $$status -eq 0 ] || \
	  { echo "state_reporting FAILED for $(DATE); see the lines above and $$log"; exit 1; }
	@$(PY) -m iepwatch.cli summary $(DATE)

# Render the first demo email's HTML to PNG (needs Debian's chromium: apt-get install chromium).
email-preview: venv
	@f=$$(ls $(IEPWATCH_DATA_DIR)/outbox/iepwatch.$(DEMO_DATE).*.eml 2>/dev/null | head -1); \
	test -n "$$f" || { echo "no demo email yet: run make demo first"; exit 1; }; \
	$(PY) -m iepwatch.alerts.preview "$$f" $(IEPWATCH_DATA_DIR)/outbox/preview.png

AIRFLOW_PORT ?= 8080

# The Airflow UI on 127.0.0.1 (airflow standalone, SQLite, 4 parallel tasks); `make stop` ends it.
airflow: airflow-db
	@if [ -f $(AIRFLOW_HOME)/standalone.pid ] && kill -0 -$$(cat $(AIRFLOW_HOME)/standalone.pid) 2>/dev/null; then \
	  echo "already running: http://127.0.0.1:$(AIRFLOW_PORT)"; exit 0; fi; \
	AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) AIRFLOW__CORE__PARALLELISM=4 \
	AIRFLOW__API__BASE_URL=http://127.0.0.1:$(AIRFLOW_PORT) \
	PATH=$(ROOT)/.venv/bin:$$PATH setsid $(ROOT)/.venv/bin/airflow standalone > $(AIRFLOW_HOME)/standalone.log 2>&1 < /dev/null & \
	echo $$! > $(AIRFLOW_HOME)/standalone.pid; \
	for i in $$(seq 1 90); do curl -sf http://127.0.0.1:$(AIRFLOW_PORT)/api/v2/monitor/health > /dev/null && break; sleep 1; done; \
	curl -sf http://127.0.0.1:$(AIRFLOW_PORT)/api/v2/monitor/health > /dev/null || { echo "Airflow did not start; see $(AIRFLOW_HOME)/standalone.log"; exit 1; }; \
	echo "Airflow UI: http://127.0.0.1:$(AIRFLOW_PORT)  (iepwatch page: http://127.0.0.1:$(AIRFLOW_PORT)/iepwatch/)"; \
	echo "login: admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"; \
	echo "stop it with: make stop"

stop:
	@if [ -f $(AIRFLOW_HOME)/standalone.pid ]; then pg=$$(cat $(AIRFLOW_HOME)/standalone.pid); \
	  kill -TERM -$$pg 2>/dev/null; for i in $$(seq 1 30); do kill -0 -$$pg 2>/dev/null || break; sleep 1; done; \
	  kill -KILL -$$pg 2>/dev/null; rm -f $(AIRFLOW_HOME)/standalone.pid; echo "Airflow stopped"; \
	else echo "Airflow is not running"; fi

# Headless Chromium for the screenshot tests (Debian's package): installed in CI (root, apt), else optional.
test-browser:
	@command -v chromium > /dev/null && exit 0; \
	if [ "$$CI" = "true" ] && [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  echo "installing Debian's chromium for the screenshot tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) > /tmp/iepwatch-apt.log 2>&1 \
	    || echo "could not install chromium (see /tmp/iepwatch-apt.log): screenshot tests are skipped"; \
	else echo "chromium not found: the screenshot tests are skipped (apt-get install chromium)"; fi

test: venv test-browser
	$(PY) -m pytest -q

lint: venv
	$(ROOT)/.venv/bin/ruff check .
	$(ROOT)/.venv/bin/ruff check --select AIR3 dags/

bench: venv
	$(PY) -m iepwatch.bench

clean:
	rm -rf $(ROOT)/data $(AIRFLOW_HOME)
