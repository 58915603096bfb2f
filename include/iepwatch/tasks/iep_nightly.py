"""The tasks of ``iep_nightly``: the night's export into the warehouse, the rules, the digests, Data Docs.

Each function is the body of the task of the same name; each takes the ``Night`` the task
before it returned and returns it with what it added.
"""

from __future__ import annotations

import logging
from datetime import datetime

from iepwatch import assets, run_record
from iepwatch.district import current_district, load_config
from iepwatch.errors import DataError
from iepwatch.night import Night
from iepwatch.tasks import fail_fast

log = logging.getLogger(__name__)

ORDER = ("find_export", "archive_export", "load_staging", "validate_export", "evaluate_rules", "build_exceptions",
         "update_corrections_ledger", "publish_night", "send_coordinator_emails", "build_data_docs", "finish_night")
"""The tasks in an order the DAG's wiring allows (each after its upstream tasks; tested): the order in
which the tools and tests that run a night without a scheduler call the bodies."""
INGEST = ORDER[1:ORDER.index("publish_night") + 1]   # from the archive to the published night


def ingest(night: Night, params: dict) -> Night:
    """The bodies of ``INGEST`` in order on the night ``find_export`` found (the gate gets the run's
    params): a night up to its publication without a scheduler, for the tools and the tests."""
    for name in INGEST:
        night = globals()[name](night, params=params) if name == "validate_export" else globals()[name](night)
    return night


@fail_fast
def find_export(params: dict | None = None, logical_date: datetime | None = None) -> Night:
    """``<export_root>/<as-of>/``, or the folder of the run's ``export_dir`` param.

    A night older than the published one is a backfill: it needs the ``backfill`` param, is
    evaluated beside the published night (which stays published), and sends no email.
    """
    from iepwatch.ingest import load, sources

    cfg = load_config()
    params = params or {}
    night = Night.of_run(logical_date, cfg.district.timezone)
    published = load.published_night_of(cfg)
    if published and night.as_of < published:
        if not params.get("backfill"):
            raise DataError(f"{night.as_of} is older than the published night {published}: running it would "
                            "change history. To backfill it (evaluated beside the published night, later nights' "
                            "history recomputed, no emails), run it with the param backfill=true "
                            "(make nightly ... BACKFILL=1)")
        log.info("backfill of %s (the published night %s stays published; no emails)", night.as_of, published)
        night = night.with_(backfill=True)
    if cfg.export_source.kind == "database" and not params.get("export_dir"):
        pulled = sources.pull_database(cfg, night.as_of)
        log.info("as-of %s: the student system's database %s read into %s", night.as_of,
                 cfg.export_source.conn_id, pulled)
    folder = sources.find_export(cfg, night.as_of, params.get("export_dir"))
    log.info("as-of %s: export folder %s", night.as_of, folder)
    sources.warnings_file(cfg, night.as_of).unlink(missing_ok=True)   # this run says its own
    return night.with_(export_dir=folder)


@fail_fast
def archive_export(night: Night) -> Night:
    """Copied unchanged to ``landing/<as-of>/<export_id>/`` with checksums; downstream reads the copy."""
    from iepwatch.ingest import sources

    cfg = load_config()
    night.require("export_dir")
    sources.check_free_space(cfg, night.export_dir)
    arc = sources.archive(cfg, night.as_of, night.export_dir)
    log.info("export %s %s at %s", arc.export_id, "already archived" if arc.reused else "archived", arc.path)
    same = sources.same_as_previous_night(cfg, night.as_of, arc.export_id)
    if same:
        _warn(cfg, night, f"tonight's export is byte-identical to the export of {same}: the student system may "
                         "have delivered yesterday's files again")
    return night.with_(export_id=arc.export_id, archive_dir=arc.path)


def _warn(cfg, night: Night, message: str) -> None:
    """A warning about the night: in the log, and in the night's warnings for the summary and the page."""
    from iepwatch.ingest import sources

    log.warning("WARNING: %s", message)
    sources.add_warning(cfg, night.as_of, message)


