"""state_reporting: the state extracts of one night, validated before they are published.

Thin on purpose: every task calls one function of ``iepwatch.extracts.run``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from iepwatch import notify
from iepwatch.assets import COMPLIANCE
from iepwatch.config import load_config
from iepwatch.extracts import run

CFG = load_config()

DOC = """
### State-reporting extracts

Runs when `iep_nightly` has built the night's exceptions (Asset `iepwatch_compliance`), or on
demand with the `as_of` param. One mapped `produce_extract` per format definition
(`include/iepwatch/extracts/definitions/*.yaml`): build the rows in DuckDB, check them with the
format's suite (required fields, code sets, lengths, date range, row count; failures name the
field and lines), validate with Great Expectations, then write the file and `manifest.json` to
`extracts/<format>/<as-of>/` in one folder swap. A failing format is not published; the previous
files stay. The same as-of date regenerates byte-identical files.
"""


@dag(
    dag_id="state_reporting",
    schedule=[COMPLIANCE],
    start_date=pendulum.datetime(2026, 7, 1, tz=CFG.timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["iepwatch", "state-reporting"],
    params={"as_of": Param(None, type=["null", "string"], description="As-of date YYYY-MM-DD (default: the night's)")},
    default_args=notify.default_args(CFG),
)
def state_reporting():
    @task
    def resolve_as_of(params=None, triggering_asset_events=None, logical_date=None) -> str:
        return run.resolve_as_of(params.get("as_of"), triggering_asset_events, logical_date)

    @task
    def prepare_facts(as_of: str) -> list[str]:
        return run.prepare_facts(as_of)

    @task
    def produce_extract(name: str, as_of: str) -> dict:
        return run.produce_extract(name, as_of)

    as_of = resolve_as_of()
    produce_extract.partial(as_of=as_of).expand(name=prepare_facts(as_of))


state_reporting()
