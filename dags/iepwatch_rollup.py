"""iepwatch_rollup: a deployment's roll-up of its districts' nights (only with a deployment file,
``IEPWATCH_DEPLOYMENT``). Wiring only: the task is ``iepwatch.tasks.rollup.build_rollup``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from iepwatch import alerts, assets
from iepwatch.deployment import districts
from iepwatch.tasks import rollup as t

DOC = """
### Roll-up of the deployment's districts

Runs when every district's `state_reporting` has published its night (the Assets
`iepwatch_extracts__<district>`), or on demand with the `as_of` param. Reads each district's
published files (never its warehouse) and writes `rollup/<as-of>/`: counts by district, school,
rule and status, and the B11 / B13 percents of each district and of the deployment. Counts only.
"""

DEPLOYMENT = districts.active()
if DEPLOYMENT is not None:
    CONFIGS = DEPLOYMENT.configs()

    @dag(
        dag_id=districts.ROLLUP_DAG,
        schedule=[assets.extracts(cfg.district_id) for cfg in CONFIGS],   # all of them
        start_date=pendulum.datetime(2026, 7, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=DOC,
        tags=["iepwatch", "rollup"],
        params={"as_of": Param(None, type=["null", "string"],
                               description="As-of date YYYY-MM-DD (default: the newest night of every district)")},
        default_args={**alerts.default_args(CONFIGS[0]), "pool": "default_pool"},   # reads files only
    )
    def iepwatch_rollup():
        task(t.build_rollup)()

    iepwatch_rollup()
