"""The night's run record, ``<data_dir>/runs/<as-of>/``: the contract between the tasks that
write a night's files and the page, the CLI and the roll-up that read them. Each file is named
here once, with who writes it; the record holds counts and files for people with access to the
data folder, and the page reads it instead of the warehouse (it never blocks a night's writer).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

RUNS = "runs"
SUMMARY = "summary.json"          # counts by school, rule, status; resolved; look-ahead; warnings (rules.write_summary)
EXCEPTIONS = "exceptions.csv"     # the night's exceptions (rules.write_exceptions_csv)
QUARANTINE = "quarantine.csv"     # the rows the gate set aside, with reasons (quality.gate.write_quarantine_report)
EMAILS = "emails.json"            # the digests sent, failed, already sent, with nothing to report (digests.send)
EMAIL_JOURNAL = "emails-sent.jsonl"   # digests the server accepted, before they are in the warehouse (digests.send)
WARNINGS = "warnings.txt"         # the night's warnings, one a line (sources.add_warning)
WARNINGS_NOTIFIED = "warnings.notified"   # the data team was sent the warnings (alerts.notify_warnings)
FAILURES = "failures.json"        # each failed task of the night, the first line of its error (alerts.record_failure)
FINDINGS = "findings.json"        # the findings ledger of the night, counts only (corrections.ledger.write_record)
FINDING_CASES = "finding_cases.csv"   # its instances and prong-2 records, student-level (corrections.ledger)
AIRFLOW_LOG = "airflow.log"       # the Airflow output of a night run by the CLI (tools/cli.py)


def root(data_dir: Path) -> Path:
    return data_dir / RUNS


def folder(data_dir: Path, as_of: date | str) -> Path:
    """The night's folder; ``as_of`` a date or its ISO text (the page's URLs)."""
    return root(data_dir) / (as_of if isinstance(as_of, str) else as_of.isoformat())


def ledger(data_dir: Path, as_of: date | str) -> dict | None:
    """The findings ledger shown with the night ``as_of``: its own ``findings.json``, or the last
    good one before it (a broken findings folder leaves the last good ledger); None: no ledger."""
    import json

    as_of = as_of if isinstance(as_of, str) else as_of.isoformat()
    found = sorted(p.parent.name for p in root(data_dir).glob(f"*/{FINDINGS}") if p.parent.name <= as_of)
    return json.loads((folder(data_dir, found[-1]) / FINDINGS).read_text()) if found else None


def nights(data_dir: Path) -> list[str]:
    """The as-of dates of the nights with a summary, oldest first."""
    return sorted(p.parent.name for p in root(data_dir).glob(f"*/{SUMMARY}"))
