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
        loaded = load.load_staging(con, Path(archived["archive_dir"]), date.fromisoformat(archived["as_of"]),
                                   archived["export_id"])
    for table, info in loaded.items():
        if info["extra_columns"]:
            log.warning("%s.csv: extra columns ignored: %s", table, ", ".join(info["extra_columns"]))
    log.info("staged rows: %s", {t: i["rows"] for t, i in loaded.items()})
    return {t: i["rows"] for t, i in loaded.items()}


@fail_fast_on_bad_data
def validate_export(archived: dict) -> dict:
    """The gate: primary keys, then every row-level expectation of the GX ingest suites run in DuckDB."""
    from iepwatch import quality, warehouse

    cfg = load_config()
    as_of = date.fromisoformat(archived["as_of"])
    suites = quality.load_suites("ingest", as_of)
    with warehouse.connect(cfg) as con:
        quality.check_keys(con, suites)
        summary = quality.quarantine(con, suites, as_of, cfg.quarantine_threshold_pct)
        quality.write_quarantine_report(con, cfg.run_dir(as_of) / "quarantine.csv")
    for table, n in summary.quarantined.items():
        if n:
            log.warning("%s.csv: %d of %d rows quarantined: %s", table, n, summary.rows[table],
                        summary.reasons.get(table))
    log.info("quarantined rows: %d (list: %s)", sum(summary.quarantined.values()),
             cfg.run_dir(as_of) / "quarantine.csv")
    return {"quarantined": summary.quarantined}


@fail_fast_on_bad_data
def publish_core(archived: dict) -> dict:
    from iepwatch import load, warehouse

    cfg = load_config()
    with warehouse.connect(cfg) as con:
        counts = load.publish(con, date.fromisoformat(archived["as_of"]), archived["export_id"])
    log.info("published core tables: %s", counts)
    return {"as_of": archived["as_of"], "export_id": archived["export_id"], "rows": counts}


@fail_fast_on_bad_data
def evaluate_rules(published: dict) -> dict:
    """Facts and every compliance rule as of the run's date (include/sql/facts_*.sql, rule_results.sql)."""
    from iepwatch import rules, warehouse

    cfg = load_config()
    with warehouse.connect(cfg) as con:
        counts = rules.evaluate(con, cfg, date.fromisoformat(published["as_of"]))
    for rule, by_status in counts.items():
        log.info("%-28s %s", rule, by_status)
    return {"evaluated": sum(sum(v.values()) for v in counts.values())}


@fail_fast_on_bad_data
def build_exceptions(published: dict) -> dict:
    """compliance.exceptions (first_detected_on kept across nights), resolutions, runs/<as-of>/exceptions.csv."""
    from iepwatch import rules, warehouse

    cfg = load_config()
    as_of = date.fromisoformat(published["as_of"])
    with warehouse.connect(cfg) as con:
        counts = rules.build_exceptions(con, as_of)
        path = rules.write_exceptions_csv(con, as_of, cfg.run_dir(as_of) / "exceptions.csv")
        rules.write_summary(con, as_of, cfg.run_dir(as_of) / "summary.json")
    log.info("exceptions %s written to %s", counts, path)
    return counts


def send_coordinator_emails(published: dict) -> dict:
    """One digest per coordinator (and the fallback address), each sent once per as-of date."""
    from iepwatch import warehouse
    from iepwatch.alerts import send

    cfg = load_config()
    with warehouse.connect(cfg) as con:
        summary = send.send_all(con, cfg, date.fromisoformat(published["as_of"]))
    log.info("coordinator emails: %s", {k: len(v) for k, v in summary.items()})
    return {k: len(v) for k, v in summary.items()}


def build_data_docs(published: dict) -> dict:
    """GX validates the ingest and compliance suites itself; results in ops.quality_results; Data Docs.

    Fails (and is retried) if GX and the ingest gate disagree on any expectation's count.
    """
    from iepwatch import load, quality, warehouse

    cfg = load_config()
    as_of = date.fromisoformat(published["as_of"])
    results = quality.validate(cfg.warehouse, ["ingest", "compliance"], as_of, cfg.datadocs_dir)
    ingest = [r for r in results if r["suite"].startswith("ingest.")]
    with warehouse.connect(cfg) as con:
        quality.record_results(con, as_of, "ingest", ingest)
        quality.record_results(con, as_of, "compliance", [r for r in results if r not in ingest])
        wrong = quality.disagreements(con, ingest, load.slot_of(con, as_of, published["export_id"]))
    for r in results:
        if r["rule_id"]:
            log.info("GX %-28s evaluated %6s, not compliant %6s", r["rule_id"], r["element_count"],
                     r["unexpected_count"])
    log.info("GX: %d expectations, %d with unexpected rows; Data Docs at %s",
             len(results), sum(not r["success"] for r in results), cfg.datadocs_dir / "index.html")
    if wrong:
        raise RuntimeError("GX and the quality gate disagree: " + "; ".join(wrong))
    return {"expectations": len(results), "failing": sum(not r["success"] for r in results)}