@fail_fast
def load_staging(night: Night) -> Night:
    """Each CSV into the free load slot with DuckDB's reader; the slot travels on with the night."""
    from iepwatch import warehouse
    from iepwatch.ingest import load, sources

    night.require("export_id", "archive_dir")
    with warehouse.session() as (cfg, con):
        slot, loaded = load.load_staging(con, night.archive_dir, night.as_of, night.export_id,
                                         needed=cfg.pack.needed_files)
    sources.check_rows(sources.read_marker(night.archive_dir), {t: i["rows"] for t, i in loaded.items()})
    for table, info in loaded.items():
        if info["extra_columns"]:
            log.warning("%s.csv: extra columns ignored: %s", table, ", ".join(info["extra_columns"]))
    log.info("staged rows in %s: %s", slot, {t: i["rows"] for t, i in loaded.items()})
    return night.with_(slot=slot)


@fail_fast
def validate_export(night: Night, params: dict | None = None) -> Night:
    """The gate: primary keys, every row-level expectation of the ingest suites run in DuckDB, table sizes."""
    from iepwatch import warehouse
    from iepwatch.ingest import gate, load
    from iepwatch.quality.suites import load_suites

    night.require("slot", "export_id")
    suites = load_suites("ingest", night.as_of)
    try:
        with warehouse.session() as (cfg, con):
            load.check_slot(con, night.slot, night.as_of, night.export_id)
            gate.check_keys(con, suites)
            try:
                summary = gate.quarantine(con, suites, night.slot, night.as_of,
                                          cfg.quality.quarantine_threshold_pct,
                                          cfg.quality.quarantine_threshold_min_rows)
            finally:   # what was set aside, listed even when there was too much of it
                gate.write_quarantine_report(con, night.slot, cfg.run_dir(night.as_of) / run_record.QUARANTINE)
            drops = gate.check_shrink(con, summary, cfg.quality.max_table_shrink_pct, cfg.quality.shrink_check_min_rows,
                                      allowed=bool((params or {}).get("allow_shrink")))
            load.stage(con, night.slot, night.as_of, night.export_id, backfill=night.backfill)
    except DataError:
        _rejected_night_docs(night)
        raise
    for drop in drops:
        _warn(cfg, night, f"expected drop (allow_shrink): {drop}")
    for table, n in summary.quarantined.items():
        if n:
            log.warning("%s.csv: %d of %d rows quarantined: %s", table, n, summary.rows[table],
                        summary.reasons.get(table))
    log.info("quarantined rows: %d (list: %s)", sum(summary.quarantined.values()),
             cfg.run_dir(night.as_of) / run_record.QUARANTINE)
    return night


def _rejected_night_docs(night: Night) -> None:
    """A rejected export's ingest suites in the Data Docs, so they show this night's failed
    expectations rather than the last good night's passed ones. Best effort: the gate's DATA
    ERROR is what the task reports, whatever happens here."""
    try:
        docs = _data_docs(night, rejected=True)
    except Exception as e:  # noqa: BLE001 - never hide the gate's error behind this one
        log.warning("the Data Docs of the rejected export could not be built: %s", type(e).__name__)
        return
    log.info("Data Docs: the rejected export's ingest suites, %d expectations failing (%s)",
             docs["failing"], load_config().paths.datadocs_dir / "index.html")


def _data_docs(night: Night, rejected: bool = False) -> dict:
    """The night's validation (``quality.results``: the gate's counts of every ingest expectation,
    the rules' of every compliance one; each expectation evaluated once) kept in
    ``ops.quality_results`` and rendered by GX as the Data Docs."""
    from iepwatch import warehouse
    from iepwatch.quality import gx, results
    from iepwatch.quality.suites import load_suites

    cfg = load_config()
    suites = load_suites("ingest", night.as_of, cfg)
    # a backfill's rule facts are not the published ones the compliance suite reads: its ingest suites only
    rules = None if night.backfill or rejected else load_suites("compliance", night.as_of, cfg)["rule_results"]
    with warehouse.session(cfg) as (_, con):
        ingest = results.ingest(con, suites, night.slot, passed=not rejected)
        compliance = results.compliance(con, rules) if rules else []
        if not rejected:
            gx.record_results(con, night.as_of, "ingest", ingest)
            gx.record_results(con, night.as_of, "compliance", compliance)
    gx.render([*suites.values(), *([rules] if rules else [])], ingest + compliance, cfg.paths.datadocs_dir,
              f"nightly-{night.as_of.isoformat()}")
    for r in compliance:
        log.info("GX %-28s evaluated %6s, not compliant %6s", r["rule_id"], r["element_count"], r["unexpected_count"])
    return {"expectations": len(ingest) + len(compliance),
            "failing": sum(not r["success"] for r in ingest + compliance)}


