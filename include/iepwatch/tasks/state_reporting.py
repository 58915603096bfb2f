"""The tasks of ``state_reporting``: the state extracts of one night, validated before they are published."""

from __future__ import annotations

import logging
from datetime import date, datetime

from iepwatch.district import load_config
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
            if extra.get("backfill") or extra.get("extracts_by_caller"):
                from airflow.sdk.exceptions import AirflowSkipException

                raise AirflowSkipException(
                    f"{extra['as_of']} was a backfill: extracts are built from the published night only"
                    if extra.get("backfill") else
                    f"the night of {extra['as_of']} was run by make nightly, which builds its extracts itself")
            if extra.get("as_of"):
                return Night(date.fromisoformat(extra["as_of"]), export_id=extra.get("export_id"))
    return Night.of_run(logical_date, load_config().district.timezone)


@fail_fast
def prepare_facts(night: Night) -> list[str]:
    """The published data must be the night's; the rule facts are re-evaluated on it if they are not the night's."""
    from iepwatch import warehouse
    from iepwatch.errors import DataError
    from iepwatch.extracts import engine
    from iepwatch.rules import evaluate as rules

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
        if have != night.as_of:   # a warehouse of an older version: its facts were not published with the night
            from iepwatch.ingest import load

            slot = load.published_slot(con)
            log.info("rule facts are for %s; evaluating the rules as of %s", have, night.as_of)
            rules.evaluate(con, cfg, night.as_of, "core", load.facts_schema(slot))
            with warehouse.transaction(con):
                load.facts_views(con, slot)
    return sorted(engine.definitions(cfg))


@fail_fast
def build_extract(name: str, night: Night) -> dict:
    """One format's rows built in DuckDB and checked with its suite there (failures name the field
    and lines); its suite and their results (counts only) go on to the night's Data Docs."""
    from iepwatch import warehouse
    from iepwatch.extracts import engine

    cfg = load_config()
    d = engine.definitions(cfg)[name]
    with warehouse.session(cfg) as (_, con):
        selected = engine.build(con, cfg, night.as_of, d)
        s = engine.suite(d, night.as_of, selected)
        checked = engine.check(con, d, s)
    log.info("extract %s: %d rows built and checked", name, selected)
    return {"format": name, "rows": selected, "suite": s, "results": checked}


@fail_fast
def publish_extracts(night: Night, built: list[dict | None], outlet_events=None) -> list[dict]:
    """Every format its build checked is written (one folder swap each) and, once every format
    is, the night is served in one step (``extracts.served``); GX renders the checks the builds
    made as the extracts' Data Docs. A format whose build failed is not published; the task then
    fails naming it, and the night is not served: readers keep the last night whose every
    format was."""
    from iepwatch import warehouse
    from iepwatch.extracts import engine, served
    from iepwatch.quality import gx

    cfg = load_config()
    built = [b for b in built or [] if b]
    defs = engine.definitions(cfg)
    missing = sorted(set(defs) - {b["format"] for b in built})
    published = []
    served.unserve(cfg.paths.extracts_dir, night.as_of.isoformat())   # served again once every format is
    with warehouse.session(cfg) as (_, con):
        for b in built:
            folder = engine.publish(con, cfg, night.as_of, defs[b["format"]])
            log.info("extract %s: %d rows published to %s", b["format"], b["rows"], folder)
            published.append({"format": b["format"], "rows": b["rows"], "folder": str(folder)})
    if built:
        gx.render([b["suite"] for b in built], [r for b in built for r in b["results"]],
                  cfg.paths.datadocs_dir / "extracts", f"nightly-{night.as_of.isoformat()}")
    if missing:
        from iepwatch.errors import DataError

        raise DataError(f"extract(s) {', '.join(missing)} not published: their build failed (see build_extract); "
                        f"published: {', '.join(p['format'] for p in published) or 'none'}")
    served.serve(cfg.paths.extracts_dir, night.as_of.isoformat(), [p["format"] for p in published])
    if outlet_events is not None:   # every format published: the roll-up may count this night
        from iepwatch import assets

        outlet_events[assets.extracts(cfg.district_id)].extra = night.event_extra()
    return published
