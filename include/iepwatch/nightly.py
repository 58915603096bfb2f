"""What each task of ``iep_nightly`` does; the DAG file only wires these together.

Imports here stay light (no duckdb/pandas/GX at module level) so the DAG parses fast.
Every function takes and returns small JSON-able dicts (paths, counts, ids): no
student data goes through XCom or the task log.
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime
from pathlib import Path

from iepwatch.config import Config, load_config
from iepwatch.errors import DataError

log = logging.getLogger(__name__)


def fail_fast_on_bad_data(fn):
    """Bad input is not transient: fail the task at once (no retries) with the message first."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            from airflow.sdk.exceptions import AirflowFailException

            log.error("DATA ERROR: %s", e)
            raise AirflowFailException(f"DATA ERROR: {e}") from None

    return wrapper


def as_of_date(logical_date: datetime, cfg: Config | None = None) -> date:
    """The run's as-of date: its logical date in the district's time zone (never the wall clock)."""
    import pendulum

    cfg = cfg or load_config()
    return pendulum.instance(logical_date).in_timezone(cfg.timezone).date()


@fail_fast_on_bad_data
def find_export(logical_date: datetime, export_dir: str | None) -> dict:
    from iepwatch import sources

    cfg = load_config()
    as_of = as_of_date(logical_date, cfg)
    folder = sources.find_export(cfg, as_of, export_dir)
    log.info("as-of %s: export folder %s", as_of, folder)
    return {"as_of": as_of.isoformat(), "export_dir": str(folder)}


@fail_fast_on_bad_data
def archive_export(found: dict) -> dict:
    from iepwatch import sources

    cfg = load_config()
    arc = sources.archive(cfg, date.fromisoformat(found["as_of"]), Path(found["export_dir"]))
    log.info("export %s %s at %s", arc.export_id, "already archived" if arc.reused else "archived", arc.path)
    return {"as_of": found["as_of"], "export_id": arc.export_id, "archive_dir": str(arc.path)}


@fail_fast_on_bad_data
def load_staging(archived: dict) -> dict:
    from iepwatch import load, warehouse

    cfg = load_config()
    with warehouse.connect(cfg) as con:
        loaded = load.load_staging(con, Path(archived["archive_dir"]))
    for table, info in loaded.items():
        if info["extra_columns"]:
            log.warning("%s.csv: extra columns ignored: %s", table, ", ".join(info["extra_columns"]))
    log.info("staged rows: %s", {t: i["rows"] for t, i in loaded.items()})
    return {t: i["rows"] for t, i in loaded.items()}


@fail_fast_on_bad_data
def validate_export(archived: dict) -> dict:
    """Keys, quarantine and the threshold in DuckDB; then GX validates and rebuilds Data Docs."""
    from iepwatch import quality, warehouse

    cfg = load_config()
    as_of = date.fromisoformat(archived["as_of"])
    suites = quality.load_suites("ingest", as_of)
    with warehouse.connect(cfg) as con:
        quality.check_keys(con, suites)
        summary = quality.quarantine(con, suites, as_of, cfg.quarantine_threshold_pct)
        quality.write_quarantine_report(con, as_of, cfg.run_dir(as_of) / "quarantine.csv")
    for table, n in summary.quarantined.items():
        if n:
            log.warning("%s.csv: %d of %d rows quarantined: %s", table, n, summary.rows[table],
                        summary.reasons.get(table))
    results = quality.validate(cfg.warehouse, "ingest", as_of, cfg.datadocs_dir)
    with warehouse.connect(cfg) as con:
        quality.record_results(con, as_of, "ingest", results)
    failing = sum(not r["success"] for r in results)
    log.info("GX ingest suites: %d expectations, %d with unexpected rows; Data Docs at %s",
             len(results), failing, cfg.datadocs_dir / "index.html")
    return {"quarantined": summary.quarantined, "expectations": len(results), "failing": failing}


@fail_fast_on_bad_data
def publish_core(archived: dict) -> dict:
    from iepwatch import load, warehouse

    cfg = load_config()
    with warehouse.connect(cfg) as con:
        counts = load.publish(con, date.fromisoformat(archived["as_of"]), archived["export_id"])
    log.info("published core tables: %s", counts)
    return {"as_of": archived["as_of"], "export_id": archived["export_id"], "rows": counts}