@fail_fast
def evaluate_rules(night: Night) -> Night:
    """Facts and every compliance rule as of the night (include/sql/rules/: facts_*.sql, a file per
    rule, rule_results.sql), read from the night's tables and written beside its load slot: the
    published night's facts stay as they are until the whole night is published."""
    from iepwatch import warehouse
    from iepwatch.corrections import findings
    from iepwatch.rules import evaluate as rules

    night.require("slot")
    with warehouse.session() as (cfg, con):
        counts = rules.evaluate(con, cfg, night.as_of, _source_schema(night), _facts(night),
                                findings.requirements(cfg.corrections.folder))
        gaps = rules.calendar_gaps(con, _facts(night))
    for rule, by_status in counts.items():
        log.info("%-28s %s", rule, by_status)
    for gap in gaps:   # a finding for the data team, never a failure
        _warn(cfg, night, gap)
    return night


@fail_fast
def build_exceptions(night: Night) -> Night:
    """compliance.exceptions of the night (first_detected_on kept) and the resolutions; kept by
    night, read for a published night only (its files are written when it is published)."""
    from iepwatch import warehouse
    from iepwatch.rules import evaluate as rules

    night.require("slot")
    with warehouse.session() as (cfg, con):
        counts = rules.build_exceptions(con, cfg, night.as_of, _facts(night))
    log.info("exceptions %s", counts)
    return night


@fail_fast
def update_corrections_ledger(night: Night) -> Night:
    """The findings ledger (docs/corrections.md): the findings folder gated like an export, each
    instance (prong 1) and each finding's updated data (prong 2) checked on tonight's data, the
    ledger of tonight and later nights rebuilt. A broken findings folder fails this task only:
    the emails and extracts go on with the last good ledger."""
    from iepwatch import warehouse
    from iepwatch.corrections import ledger

    night.require("export_id")
    with warehouse.session() as (cfg, con):
        result = ledger.update(con, cfg, night.as_of, night.export_id, _source_schema(night), _facts(night))
        for day in [night.as_of, *ledger.later_nights(con, night.as_of)]:   # a backfill rebuilt the later ones
            ledger.write_record(con, cfg, day)
    log.info("findings ledger: %d findings in effect %s (folder %s)", result.findings, result.by_status,
             cfg.corrections.folder)
    for message in result.alerts:
        _warn(cfg, night, message)
    return night


