"""The expectation suites: ``expectations/<kind>/*.json``, one per export table; the compliance
suite is generated from the rule catalog (one expectation per rule).

Each expectation's ``meta.iepwatch`` says what a failure does: ``fail_load`` (a whole-file
problem), ``quarantine`` (the row is set aside with ``reason``) or ``report`` (Data Docs only).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from iepwatch.district import load_config
from iepwatch.rules import catalog
from iepwatch.rules.packs import catalog_entry
from iepwatch.warehouse import literal

SUITES_DIR = Path(__file__).resolve().parents[3] / "expectations"


def load_suites(kind: str, as_of: date, cfg=None) -> dict[str, dict]:
    """Suite JSON by table, with its parameters bound from the configuration: ``$AS_OF`` (the
    night's date) and ``$RECIPIENT_DOMAIN_NOT_ALLOWED`` (an email outside
    ``email.recipient_domains``; false when the list is empty). The compliance suite gains one
    expectation per rule of the state pack in force."""
    if cfg is None:
        cfg = load_config()
    recipient_domains = cfg.email.recipient_domains
    allowed = ", ".join(literal(d.lower()) for d in recipient_domains)
    bound = {"$AS_OF": f"DATE '{as_of.isoformat()}'",
             "$RECIPIENT_DOMAIN_NOT_ALLOWED": f"lower(regexp_extract(email, '@([^@]*)$', 1)) NOT IN ({allowed})"
             if allowed else "false"}
    out = {}
    for path in sorted((SUITES_DIR / kind).glob("*.json")):
        text = path.read_text(encoding="utf-8")
        for name, value in bound.items():
            text = text.replace(name, value.replace("\\", "\\\\"))
        suite = json.loads(text)
        out[suite["meta"]["iepwatch"]["table"]] = suite
    if kind == "compliance":
        suite = compliance_suite(cfg)
        out[suite["meta"]["iepwatch"]["table"]] = suite
    return out


def compliance_suite(cfg) -> dict:
    """One expectation per rule: every federal rule of the catalog, then the pack's own; each
    counts its items and never fails (``report_only``)."""
    entries = [r.entry() for r in catalog.rules().values()]
    entries += [catalog_entry(p.rule_id, p.citation, p.title, p.measures) for p in cfg.pack.rules]
    suite = catalog.suite(entries)
    for e in suite["expectations"]:
        report_only(e)
    return suite


def report_only(exp: dict) -> None:
    """A compliance expectation counts; it does not fail. An item not compliant is the pipeline
    doing its job, so GX must not show the rule (and the suite) as failed: ``mostly: 0`` makes it
    succeed whatever it finds, and the Data Docs show per rule the items checked and how many are
    not compliant (GX's "unexpected" values) under a description that says so."""
    exp["kwargs"]["mostly"] = 0.0
    desc = exp["kwargs"].get("description", "")
    if "not compliant" not in desc:
        exp["kwargs"]["description"] = f"{desc}: items checked; the unexpected ones are not compliant"


def suite_key(table: str, index: int) -> str:
    """Identifies one expectation of a suite: ``students#4``."""
    return f"{table}#{index}"


def meta(exp: dict) -> dict:
    """What iepwatch keeps in an expectation's meta (on_fail, reason, rule_id, foreign_key, ...)."""
    return exp.get("meta", {}).get("iepwatch", {})


def staged(table: str) -> str:
    """The staging view of a table (it carries the file line number as ``_line``)."""
    return f"staging.{table}"


def batch_query(suite: dict) -> str:
    """The SQL that selects a suite's batch: ``meta.iepwatch.query`` or the staging view."""
    m = suite["meta"]["iepwatch"]
    return m.get("query") or f"SELECT * FROM {staged(m['table'])}"
