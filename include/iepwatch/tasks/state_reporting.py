"""The tasks of ``state_reporting``: the state extracts of one night, validated before they are published."""

from __future__ import annotations

import logging
from datetime import date, datetime

from iepwatch.config import load_config
from iepwatch.night import Night
from iepwatch.tasks import fail_fast

log = logging.getLogger(__name__)


@fail_fast
def resolve_as_of(params: dict | None = None, triggering_asset_events=None,
                  logical_date: datetime | None = None) -> Night:
    """The night: the ``as_of`` param, else the nightly run's (its asset event), else the logical date."""
    if (params or {}).get("as_of"):
        return Night(date.fromisoformat(params["as_of"]))
    for events in (triggering_asset_events or {}).values():
        for event in reversed(list(events)):
            extra = event.extra or {}
            if extra.get("backfill"):
                from airflow.sdk.exceptions import AirflowSkipException

                raise AirflowSkipException(f"{extra['as_of']} was a backfill: extracts are built from the "
                                           "published night only")
            if extra.get("as_of"):
                return Night(date.fromisoformat(extra["as_of"]), export_id=extra.get("export_id"))
    return Night.of_run(logical_date, load_config().district.timezone)


@fail_fast
def prepare_facts(night: Night) -> list[str]:
    """The published data must be the night's; the rule facts are re-evaluated on it if they are not the night's."""
    from iepwatch import rules, warehouse
    from iepwatch.errors import DataError
    from iepwatch.extracts import engine

    with warehouse.session() as (cfg, con):
        if not warehouse.exists(con, "core", "export"):
            raise DataError("nothing is published yet: run iep_nightly first")
        published, export_id = con.execute("SELECT as_of, export_id FROM core.export").fetchone()
        if published != night.as_of:
            raise DataError(f"the published data is the night of {published}, not {night.as_of}: the extracts of "
                            f"{night.as_of} can only be built from its own night (run iep_nightly for it first)")
        if night.export_id and export_id != night.export_id:
            raise DataError(f"the published export of {published} is {export_id}, not {night.export_id} that "
                            "triggered this run: another export of the night was published since")
        have = con.execute("SELECT max(as_of) FROM facts.rule_results").fetchone()[0] \
            if warehouse.exists(con, "facts", "rule_results") else None
        if have != night.as_of:
            log.info("rule facts are for %s; evaluating the rules as of %s", have, night.as_of)
            rules.evaluate(con, cfg, night.as_of)
    return sorted(engine.definitions(cfg))


@fail_fast
def produce_extract(name: str, night: Night) -> dict:
    """Build, check (DuckDB gate, then GX), and publish one format; a failing one is not published."""
    from iepwatch import warehouse
    from iepwatch.extracts import engine
    from iepwatch.quality import gx

    cfg = load_config()
    d = engine.definitions(cfg)[name]
    with warehouse.session(cfg) as (_, con):
        selected = engine.build(con, cfg, night.as_of, d)
        s = engine.suite(d, night.as_of, selected)
        engine.check(con, d, s)
    results = gx.validate(cfg.warehouse, [], night.as_of, cfg.paths.datadocs_dir / "extracts", extra_suites=[s])
    failed = [r for r in results if not r["success"]]
    if failed:
        raise RuntimeError(f"GX rejects extract {name} the gate accepted: "
                           + "; ".join(f"{r['type']} {r['column'] or r['description']}" for r in failed))
    with warehouse.session(cfg) as (_, con):
        folder = engine.publish(con, cfg, night.as_of, d)
    log.info("extract %s: %d rows published to %s", name, selected, folder)
    return {"format": name, "rows": selected, "folder": str(folder)}