@fail_fast
def publish_night(night: Night, outlet_events=None) -> Night:
    """The whole night published at once: the ``core`` and ``facts`` views swapped to it and the
    record of what is published, in one transaction (after checking no newer night was published
    meanwhile), then its files (``exceptions.csv``, ``summary.json`` last: the page lists a night
    by its summary). Until then every reader sees the previous night, whole. A backfill publishes
    its files only, and refreshes the files of the later nights whose history it changed."""
    from iepwatch import warehouse
    from iepwatch.ingest import load, sources
    from iepwatch.rules import evaluate as rules

    night.require("slot", "export_id")
    with warehouse.session() as (cfg, con):
        if night.backfill:
            log.info("backfill of %s: the published night stays published; its files and the later nights' "
                     "follow", night.as_of)
        else:
            before = load.published_export(con, night.as_of)
            digests = con.execute("SELECT count(*) FROM ops.email_sends WHERE as_of = ?", [night.as_of]).fetchone()[0]
            counts = load.publish(con, night.slot, night.as_of, night.export_id)
            log.info("published the night of %s (export %s): %s", night.as_of, night.export_id, counts)
            if before not in (None, night.export_id) and digests:
                con.execute("INSERT INTO ops.republished VALUES (?, ?, ?, ?)",
                            [night.as_of, before, night.export_id, digests])
                _republished(cfg, night, before, digests)
        run = cfg.run_dir(night.as_of)
        rules.write_exceptions_csv(con, night.as_of, run / run_record.EXCEPTIONS)
        rules.write_summary(con, night.as_of, run / run_record.SUMMARY, sources.night_warnings(cfg, night.as_of),
                            _source_schema(night), _facts(night))
        later = rules.later_nights(con, night.as_of)
        for day in later:   # their first_detected_on and resolutions may have changed: their files follow
            rules.write_exceptions_csv(con, day, cfg.run_dir(day) / run_record.EXCEPTIONS)
            rules.refresh_summary(con, day, cfg.run_dir(day) / run_record.SUMMARY)
    if later:
        log.info("files of the later nights %s recomputed", ", ".join(map(str, later)))
    if outlet_events is not None:
        outlet_events[assets.core_tables(current_district())].extra = night.event_extra()
    return night


@fail_fast
def finish_night(night: Night, params: dict | None = None, outlet_events=None) -> Night:
    """The night is whole (published, its Data Docs built): the compliance Asset fires now, so
    state_reporting never runs for a night that failed, and never waits on the mail server. With
    ``extracts_by_caller`` (``make nightly``, which builds the extracts itself) the event says so,
    and a scheduler's state_reporting skips it: one build of a night's extracts."""
    if outlet_events is not None:
        outlet_events[assets.compliance(current_district())].extra = {
            **night.event_extra(), "extracts_by_caller": bool((params or {}).get("extracts_by_caller"))}
    log.info("the night of %s is complete", night.as_of)
    return night


def _republished(cfg, night: Night, before: str, digests: int) -> None:
    """A night published again from another export after its digests went out: said in the night's
    warnings and told to the data team at once (each coordinator's next digest says what changed)."""
    from iepwatch import alerts

    _warn(cfg, night, f"the night was published again from a replaced export ({night.export_id}; it was {before}) "
                      f"after its {digests} digest(s) went out; they are not sent again")
    alerts.notify_republished(cfg, night.as_of, before, night.export_id, digests)


def _source_schema(night: Night) -> str:
    """The schema of the night's tables: ``pending`` until published (``backfill`` for an older night)."""
    from iepwatch.ingest.load import BACKFILL, PENDING

    return BACKFILL if night.backfill else PENDING


def _facts(night: Night) -> str:
    """The schema of the night's rule facts, beside its load slot."""
    from iepwatch.ingest.load import facts_schema

    return facts_schema(night.slot)


@fail_fast
def send_coordinator_emails(night: Night) -> dict:
    """One digest per coordinator (and the fallback address), each sent once per as-of date."""
    from iepwatch import warehouse
    from iepwatch.digests import send

    if night.backfill:
        log.info("backfill of %s: no emails (coordinators hear of tonight's published night only)", night.as_of)
        return {"sent": 0, "backfill": 1}
    from iepwatch import alerts
    from iepwatch.ingest import sources

    with warehouse.session() as (cfg, con):
        summary = send.send_all(con, cfg, night.as_of)
    counts = {k: len(v) for k, v in summary.items()}
    log.info("coordinator emails: %s", counts)
    if alerts.notify_warnings(cfg, night.as_of, sources.night_warnings(cfg, night.as_of)):
        log.info("the night's warnings sent to the data team (%s)", cfg.alerts.data_team_address)
    return counts


@fail_fast
def build_data_docs(night: Night) -> dict:
    """The Data Docs of the night's one validation: what the gate and the rules decided, rendered
    by GX (``_data_docs``), in ops.quality_results for the page."""
    night.require("slot")
    docs = _data_docs(night)
    log.info("Data Docs: %d expectations, %d with unexpected rows, at %s", docs["expectations"], docs["failing"],
             load_config().paths.datadocs_dir / "index.html")
    return docs
