"""The expectation suites: ``expectations/<kind>/*.json``, one per export table (or rule set).

Each expectation's ``meta.iepwatch`` says what a failure does: ``fail_load`` (a whole-file
problem), ``quarantine`` (the row is set aside with ``reason``) or ``report`` (Data Docs only).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parents[3] / "expectations"


def load_suites(kind: str, as_of: date) -> dict[str, dict]:
    """Suite JSON by table, with ``$AS_OF`` bound to the night's date."""
    out = {}
    for path in sorted((SUITES_DIR / kind).glob("*.json")):
        text = path.read_text(encoding="utf-8").replace("$AS_OF", f"DATE '{as_of.isoformat()}'")
        suite = json.loads(text)
        out[suite["meta"]["iepwatch"]["table"]] = suite
    return out


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
