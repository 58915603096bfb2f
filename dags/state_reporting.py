"""state_reporting: the state extracts of one night, validated before they are published.
Wiring only: each task is a function of ``iepwatch.tasks.state_reporting``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from iepwatch import alerts
from iepwatch.assets import COMPLIANCE
from iepwatch.config import load_config
from iepwatch.tasks import state_reporting as t

CFG = load_config()

DOC = """
### State-reporting extracts

Runs when `iep_nightly` has built the night's exceptions (Asset `iepwatch_compliance`), or on
demand with the `as_of` param. One mapped `build_extract` per format definition
(`include/iepwatch/extracts/definitions/*.yaml`) builds the rows in DuckDB and checks them with the
format's suite (required fields, code sets, lengths, date range, row count; failures name the
field and lines). `publish_extracts` then validates every format with Great Expectations in one
run and writes each accepted format's file and `manifest.json` to `extracts/<format>/<as-of>/` in
one folder swap. A failing format is not published (the previous files stay) and fails the run;
the other formats are still published. The same as-of date regenerates byte-identical files.
"""


@dag(
    dag_id="state_reporting",
    schedule=[COMPLIANCE],
    start_date=pendulum.datetime(2026, 7, 1, tz=CFG.district.timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["iepwatch", "state-reporting"],
    params={"as_of": Param(None, type=["null", "string"], description="As-of date YYYY-MM-DD (default: the night's)")},
    default_args=alerts.default_args(CFG),
)
def state_reporting():
    night = task(t.resolve_as_of)()
    built = task(t.build_extract, map_index_template="{{ task.op_kwargs['name'] }}").partial(night=night).expand(
        name=task(t.prepare_facts)(night))
    # every format the gate passed is validated and published, even when another format failed
    task(t.publish_extracts, trigger_rule="all_done_min_one_success")(night, built)


state_reporting()
