"""Ingest half of iep_nightly, run as the real DAG: archive, load, GX gate, quarantine, publish."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from builder import AS_OF
from helpers import (
    NEXT,
    SECRET_FIRST,
    SECRET_LAST,
    assert_failed_fast,
    assert_nothing_published_and_raw_kept,
    rows,
    run_dag,
    run_next_night,
    set_value,
    snapshot,
    write_rows,
)

from iepwatch.ingest.contract import TABLES

# --- the good path ---------------------------------------------------------------------------------

def test_good_night_publishes_every_table_and_keeps_the_raw_export(published_night, demo_export):
    core = snapshot(published_night / "warehouse.duckdb")
    for t in TABLES:
        assert len(core[t.name]) == len(rows(demo_export / t.file)) - 1, t.name
    manifest = json.loads(next((published_night / "landing" / str(AS_OF)).glob("*/manifest.json")).read_text())
    assert set(manifest["files"]) == {t.file for t in TABLES}
    assert (published_night / "datadocs" / "index.html").exists()
    con = duckdb.connect(str(published_night / "warehouse.duckdb"), read_only=True)
    # typed from the contract: dates are DATEs, ids keep leading zeros, flags upper-case
    assert con.execute("SELECT typeof(birth_date), min(student_id) FROM core.students GROUP BY 1").fetchone() \
        == ("DATE", "0000001")
    assert con.execute("SELECT count(*) FROM ops.quality_results WHERE kind = 'ingest'").fetchone()[0] > 100
    con.close()


def test_rerunning_the_same_night_gives_identical_core_tables(published_night, data_dir, demo_export, capfd):
    shutil.copytree(published_night, data_dir)
    before = snapshot(data_dir / "warehouse.duckdb")
    csv_before = (data_dir / "runs" / str(AS_OF) / "exceptions.csv").read_bytes()
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(demo_export)})
    assert state == "success"
    assert snapshot(data_dir / "warehouse.duckdb") == before
    assert (data_dir / "runs" / str(AS_OF) / "exceptions.csv").read_bytes() == csv_before
    assert len(list((data_dir / "landing" / str(AS_OF)).iterdir())) == 1, "archive reused, not copied again"


def test_flags_are_case_insensitive_and_bom_tolerated(after_good_night, data_dir, capfd):
    set_value(after_good_night, "students", 2, "in_regular_education", "n")
    raw = (after_good_night / "schools.csv").read_bytes()
    (after_good_night / "schools.csv").write_bytes(b"\xef\xbb\xbf" + raw)
    state, tis, log = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT in_regular_education FROM core.students WHERE student_id = '0000001'").fetchone() \
        == ("N",)
    assert con.execute("SELECT count(*) FROM core.schools").fetchone()[0] > 0


# --- whole-file problems fail the load ----------------------------------------------------------

def test_missing_file(after_good_night, data_dir, published_night, capfd, session_mail_server):
    import email
    import email.policy

    (after_good_night / "ieps.csv").unlink()
    before = set(session_mail_server.handler.folder.glob("*.eml"))
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "load_staging", "ieps.csv", "missing")
    new = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
           for p in set(session_mail_server.handler.folder.glob("*.eml")) - before]
    alerts = [m for m in new if m["To"] == "data-team@example.org"]
    assert len(alerts) == 1 and alerts[0]["Subject"] == (
        f"[iepwatch] Demo Unified School District, night of {NEXT}: iep_nightly.load_staging failed (DATA ERROR)")
    text = alerts[0].get_body(("plain",)).get_content()
    assert "Why: DATA ERROR: " in text and "ieps.csv" in text and "load_staging" in text
    assert "ieps.csv" in alerts[0].get_body(("html",)).get_content()
    failures = json.loads((data_dir / "runs" / str(NEXT) / "failures.json").read_text())
    why = failures["load_staging"]["error"]
    assert why.startswith("DATA ERROR: ") and "ieps.csv" in why
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_missing_required_column(after_good_night, data_dir, published_night, capfd):
    data = rows(after_good_night / "students.csv")
    i = data[0].index("sped_status")
    write_rows(after_good_night / "students.csv", [r[:i] + r[i + 1:] for r in data])
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "load_staging", "students.csv", "missing required column sped_status")
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_undecodable_bytes(after_good_night, data_dir, published_night, capfd):
    set_value(after_good_night, "students", 7, "last_name", "PLACEHOLDER")
    path = after_good_night / "students.csv"
    path.write_bytes(path.read_bytes().replace(b"PLACEHOLDER", b"Mu\xffller"))
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "load_staging", "students.csv", "last_name", "line 7")
    assert "Mu\ufffdller" not in log and "Muller" not in log, "no row values in the message"
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_empty_file_without_header(after_good_night, data_dir, published_night, capfd):
    (after_good_night / "guardians.csv").write_bytes(b"")
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "load_staging", "guardians.csv", "empty file without a header")
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_duplicate_primary_key(after_good_night, data_dir, published_night, capfd):
    data = rows(after_good_night / "meetings.csv")
    write_rows(after_good_night / "meetings.csv", data + [data[3]])
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "validate_export", "meetings.csv", "duplicate primary key",
                       "meeting_id", f"lines 4, {len(data) + 1}")
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_header_only_file_is_an_empty_table(after_good_night, data_dir, capfd):
    """An empty table is a header-only file; from 60 rows to none is a drop the run must declare."""
    data = rows(after_good_night / "parent_contact_attempts.csv")
    write_rows(after_good_night / "parent_contact_attempts.csv", data[:1])
    state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(after_good_night), "allow_shrink": True})
    assert state == "success", tis
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM core.parent_contact_attempts").fetchone()[0] == 0


# --- bad rows are quarantined, the rest is published -----------------------------------------------

def quarantined(data_dir: Path) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT table_name, line, reason FROM quarantine.rows WHERE as_of = ? ORDER BY ALL",
                           [NEXT]).fetchall()
    finally:
        con.close()


def core_ids(data_dir: Path, table: str, key: str) -> set[str]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute(f"SELECT {key} FROM core.{table}").fetchall()}
    finally:
        con.close()


def line_of(folder: Path, table: str, column: str, predicate) -> tuple[int, dict]:
    data = rows(folder / f"{table}.csv")
    for n, r in enumerate(data[1:], start=2):
        row = dict(zip(data[0], r, strict=True))
        if predicate(row):
            return n, row
    raise AssertionError(f"no {table} row matches")


@pytest.mark.parametrize("table,column,value,reason", [
    ("students", "gender", "F", "invalid code in gender"),
    ("students", "birth_date", "2012-02-30", "unparseable date in birth_date"),
    ("students", "school_id", "NOPE", "broken foreign key: school_id"),
])
def test_bad_student_row_is_quarantined_with_its_children(after_good_night, data_dir, capfd,
                                                           table, column, value, reason):
    set_value(after_good_night, "students", 5, column, value)
    set_value(after_good_night, "students", 5, "first_name", SECRET_FIRST)
    set_value(after_good_night, "students", 5, "last_name", SECRET_LAST)
    student = rows(after_good_night / "students.csv")[4][0]
    state, tis, log = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    q = quarantined(data_dir)
    assert ("students", 5, reason) in q
    assert ("guardians", line_of(after_good_night, "guardians", "student_id",
                                 lambda r: r["student_id"] == student)[0], "parent row quarantined: students.csv") in q
    assert student not in core_ids(data_dir, "students", "student_id")
    assert student not in core_ids(data_dir, "guardians", "student_id")
    assert len(core_ids(data_dir, "students", "student_id")) == 299
    report = (data_dir / "runs" / str(NEXT) / "quarantine.csv").read_text()
    assert f"students.csv,5,{reason}" in report
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    gx_counts = con.execute("""SELECT sum(unexpected_count) FROM ops.quality_results
                               WHERE as_of = ? AND suite = 'ingest.students'
                                 AND (column_name = ? OR description LIKE ? || ' %')""",
                            [NEXT, column, column]).fetchone()[0]
    con.close()
    assert gx_counts >= 1, "the Data Docs' results count the bad row"
    assert SECRET_FIRST not in log and SECRET_LAST not in log and SECRET_LAST not in report


def test_consent_after_evaluation_is_quarantined(after_good_night, data_dir, capfd):
    n, row = line_of(after_good_night, "evaluations", "", lambda r: r["evaluation_completed_date"] != "")
    set_value(after_good_night, "evaluations", n, "consent_received_date", "2099-01-01")
    state, tis, log = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    assert ("evaluations", n, "consent after evaluation") in quarantined(data_dir)
    assert row["evaluation_id"] not in core_ids(data_dir, "evaluations", "evaluation_id")


def test_held_meeting_after_the_as_of_date_is_quarantined(after_good_night, data_dir, capfd):
    with_team = {r[0] for r in rows(after_good_night / "meeting_participants.csv")[1:]}
    n, row = line_of(after_good_night, "meetings", "", lambda r: r["status"] == "held" and r["meeting_id"] in with_team)
    set_value(after_good_night, "meetings", n, "held_date", str(NEXT + timedelta(days=1)))
    state, tis, log = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    q = quarantined(data_dir)
    assert ("meetings", n, "held meeting dated after the as-of date") in q
    assert any(t == "meeting_participants" and r == "parent row quarantined: meetings.csv" for t, _, r in q)
    assert row["meeting_id"] not in core_ids(data_dir, "meetings", "meeting_id")
    assert row["meeting_id"] not in core_ids(data_dir, "meeting_participants", "meeting_id")


def test_held_today_is_not_in_the_future(after_good_night, data_dir, capfd):
    n, row = line_of(after_good_night, "meetings", "", lambda r: r["status"] == "held")
    set_value(after_good_night, "meetings", n, "held_date", str(NEXT))
    state, tis, log = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    assert not [q for q in quarantined(data_dir) if q[0] == "meetings"]


def test_quarantine_above_threshold_fails_the_load(after_good_night, data_dir, published_night, capfd):
    for line in range(2, 2 + 20):  # 20 of 300 students = 6.7 % > 5 %
        set_value(after_good_night, "students", line, "sped_status", "Eligible")
        set_value(after_good_night, "students", line, "first_name", SECRET_FIRST)
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "validate_export", "students.csv", "20 of 300 rows",
                       "invalid code in sped_status", "lines 2, 3, 4")
    assert SECRET_FIRST not in log
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_demo_nightly_exceptions_csv_has_every_rule(published_night):
    from iepwatch.rules.evaluate import EXCEPTION_COLUMNS
    from iepwatch.rules.evaluate import federal_catalog as catalog  # the federal rules: the demo runs the federal pack

    data = rows(published_night / "runs" / str(AS_OF) / "exceptions.csv")
    assert tuple(data[0]) == EXCEPTION_COLUMNS
    body = [dict(zip(data[0], r, strict=True)) for r in data[1:]]
    assert {r["rule_id"] for r in body} == set(catalog()), "every rule fires on the demo"
    assert [(r["rule_id"], r["student_id"], r["meeting_id"], r["status"]) for r in body] == \
        sorted((r["rule_id"], r["student_id"], r["meeting_id"], r["status"]) for r in body)
    allowed = {"timeline": {"overdue", "due_soon", "late", "exempt"}, "meeting": {"violation", "warning"},
               "plan": {"violation", "warning"}}
    severity = {"overdue": "high", "late": "high", "violation": "high", "due_soon": "medium", "warning": "low",
                "exempt": "low"}
    for r in body:
        assert r["status"] in allowed[catalog()[r["rule_id"]]["kind"]], r
        assert r["severity"] == severity[r["status"]]
        assert r["as_of"] == str(AS_OF) and r["first_detected_on"] == str(AS_OF)
        # timeline rows name no meeting, except the late annual-review meeting they report
        assert (r["meeting_id"] == "") == ((catalog()[r["rule_id"]]["kind"] == "timeline" and
                                            (r["rule_id"], r["status"]) != ("IEP_ANNUAL_REVIEW", "late")) or
                                           r["rule_id"] == "TRANSITION_PLAN")
    warnings = {r["rule_id"] for r in body if r["status"] == "warning"}
    assert warnings == {"TRANSITION_STUDENT_ABSENT", "IEP_DATED_BEFORE_MEETING"}
    index = (published_night / "datadocs" / "index.html").read_text()
    assert "compliance.rules" in index and "ingest.students" in index


def test_an_export_without_an_optional_column_still_loads(district, tmp_path, settings, data_dir):
    """services_consent_refused_date is optional: an older export without it loads, read as NULL."""
    from helpers import run_night_in_process

    settings({})
    s = district.student()
    district.evaluation(s, consent="2026-08-01", completed="2026-09-01", eligibility="2026-09-10")
    folder = district.write(tmp_path / "export")
    data = rows(folder / "evaluations.csv")
    i = data[0].index("services_consent_refused_date")
    write_rows(folder / "evaluations.csv", [r[:i] + r[i + 1:] for r in data])
    run_night_in_process(folder, AS_OF)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(services_consent_refused_date) FROM core.evaluations").fetchone() \
        == (1, 0)
    assert con.execute("SELECT status FROM compliance.exceptions WHERE rule_id = 'IEP_INITIAL_30_DAY'").fetchall() \
        == [("overdue",)]
    con.close()
