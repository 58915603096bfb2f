"""What each task of ``state_reporting`` does; the DAG file only wires these together."""

from __future__ import annotations

import logging
from datetime import date

from iepwatch.config import load_config
from iepwatch.nightly import as_of_date, fail_fast_on_bad_data

log = logging.getLogger(__name__)


def resolve_as_of(param: str | None, triggering_asset_events, logical_date) -> str:
    """The as-of date: the ``as_of`` param, else the nightly run's (asset event), else the logical date."""
    if param:
        return date.fromisoformat(param).isoformat()
    for events in (triggering_asset_events or {}).values():
        for event in reversed(list(events)):
            if (event.extra or {}).get("as_of"):
                return event.extra["as_of"]
    return as_of_date(logical_date).isoformat()


@fail_fast_on_bad_data
def prepare_facts(as_of: str) -> list[str]:
    """Make sure the rule facts are those of ``as_of`` (re-evaluated on the published data if not)."""
    from iepwatch import rules, warehouse
    from iepwatch.errors import DataError
    from iepwatch.extracts import engine

    cfg = load_config()
    day = date.fromisoformat(as_of)
    with warehouse.connect(cfg) as con:
        if not con.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'core'").fetchone()[0]:
            raise DataError("nothing is published yet: run iep_nightly first")
        have = con.execute("SELECT max(as_of) FROM facts.rule_results").fetchone()[0] \
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'facts' "
                           "AND table_name = 'rule_results'").fetchone()[0] else None
        if have != day:
            log.info("rule facts are for %s; evaluating the rules as of %s", have, day)
            rules.evaluate(con, cfg, day)
    return sorted(engine.definitions(cfg))


@fail_fast_on_bad_data
def produce_extract(name: str, as_of: str) -> dict:
    """Build, check (DuckDB gate, then GX), and publish one format; a failing one is not published."""
    from iepwatch import quality, warehouse
    from iepwatch.extracts import engine

    cfg = load_config()
    day = date.fromisoformat(as_of)
    d = engine.definitions(cfg)[name]
    with warehouse.connect(cfg) as con:
        selected = engine.build(con, cfg, day, d)
        s = engine.suite(d, day, selected)
        engine.check(con, d, s)
    results = quality.validate(cfg.warehouse, [], day, cfg.datadocs_dir / "extracts", extra_suites=[s])
    failed = [r for r in results if not r["success"]]
    if failed:
        raise RuntimeError(f"GX rejects extract {name} the gate accepted: "
                           + "; ".join(f"{r['type']} {r['column'] or r['description']}" for r in failed))
    with warehouse.connect(cfg) as con:
        folder = engine.publish(con, cfg, day, d)
    log.info("extract %s: %d rows published to %s", name, selected, folder)
    return {"format": name, "rows": selected, "folder": str(folder)}
