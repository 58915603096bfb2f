"""The deployment's roll-up (a SELPA's or a state's view of its districts): counts by district,
school, rule and status, and the indicator percents (B11, B13), for one night.

It reads what each district published (``runs/<as-of>/summary.json`` and the district rows of
its ``indicator_b11`` / ``indicator_b13`` extracts), never a district's warehouse, so it takes
no district's pool. A night is rolled up only when every district has published it; the files
are checked, then written to ``<deployment data_dir>/rollup/<as-of>/`` in one folder swap, and
the same night regenerates them byte-identical. Counts only: no student-level data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

from iepwatch import files, run_record
from iepwatch.config import Config
from iepwatch.deployment.districts import Deployment
from iepwatch.errors import DataError
from iepwatch.warehouse import sql

FILES = {"rollup_counts": "deployment/rollup_counts",   # the file -> its SQL
         "rollup_indicators": "deployment/rollup_indicators",
         "rollup_findings": "deployment/rollup_findings"}
FINDING_STATUSES = ("open", "overdue", "corrected")   # a finding's status (corrections/ledger.sql)
# indicator -> (extract, numerator column, denominator column) of its district row
INDICATORS = {"B11": ("indicator_b11", "completed_within_timeline", "consent_received"),
              "B12": ("indicator_b12", "iep_by_3_c", "percent_denominator"),   # c / (a - b - d - e - f)
              "B13": ("indicator_b13", "youth_meeting_b13", "youth_transition_age")}


def extract_file(cfg: Config, report: str, as_of: date) -> Path | None:
    folder = cfg.paths.extracts_dir / report / as_of.isoformat()
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        return None
    return folder / manifest["files"][0]["name"]


def missing(dep: Deployment, as_of: date) -> dict[str, list[str]]:
    """What each district has not published for the night (empty: the night can be rolled up)."""
    out = {}
    for cfg in dep.configs():
        gone = [] if (cfg.run_dir(as_of) / run_record.SUMMARY).exists() else [run_record.SUMMARY]
        gone += [report for report, *_ in INDICATORS.values() if extract_file(cfg, report, as_of) is None]
        if gone:
            out[cfg.district_id] = gone
    return out


def nights(dep: Deployment) -> dict[str, set[date]]:
    """Each district's nights with a summary (its runs/<as-of>/summary.json)."""
    return {cfg.district_id: {date.fromisoformat(n) for n in run_record.nights(cfg.data_dir)}
            for cfg in dep.configs()}


def latest_complete(dep: Deployment) -> date | None:
    """The newest night every district has published."""
    for night in sorted(set.intersection(*nights(dep).values()), reverse=True):
        if not missing(dep, night):
            return night
    return None


def build(dep: Deployment, as_of: date) -> Path:
    """Roll the night up, check it, publish it; returns the folder."""
    import duckdb

    gone = missing(dep, as_of)
    if gone:
        raise DataError(f"the roll-up of {as_of} needs every district's published night; missing: " + "; ".join(
            f"{d}: {', '.join(what)}" for d, what in sorted(gone.items())))
    con = duckdb.connect()
    con.execute("CREATE TABLE night_counts (district_id VARCHAR, district_name VARCHAR, school_id VARCHAR, "
                "school_name VARCHAR, rule_id VARCHAR, status VARCHAR, n BIGINT)")
    con.execute("CREATE TABLE night_indicators (district_id VARCHAR, district_name VARCHAR, indicator VARCHAR, "
                "numerator BIGINT, denominator BIGINT)")
    con.execute("CREATE TABLE night_findings (district_id VARCHAR, district_name VARCHAR, status VARCHAR, n BIGINT)")
    totals = {}
    for cfg in dep.configs():   # one statement per district and file, never per row
        d, name = cfg.district_id, cfg.district.name
        summary = json.loads((cfg.run_dir(as_of) / run_record.SUMMARY).read_text())
        if summary.get("as_of") != as_of.isoformat():
            raise DataError(f"district {d}: {cfg.run_dir(as_of) / run_record.SUMMARY} is of {summary.get('as_of')}")
        totals[d] = sum(c["n"] for c in summary["counts"])
        if summary["counts"]:
            con.executemany("INSERT INTO night_counts VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(d, name, c["school_id"], c["school_name"], c["rule_id"], c["status"], c["n"])
                             for c in summary["counts"]])
        for indicator, (report, num, den) in INDICATORS.items():
            path = extract_file(cfg, report, as_of)
            got = con.execute(f"INSERT INTO night_indicators SELECT ?, ?, ?, {num}, {den} FROM read_csv(?) "
                              "WHERE level = 'district'", [d, name, indicator, str(path)]).fetchone()[0]
            if got != 1:
                raise DataError(f"district {d}: {path}: expected one district row, found {got}")
        found = (run_record.ledger(cfg.data_dir, as_of) or {}).get("findings", [])
        con.executemany("INSERT INTO night_findings VALUES (?, ?, ?, ?)",
                        [(d, name, status, sum(f["status"] == status for f in found)) for status in FINDING_STATUSES])
    _check(con, totals)
    staged = dep.rollup_dir / f".{as_of.isoformat()}.staged"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    manifest = {"as_of": as_of.isoformat(), "deployment": dep.name, "districts": sorted(totals), "files": []}
    for name, query in FILES.items():
        path = staged / f"{name}_{as_of.isoformat()}.csv"
        rows = con.execute(f"COPY ({sql(query, as_of=as_of.isoformat())}) TO '{path}' (HEADER, DELIMITER ',')"
                           ).fetchone()[0]
        manifest["files"].append({"name": path.name, "rows": rows,
                                  "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    files.write_json(staged / "manifest.json", manifest)
    return files.replace_folder(staged, dep.rollup_dir / as_of.isoformat())


def _check(con, totals: dict[str, int]) -> None:
    """Before anything is written: every district's counts add up to its night's, the numbers are sane."""
    summed = dict(con.execute("SELECT district_id, sum(n) FROM night_counts GROUP BY ALL").fetchall())
    wrong = [d for d, n in totals.items() if summed.get(d, 0) != n]
    if wrong:
        raise DataError(f"roll-up counts do not add up to the districts' nights: {', '.join(wrong)}")
    bad = con.execute("SELECT district_id, indicator FROM night_indicators WHERE numerator < 0 OR denominator < 0 "
                      "OR numerator > denominator OR numerator IS NULL OR denominator IS NULL").fetchall()
    if bad:
        raise DataError("indicator counts out of range: " + ", ".join(f"{d} {i}" for d, i in bad))


def published(dep: Deployment) -> list[dict]:
    """The roll-ups on disk, newest first, with their manifests (for the page)."""
    out = []
    for m in sorted(dep.rollup_dir.glob("*/manifest.json"), reverse=True):
        out.append(json.loads(m.read_text()))
    return out
