"""state_reporting: the state extracts of one night, validated before they are published.
Wiring only: each task is a function of ``iepwatch.tasks.state_reporting``.

One DAG per district, like ``iep_nightly`` (``state_reporting__<id>`` in a deployment)."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from iepwatch import alerts, assets
from iepwatch.config import Config
from iepwatch.deployment import districts
from iepwatch.district import district_configs
from iepwatch.tasks import state_reporting as t

DOC = """
### State-reporting extracts

Runs when `iep_nightly` has built the night's exceptions (Asset `{compliance}`), or on
demand with the `as_of` param. One mapped `build_extract` per format definition
(`include/sql/extracts/*.yaml`) builds the rows in DuckDB and checks them with the
format's suite (required fields, code sets, lengths, date range, row count; failures name the
field and lines). `publish_extracts` then validates every format with Great Expectations in one
run and writes each accepted format's file and `manifest.json` to `extracts/<format>/<as-of>/` in
one folder swap. A failing format is not published (the previous files stay) and fails the run;
the other formats are still published. The same as-of date regenerates byte-identical files.
When every format is published it emits `{extracts}` (a deployment's roll-up waits for it).
"""


def reporting(cfg: Config) -> None:
    district = cfg.district_id
    compliance, extracts = assets.compliance(district), assets.extracts(district)

    @dag(
        dag_id=districts.dag_id("state_reporting", district),
        schedule=[compliance],
        start_date=pendulum.datetime(2026, 7, 1, tz=cfg.district.timezone),
        catchup=False,
        max_active_runs=1,
        doc_md=DOC.format(compliance=compliance.name, extracts=extracts.name),
        tags=["iepwatch", "state-reporting", *([f"district:{district}"] if district else [])],
        params={"as_of": Param(None, type=["null", "string"],
                               description="As-of date YYYY-MM-DD (default: the night's)")},
        default_args=alerts.default_args(cfg),
    )
    def state_reporting():
        night = task(t.resolve_as_of)()
        built = task(t.build_extract, map_index_template="{{ task.op_kwargs['name'] }}").partial(
            night=night).expand(name=task(t.prepare_facts)(night))
        # every format the gate passed is validated and published, even when another format failed
        task(t.publish_extracts, trigger_rule="all_done_min_one_success", outlets=[extracts])(night, built)

    state_reporting()


for _cfg in district_configs():
    reporting(_cfg)
