"""iep_nightly: the student-system export into DuckDB behind a Great Expectations gate.

Thin on purpose: every task calls one function of ``iepwatch.nightly``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from iepwatch import nightly, notify
from iepwatch.assets import COMPLIANCE, CORE_TABLES
from iepwatch.config import load_config

CFG = load_config()

DOC = f"""
### IEP compliance, nightly ({CFG.district_name})

Runs at `{CFG.schedule}` ({CFG.timezone}). The **as-of date** is the run's logical date in
that time zone; every rule is evaluated as of it, never the wall clock.

1. `find_export` — `<export_root>/<as-of>/`, or the `export_dir` param
2. `archive_export` — copied unchanged to `landing/<as-of>/<export_id>/` with checksums
3. `load_staging` — each CSV into DuckDB `staging` (DuckDB's CSV reader)
4. `validate_export` — the gate: primary keys, then the GX suites (`expectations/ingest`)
   compiled to DuckDB; bad rows to `quarantine.rows` (and `runs/<as-of>/quarantine.csv`)
5. `publish_core` — all `core` views swapped in one transaction; emits `{CORE_TABLES.name}`
6. `evaluate_rules` — every rule of compliance-rules.md as of the as-of date
   (`facts.*`, `facts.rule_results`)
7. `build_exceptions` — `compliance.exceptions` (first_detected_on kept across nights),
   `compliance.resolved`, `runs/<as-of>/exceptions.csv`; emits `{COMPLIANCE.name}`, which
   schedules `state_reporting`
8. `send_coordinator_emails` — one digest per coordinator over the `{CFG.smtp_conn_id}` connection,
   each sent once per as-of date (`ops.email_sends`)
9. `build_data_docs` — GX validates the ingest suites (must agree with the gate) and the
   compliance suite (one expectation per rule); `ops.quality_results`; Data Docs in `datadocs/`

A **DATA ERROR** in a task log names the file, column and lines; such a task fails at
once (no retries). Other failures are retried with backoff.
"""


@dag(
    dag_id="iep_nightly",
    schedule=CronTriggerTimetable(CFG.schedule, timezone=CFG.timezone),
    start_date=pendulum.datetime(2026, 7, 1, tz=CFG.timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["iepwatch", "compliance", "nightly"],
    deadline=notify.deadline_alert(CFG),  # None under dag.test() (see iepwatch.notify)
    params={"export_dir": Param(None, type=["null", "string"],
                                description="Absolute path of the export folder (overrides export_root)")},
    default_args=notify.default_args(CFG),
)
def iep_nightly():
    @task
    def find_export(params=None, logical_date=None) -> dict:
        return nightly.find_export(logical_date, params.get("export_dir"))

    @task
    def archive_export(found: dict) -> dict:
        return nightly.archive_export(found)

    @task
    def load_staging(archived: dict) -> dict:
        return nightly.load_staging(archived)

    @task
    def validate_export(archived: dict) -> dict:
        return nightly.validate_export(archived)

    @task(outlets=[CORE_TABLES])
    def publish_core(archived: dict, outlet_events=None) -> dict:
        published = nightly.publish_core(archived)
        outlet_events[CORE_TABLES].extra = {"as_of": published["as_of"], "export_id": published["export_id"]}
        return published

    @task
    def evaluate_rules(published: dict) -> dict:
        return nightly.evaluate_rules(published)

    @task(outlets=[COMPLIANCE])
    def build_exceptions(published: dict, outlet_events=None) -> dict:
        counts = nightly.build_exceptions(published)
        outlet_events[COMPLIANCE].extra = {"as_of": published["as_of"], "export_id": published["export_id"]}
        return counts

    @task
    def send_coordinator_emails(published: dict) -> dict:
        return nightly.send_coordinator_emails(published)

    @task
    def build_data_docs(published: dict) -> dict:
        return nightly.build_data_docs(published)

    archived = archive_export(find_export())
    published = publish_core(archived)
    load_staging(archived) >> validate_export(archived) >> published
    exceptions = build_exceptions(published)
    evaluate_rules(published) >> exceptions >> [send_coordinator_emails(published), build_data_docs(published)]


iep_nightly()
