"""iep_nightly: the student-system export into DuckDB behind a Great Expectations gate, the rules,
the coordinators' digests. Wiring only: each task is a function of ``iepwatch.tasks.iep_nightly``.

One DAG per district: ``iep_nightly`` for a single district, ``iep_nightly__<id>`` for each
district of a deployment file (``IEPWATCH_DEPLOYMENT``; see ``iepwatch.deployment.districts``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from iepwatch import alerts, assets
from iepwatch.config import Config
from iepwatch.deployment import districts
from iepwatch.district import district_configs
from iepwatch.tasks import iep_nightly as t

DOC = """
### IEP compliance, nightly ({cfg.district.name})

Runs at `{cfg.district.schedule}` ({cfg.district.timezone}). The **as-of date** is the run's logical
date in that time zone; every rule is evaluated as of it, never the wall clock. Each task hands the
next one the night (as-of date, export id, load slot) through XCom; no student data.

1. `find_export` — `<export_root>/<as-of>/`, or the `export_dir` param
2. `archive_export` — copied unchanged to `landing/<as-of>/<export_id>/` with checksums
3. `load_staging` — each CSV into a free DuckDB load slot (DuckDB's CSV reader)
4. `validate_export` — the gate: primary keys, then the ingest suites (`expectations/ingest`)
   compiled to DuckDB; bad rows to `quarantine.rows` (and `runs/<as-of>/quarantine.csv`)
5. `evaluate_rules` — every compliance rule as of the as-of date, into the rule facts beside the slot
6. `build_exceptions` — the night's `compliance.exceptions` (first_detected_on kept across nights)
   and `compliance.resolved`
7. `update_corrections_ledger` — the state's findings checked on the night (a broken findings
   folder fails this task only)
8. `publish_night` — the whole night published in one transaction (`core` and `facts` views, the
   record of what is published), then `runs/<as-of>/exceptions.csv` and `summary.json`; until then
   every reader sees the previous night, whole; emits `{core.name}`
9. `send_coordinator_emails` — one digest per coordinator over `{cfg.email.smtp_conn_id}`,
   each sent once per as-of date (`ops.email_sends`)
10. `build_data_docs` — GX renders the night's one validation as the Data Docs (`datadocs/`):
   the gate's result of every ingest expectation, the rules' of the compliance suite (one
   expectation per rule); nothing is evaluated twice
11. `finish_night` — once the night is published and its Data Docs built, emits `{compliance.name}`,
   which schedules `state_reporting`: a night that failed never triggers its extracts, and a mail
   server that is down never holds them back (the emails are retried on their own)

A **DATA ERROR** or **CONFIG ERROR** in a task log names the file, column and lines (or the
setting); such a task fails at once, without retries. Other failures are retried with backoff.
The rules, inputs and outputs are explained in the repository's `docs/`.
"""


def nightly(cfg: Config) -> None:
    district = cfg.district_id
    core, compliance = assets.core_tables(district), assets.compliance(district)

    @dag(
        dag_id=districts.dag_id("iep_nightly", district),
        schedule=CronTriggerTimetable(cfg.district.schedule, timezone=cfg.district.timezone),
        start_date=pendulum.datetime(2026, 7, 1, tz=cfg.district.timezone),
        catchup=False,
        is_paused_upon_creation=True,   # a first start runs no night before the data team turns it on
        max_active_runs=1,
        doc_md=DOC.format(cfg=cfg, core=core, compliance=compliance),
        tags=["iepwatch", "compliance", "nightly", *([f"district:{district}"] if district else [])],
        deadline=alerts.deadline_alert(cfg),  # None under dag.test() (see iepwatch.alerts)
        params={"export_dir": Param(None, type=["null", "string"],
                                    description="Absolute path of the export folder (overrides export_root)"),
                "backfill": Param(False, type="boolean", description="Run a night older than the published one "
                                                                     "(no emails; history recomputed)"),
                "allow_shrink": Param(False, type="boolean",
                                      description="Publish although a table shrank (quality.max_table_shrink_pct)"),
                "extracts_by_caller": Param(False, type="boolean",
                                            description="The caller builds the night's extracts itself (make nightly):"
                                                        " the asset-triggered state_reporting skips")},
        default_args=alerts.default_args(cfg),
    )
    def iep_nightly():
        night = task(t.find_export)()
        night = task(t.archive_export)(night)
        night = task(t.load_staging)(night)
        night = task(t.validate_export)(night)
        night = task(t.evaluate_rules)(night)
        night = task(t.build_exceptions)(night)
        ledger = task(t.update_corrections_ledger)(night)
        # a broken findings folder fails the ledger alone: the night publishes (with the last good ledger)
        night = task(t.publish_night, outlets=[core], trigger_rule="all_done_min_one_success")(night)
        ledger >> night
        task(t.send_coordinator_emails, retries=cfg.email.send_retries)(night)
        docs = task(t.build_data_docs)(night)
        # only a whole night fires it; the state's extracts never wait on the mail server
        docs >> task(t.finish_night, outlets=[compliance])(night)

    iep_nightly()


for _cfg in district_configs():
    nightly(_cfg)
