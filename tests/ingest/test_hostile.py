"""Hostile or malformed values through every output: quarantined at the gate, neutralised in mail,
never sent to an address outside the district, never reaching a file name."""

from __future__ import annotations

import duckdb
import pytest
from builder import AS_OF
from helpers import run_night_in_process

from iepwatch.district import load_config


def quarantined(data_dir) -> set[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return set(con.execute("SELECT table_name, reason FROM quarantine.rows q JOIN ops.slots USING (slot) "
                               "WHERE ops.slots.published").fetchall())
    finally:
        con.close()


def overdue(ex, school="SCH1", **kw) -> str:
    s = ex.student(school=school, **kw)
    ex.meeting(s, held=AS_OF.replace(year=AS_OF.year - 2), kind="annual", team=False, notice=False)
    return s


def night(district, tmp_path, **settings_overrides):
    return run_night_in_process(district.write(tmp_path / "export"), AS_OF, emails=True)


def test_a_staff_email_with_a_second_address_never_reaches_it(district, tmp_path, settings, smtp, data_dir):
    settings({"quality": {"quarantine_threshold_pct": 100}})
    overdue(district, "SCH1")
    overdue(district, "SCH2")
    next(r for r in district.tables["staff"] if r["staff_id"] == "C1")["email"] = \
        "coord1@example.org, outsider@evil.example"
    night(district, tmp_path)
    assert ("staff", "email is not exactly one address") in quarantined(data_dir)
    envelopes = [m["X-Envelope-To"] for m in smtp.messages()]
    assert envelopes and not any("evil" in e for e in envelopes), envelopes
    assert sorted(envelopes) == ["coord2@example.org", "sped-office@example.org"], \
        "the coordinator's school goes to the fallback address"
    for m in smtp.messages():
        assert "evil" not in m.as_string()


def test_coordinators_outside_the_allowed_domains_are_quarantined(district, tmp_path, settings, smtp, data_dir):
    settings({"quality": {"quarantine_threshold_pct": 100}, "email": {"recipient_domains": ["district.k12.ca.us"]}})
    overdue(district, "SCH1")
    next(r for r in district.tables["staff"] if r["staff_id"] == "C2")["email"] = "coord2@district.k12.ca.us"
    overdue(district, "SCH2")
    night(district, tmp_path)
    assert ("staff", "coordinator email outside email.recipient_domains") in quarantined(data_dir)
    assert sorted(m["X-Envelope-To"] for m in smtp.messages()) == ["coord2@district.k12.ca.us",
                                                                  "sped-office@example.org"]


def test_a_path_as_district_code_is_quarantined_and_reaches_no_file(district, tmp_path, settings, data_dir):
    settings({"quality": {"quarantine_threshold_pct": 100}})
    district.tables["schools"][0]["district_code"] = "/tmp/pw"
    overdue(district, "SCH2")
    run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    assert ("schools", "district_code is not digits") in quarantined(data_dir)


@pytest.mark.parametrize("value", ["S\x00001", "S1\r\nX", "S\u202e1"])
def test_control_characters_in_identifiers_are_quarantined_with_the_reason(district, tmp_path, settings, data_dir,
                                                                           value):
    settings({"quality": {"quarantine_threshold_pct": 100}})
    overdue(district, "SCH1", student_id=value)
    run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    reasons = {r for t, r in quarantined(data_dir) if t == "students"}
    assert any(r.startswith("control character in an identifier (student_id") for r in reasons), reasons


@pytest.mark.parametrize(("column", "value"), [("first_name", "Ana\u202eevil"), ("last_name", "Lopez\r\nX"),
                                               ("last_name", "Lo\x00pez")])
def test_control_characters_in_a_students_name_are_quarantined_naming_the_line(district, tmp_path, settings, data_dir,
                                                                               column, value):
    """A name reaches the state's files, which never rewrite a value: a control or direction-override
    character in it would block them every night. The row is set aside at the gate instead, its
    students.csv line and reason in quarantine.csv, for the student system to correct."""
    import csv

    settings({"quality": {"quarantine_threshold_pct": 100}})
    overdue(district, "SCH1")
    sid = overdue(district, "SCH1", **{column.split("_")[0]: value})
    run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    line = 2 + [r["student_id"] for r in district.tables["students"]].index(sid)
    with (load_config().run_dir(AS_OF) / "quarantine.csv").open(newline="") as f:
        listed = [(r["file"], r["line"], r["reason"]) for r in csv.DictReader(f)]
    assert ("students.csv", str(line), "control character in a name (first_name, last_name)") in listed, listed


def test_free_text_is_neutralised_in_mail_and_the_subject_is_capped(district, tmp_path, settings, smtp, data_dir):
    settings({"email": {"email_student_names": "full"}})
    overdue(district, "SCH1")
    manager = next(r for r in district.tables["staff"] if r["staff_id"] == "T12")   # the student's case manager
    manager["first_name"], manager["last_name"] = "Ana\u202eevil", "Lopez\r\nBcc: x@evil.example"
    district.tables["schools"][0]["school_name"] = "Lincoln\u202e\r\nBcc: y@evil.example " + "x" * 100_000
    night(district, tmp_path)
    (msg,) = [m for m in smtp.messages() if m["X-Envelope-To"] == "coord1@example.org"]
    assert len(msg["Subject"]) <= 200 and "evil" not in msg["Subject"].split("Lincoln", 1)[0]
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    assert "\u202e" not in msg.as_string() and "Ana?evil" in text
    line = next(ln for ln in text.splitlines() if "Ana?evil" in ln)
    assert "Lopez??Bcc: x@evil.example" in line, "the name stays on its line"
    assert msg["Bcc"] is None


def test_exceptions_csv_guards_spreadsheet_formulas(district, tmp_path, settings, data_dir):
    import csv

    settings({})
    s = overdue(district, "SCH1", student_id="=HYPERLINK(1)")
    run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    with (load_config().run_dir(AS_OF) / "exceptions.csv").open(newline="") as f:
        ids = {r["student_id"] for r in csv.DictReader(f)}
    assert "'" + s in ids and s not in ids
