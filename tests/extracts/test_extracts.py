"""State extracts: exact content, hand-computed summary, validation gate, byte-identical regeneration."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from builder import AS_OF
from helpers import NEXT

from iepwatch.errors import DataError
from iepwatch.extracts import served

ALL_FORMATS = ("calpads_sped_meetings", "compliance_student_list", "compliance_summary", "indicator_b11",
               "indicator_b11_detail", "indicator_b12", "indicator_b12_detail", "indicator_b13", "indicator_b13_detail")
# A California district on the federal timelines (the tests' districts are): CALPADS added.
CALPADS = {"extracts": {"add_formats": ["calpads_sped_meetings"]}}


def test_every_field_of_every_format_says_where_its_value_comes_from():
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    defs = engine.all_definitions(load_config())
    assert set(ALL_FORMATS) <= set(defs)
    missing = [(n, f["name"]) for n, d in defs.items() for f in d.fields if not f.get("source")]
    assert missing == []


def produce(name: str, cfg=None, as_of=AS_OF):
    """Build, check and publish one format with the package's engine, its night served as
    publish_extracts serves it (GX runs in the DAG test)."""
    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    cfg = cfg or load_config(overrides=CALPADS)
    d = engine.definitions(cfg)[name]
    with warehouse.connect(cfg) as con:
        n = engine.build(con, cfg, as_of, d)
        engine.check(con, d, engine.suite(d, as_of, n))
        folder = engine.publish(con, cfg, as_of, d)
    served.serve(cfg.paths.extracts_dir, as_of.isoformat(), [name])
    return folder


@pytest.fixture
def tiny(district, evaluate):
    """Four students whose extract rows are worked out by hand below."""
    ex = district
    a = ex.student("S0001", school="SCH1", birth="2015-03-01", first="Ana", last="Lopez")
    ex.evaluation(a, consent=date(2026, 8, 1), completed=date(2026, 9, 15), eligibility=date(2026, 9, 20))
    ma = ex.meeting(a, held=date(2026, 10, 1), kind="initial")
    b = ex.student("S0002", school="SCH2", birth="2009-06-15", first="@Ben", last="O'Hara, Smith Jr")
    ex.meeting(b, held=date(2025, 9, 1), kind="annual", team=False, notice=False)
    mb = ex.meeting(b, held=date(2026, 9, 10), kind="annual")
    ex.meeting(b, held=date(2026, 10, 5), kind="amendment")
    c = ex.student("S0003", school="SCH1", sped="referred")
    ex.evaluation(c, consent=date(2026, 8, 10), outcome="pending", delay="parent_did_not_produce_child")
    d = ex.student("S0004", school="SCH2", sped="referred")
    ex.evaluation(d, consent=date(2026, 9, 1), outcome="pending")
    for s in ("S0001", "S0002", "S0003", "S0004"):
        row = next(r for r in ex.tables["students"] if r["student_id"] == s)
        row["state_student_id"] = "1" + s[1:]           # S0001 -> 10001
    evaluate(ex)
    return {"ma": ma, "mb": mb}


def test_calpads_sped_meetings_exact_bytes(tiny, data_dir):
    folder = produce("calpads_sped_meetings")
    expected = (
        f"SPED^^{tiny['ma']}^1964733^19647336000001^2026-2027^10001^S0001^Ana^Lopez^20150301^F^20260801^20260801"
        "^10^20261001^^100\r\n"
        f"SPED^^{tiny['mb']}^1964733^19647336000002^2026-2027^10002^S0002^@Ben^O'Hara, Smith Jr^20090615^F^^"
        "^20^20260910^^100\r\n")
    assert (folder / "1964733_SPED_20261127.txt").read_bytes() == expected.encode()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"] == [{"name": "1964733_SPED_20261127.txt", "rows": 2, "bytes": len(expected),
                                  "sha256": hashlib.sha256(expected.encode()).hexdigest()}]
    assert (manifest["report"], manifest["format"], manifest["as_of"], manifest["rows"]) == \
        ("calpads_sped_meetings", "calpads_sped_meetings", "2026-11-27", 2)
    # when the file was made (its generation's time, kept by a regeneration of the same bytes)
    made = datetime.fromisoformat(manifest["generated_at"])
    assert made.tzinfo is not None and abs((datetime.now(UTC) - made).total_seconds()) < 600
    assert manifest["source_export_id"]
    assert manifest["status"] == "legacy" and "Not an upload-ready current file" in manifest["status_note"]


def test_compliance_student_list_exact_bytes(tiny, data_dir):
    folder = produce("compliance_student_list")
    expected = (
        "as_of,school_id,school_name,student_id,ssid,last_name,first_name,timeline,category,due_date,event_date,"
        "days_overdue,exempt_delay\n"
        "2026-11-27,SCH1,School 1,S0001,10001,Lopez,Ana,annual review,pending,2027-10-01,,,N\n"
        "2026-11-27,SCH1,School 1,S0001,10001,Lopez,Ana,initial evaluation,timely,2026-09-30,2026-09-15,,N\n"
        "2026-11-27,SCH1,School 1,S0001,10001,Lopez,Ana,reevaluation,pending,2029-09-15,,,N\n"
        "2026-11-27,SCH1,School 1,S0003,10003,Lopez,Ana,initial evaluation,overdue,2026-10-09,,49,Y\n"
        "2026-11-27,SCH2,School 2,S0002,10002,\"O'Hara, Smith Jr\",'@Ben,annual review,held late,2026-09-01,"
        "2026-09-10,9,N\n"
        "2026-11-27,SCH2,School 2,S0004,10004,Lopez,Ana,initial evaluation,overdue,2026-10-31,,27,N\n")
    assert (folder / "compliance_student_list_2026-11-27.csv").read_text() == expected


def test_compliance_summary_percentages_by_hand(tiny, data_dir):
    folder = produce("compliance_summary")
    rows = list(csv.DictReader(io.StringIO((folder / "compliance_summary_2026-11-27.csv").read_text())))
    district, sch1, sch2 = rows
    assert (district["level"], sch1["school_id"], sch2["school_id"]) == ("district", "SCH1", "SCH2")
    # initial evaluations: S0001 timely, S0003 overdue but exempt (out of the denominator), S0004 overdue
    assert [district[f"initial_evaluations_{k}"] for k in ("timely", "held_late", "overdue", "pending", "exempt")] \
        == ["1", "0", "1", "0", "1"]
    assert (district["indicator11_pct_timely"], sch1["indicator11_pct_timely"], sch2["indicator11_pct_timely"]) \
        == ("50.0", "100.0", "0.0")
    # annual reviews: S0002 held late (374 days), both students' next reviews pending
    assert [district[f"annual_reviews_{k}"] for k in ("timely", "held_late", "overdue", "pending")] == \
        ["0", "1", "0", "2"]
    assert district["reevaluations_pending"] == "1"
    # S0002 (17) had transition meetings; the notices did not invite the student
    assert (district["transition_meeting_students"], district["transition_pct_student_invited"]) == ("1", "0.0")
    assert (district["transition_age_students"], district["transition_pct_with_plan"]) == ("0", "")
    # three held meetings in the window, all with the full team; two are transition meetings without invitation
    assert (district["team_lea_representative_evaluated"], district["team_lea_representative_pass_pct"]) == \
        ("3", "100.0")
    assert (district["transition_notice_evaluated"], district["transition_notice_pass_pct"]) == ("2", "0.0")


@pytest.mark.parametrize("value,where", [("Smith^Jr", "the delimiter"), ("Smith\nJr", "a line break"),
                                         ("Smith\x00Jr", "a NUL byte"), ("Smith\u202eJr", "a direction override")])
def test_a_state_file_value_with_the_delimiter_or_a_control_character_fails(tiny, district, evaluate, data_dir,
                                                                            value, where):
    folder = produce("calpads_sped_meetings")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    spoil(data_dir, "S0002", last_name=value)   # past the gate, which quarantines such a name (test_hostile)
    with pytest.raises(DataError, match=r"extract calpads_sped_meetings not published: last_name contains the "
                                        r"delimiter, a line break or a control character on line 2"):
        produce("calpads_sped_meetings")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, where


def spoil(data_dir, student_id: str, **values) -> None:
    """Values set in the published night's students table itself, past the gate: what the writers
    check again for themselves (defence in depth)."""
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    try:
        slot = con.execute("SELECT slot FROM ops.slots WHERE published").fetchone()[0]
        for column, value in values.items():
            con.execute(f"UPDATE {slot}.students SET {column} = ? WHERE student_id = ?", [value, student_id])
    finally:
        con.close()


def test_a_quoted_line_break_is_one_record_and_formulas_are_guarded(tiny, district, evaluate, data_dir):
    spoil(data_dir, "S0002", last_name="Smith\nJr", first_name="\t=cmd")   # past the gate (test_hostile)
    folder = produce("compliance_student_list")
    (name,) = [p.name for p in folder.iterdir() if p.name != "manifest.json"]
    with (folder / name).open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert json.loads((folder / "manifest.json").read_text())["rows"] == len(records)
    s2 = [r for r in records if r["student_id"] == "S0002"]
    assert s2 and all(r["last_name"] == "Smith\nJr" and r["first_name"] == "'\t=cmd" for r in s2)


def test_a_file_name_from_the_export_must_be_a_plain_name(tiny, data_dir, tmp_path):
    """The gate quarantines a district_code that is not digits (test_hostile); the writer checks again."""
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    slot = con.execute("SELECT slot FROM ops.slots WHERE published").fetchone()[0]
    con.execute(f"UPDATE {slot}.schools SET district_code = '../pw'")
    con.close()
    with pytest.raises(DataError, match="its file name '../pw_SPED_20261127.txt' is not a plain file name"):
        produce("calpads_sped_meetings")
    assert not list(data_dir.rglob("*pw_SPED*")) and not list(tmp_path.parent.rglob("pw_SPED*"))


def test_regeneration_is_byte_identical(tiny, data_dir):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    for name in ALL_FORMATS:
        first = digest(produce(name))
        assert digest(produce(name)) == first


def test_failing_extract_is_not_published_and_the_previous_stays(tiny, district, evaluate, data_dir):
    folder = produce("calpads_sped_meetings")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    next(r for r in district.tables["students"] if r["student_id"] == "S0002")["state_student_id"] = None
    evaluate(district)
    with pytest.raises(DataError, match=r"extract calpads_sped_meetings not published: ssid is missing on line 2"):
        produce("calpads_sped_meetings")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in folder.parent.iterdir()) == [".generations", "2026-11-27"], \
        "no temporary folder left behind"
    assert [g.name for g in (folder.parent / ".generations" / "2026-11-27").iterdir()] == ["001"], \
        "a file that failed its gate is no generation"


def test_a_new_format_is_a_definition_file(tiny, data_dir, tmp_path):
    from iepwatch.district import load_config

    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "overdue_pipe.yaml").write_text("""
name: overdue_pipe
model: extracts/compliance_student_list
order_by: [student_id, timeline]
file_name: "OVERDUE_{as_of:%Y%m%d}.dat"
delimiter: "|"
header: true
line_ending: crlf
quoting: none
date_format: "%m/%d/%Y"
fields:
  - {name: STUDENT, column: student_id, required: true, max_length: 10}
  - {name: TIMELINE, column: timeline, codes: {initial evaluation: IE, annual review: AR, reevaluation: RE}}
  - {name: STATUS, column: category, codes: {overdue: O, held late: L, pending: P, timely: T}}
  - {name: DUE, column: due_date, type: date, max_date: open}
  - {name: FILLER, const: "X"}
""")
    cfg = load_config(overrides={"extracts": {"definitions_dir": str(defs)}})
    folder = produce("overdue_pipe", cfg)
    assert (folder / "OVERDUE_20261127.dat").read_bytes() == (
        b"STUDENT|TIMELINE|STATUS|DUE|FILLER\r\n"
        b"S0001|AR|P|10/01/2027|X\r\nS0001|IE|T|09/30/2026|X\r\nS0001|RE|P|09/15/2029|X\r\n"
        b"S0002|AR|L|09/01/2026|X\r\nS0003|IE|O|10/09/2026|X\r\nS0004|IE|O|10/31/2026|X\r\n")


def test_state_reporting_dag_after_the_nightly(airflow_db, data_dir, tmp_path, settings):
    from helpers import run_dag

    from tools.demo import generate

    settings(CALPADS)
    export = tmp_path / "export"
    generate(export, students=300, as_of=AS_OF)
    assert run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})[0] == "success"
    state, tis = run_dag("state_reporting", AS_OF, {"as_of": str(AS_OF)})
    assert state == "success", tis
    for name in ALL_FORMATS:
        folder = data_dir / "extracts" / name / str(AS_OF)
        manifest = json.loads((folder / "manifest.json").read_text())
        (f,) = manifest["files"]
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"] and f["rows"] > 0
    assert (data_dir / "datadocs" / "extracts" / "index.html").exists()
    assert served.is_served(data_dir / "extracts", str(AS_OF))


def test_one_failing_format_does_not_hold_back_the_others_but_the_night_is_not_served(airflow_db, data_dir, tmp_path,
                                                                                        settings):
    """A format that fails its build is not published (its previous files stay) and fails the run;
    the formats that passed are still validated by the night's one GX run and written, but the
    night is no longer served: the page shows no night with some formats of one export beside
    others of another."""
    import csv as csv_

    from helpers import run_dag

    from iepwatch.district import load_config
    from iepwatch.extracts.engine import definitions
    from iepwatch.ui import dashboard
    from tools.demo import generate

    settings(CALPADS)
    export = tmp_path / "export"
    generate(export, students=200, as_of=AS_OF)
    assert run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})[0] == "success"
    assert run_dag("state_reporting", AS_OF, {"as_of": str(AS_OF)})[0] == "success"
    assert len(dashboard.extracts(load_config(), str(AS_OF))) == len(definitions(load_config())) > 0
    calpads = data_dir / "extracts" / "calpads_sped_meetings" / str(AS_OF)
    before = {p.name: p.read_bytes() for p in calpads.iterdir()}

    # the same night exported again, now without state student ids: the CALPADS file cannot be built
    students = export / "students.csv"
    with students.open(newline="", encoding="utf-8") as f:
        rows = list(csv_.DictReader(f))
    for r in rows:
        r["state_student_id"] = ""
    with students.open("w", newline="", encoding="utf-8") as f:
        w = csv_.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (export / "export_complete.json").unlink(missing_ok=True)
    assert run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})[0] == "success"
    list_file = data_dir / "extracts" / "compliance_student_list" / str(AS_OF) / "manifest.json"
    list_file.unlink()
    state, tis = run_dag("state_reporting", AS_OF, {"as_of": str(AS_OF)})
    assert state == "failed"
    assert [tis[f"build_extract[{i}]"][0] for i in range(3)] == ["failed", "success", "success"], tis
    assert tis["publish_extracts"] == ("failed", 1), "a data error: no retry"
    assert {p.name: p.read_bytes() for p in calpads.iterdir()} == before, "the failing format's files stay"
    manifest = json.loads(list_file.read_text())
    assert manifest["source_export_id"] != json.loads((calpads / "manifest.json").read_text())["source_export_id"], \
        "the passing formats were published from the new export"
    assert not served.is_served(data_dir / "extracts", str(AS_OF)) and dashboard.extracts(load_config()) == []


def test_the_calpads_file_is_labelled_a_legacy_layout_with_its_placeholder_codes(data_dir):
    """The retired CALPADS SPED layout says what it is: in its definition (placeholder codes
    marked), its manifest and on the page; never presented as an upload-ready file."""
    import json

    from fastapi.testclient import TestClient

    from iepwatch.district import load_config
    from iepwatch.extracts.engine import definitions
    from iepwatch.ui import page as ui

    d = definitions(load_config(overrides=CALPADS))["calpads_sped_meetings"]
    assert d.raw["status"] == "legacy" and "not upload-ready" in d.raw["title"]
    assert "retired" in d.raw["status_note"] and "placeholders" in d.raw["status_note"]
    fields = {f["name"]: f for f in d.fields}
    assert fields["meeting_delay_code"]["placeholder_codes"] == ["10", "11", "20", "30"]
    assert "90" not in fields["meeting_delay_code"]["placeholder_codes"], "90 is the state's own code"
    assert fields["education_plan_type_code"]["const"] == "100"
    assert d.raw["delimiter"] == "^" and d.raw["header"] is False and d.raw["line_ending"] == "crlf"
    assert all(c in fields["meeting_type_code"]["codes"].values() for c in ("10", "40"))
    folder = data_dir / "extracts" / "calpads_sped_meetings" / str(AS_OF)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "report": "calpads_sped_meetings", "as_of": str(AS_OF), "status": "legacy",
        "status_note": d.raw["status_note"], "files": [{"name": "x.txt", "rows": 1, "sha256": "0" * 64}]}))
    served.serve(data_dir / "extracts", str(AS_OF), ["calpads_sped_meetings"])
    ui.app.dependency_overrides[ui._user_dep()] = lambda: type("U", (), {"role": "op", "get_name": lambda s: "op"})()
    try:
        page = TestClient(ui.app).get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert "Legacy layout:</b> Legacy layout of the CALPADS SPED record, retired" in page


def _iep(ex, student, meeting, held, status="active", plan="Y"):
    ex.add("ieps", iep_id=ex.next_id("P"), student_id=student, meeting_id=meeting, begin_date=held,
           end_date=date(held.year + 1, held.month, held.day) - timedelta(days=1), status=status,
           has_transition_plan=plan)


def test_indicator_b13_counts_and_detail_by_hand(district, evaluate, data_dir):
    """Worked out by hand (window 2026-07-01 .. 2026-11-27, transition age 16):
    A 17, plan, invited, purpose -> meets; B 16 that very day, no plan -> counted, not met;
    C 16 the day after -> out; D 17 but the meeting before the window -> out; E 17, a draft -> out;
    F 17 (SCH2), not invited -> counted, not met; G 17, exited -> out; H 17, two IEPs: the latest
    (which meets) counts, once."""
    ex, held = district, date(2026, 10, 1)

    def youth(school, birth, when=held, invited="Y", purpose="Y", plan="Y", status="active", enrol="active"):
        s = ex.student(school=school, birth=birth, status=enrol)
        m = ex.meeting(s, held=when, kind="annual", transition="Y", notice=False)
        ex.notice(m, sent=when - timedelta(days=14), invites_student=invited, states_transition_purpose=purpose)
        _iep(ex, s, m, when, status=status, plan=plan)
        return s, m

    a, _ = youth("SCH1", date(2009, 5, 1))
    b, _ = youth("SCH1", date(2010, 10, 1), plan="N")
    youth("SCH1", date(2010, 10, 2))
    youth("SCH1", date(2009, 5, 1), when=date(2026, 6, 1))
    youth("SCH1", date(2009, 5, 1), status="draft")
    f, _ = youth("SCH2", date(2009, 5, 1), invited="N")
    youth("SCH2", date(2009, 5, 1), enrol="exited")
    h, _ = youth("SCH2", date(2009, 5, 1), when=date(2026, 8, 1), plan="N")
    mh = ex.meeting(h, held=date(2026, 11, 2), kind="amendment", transition="Y", notice=False)
    ex.notice(mh, sent=date(2026, 10, 20), invites_student="Y", states_transition_purpose="Y")
    _iep(ex, h, mh, date(2026, 11, 2))
    evaluate(ex)
    detail = list(csv.DictReader(io.StringIO(
        (produce("indicator_b13_detail") / f"indicator_b13_detail_{AS_OF}.csv").read_text())))
    assert {r["student_id"]: (r["age_on_iep_date"], r["meets_b13"]) for r in detail} == {
        a: ("17", "Y"), b: ("16", "N"), f: ("17", "N"), h: ("17", "Y")}
    assert next(r for r in detail if r["student_id"] == h)["iep_date"] == "2026-11-02"
    assert next(r for r in detail if r["student_id"] == f)["student_invited"] == "N"
    counts = {(r["level"], r["school_id"]): r for r in csv.DictReader(io.StringIO(
        (produce("indicator_b13") / f"indicator_b13_{AS_OF}.csv").read_text()))}
    district_row = counts[("district", "")]
    assert (district_row["youth_transition_age"], district_row["youth_meeting_b13"], district_row["percent"]) == \
        ("4", "2", "50.0")
    assert (district_row["missing_transition_plan"], district_row["student_not_invited"]) == ("1", "1")
    assert (counts[("school", "SCH1")]["youth_transition_age"], counts[("school", "SCH1")]["percent"]) == ("2", "50.0")
    assert (counts[("school", "SCH2")]["youth_meeting_b13"], counts[("school", "SCH2")]["percent"]) == ("1", "50.0")


def test_indicator_b13_without_a_single_youth_still_has_its_district_row(district, evaluate, data_dir):
    district.student(school="SCH1")
    evaluate(district)
    rows = list(csv.DictReader(io.StringIO((produce("indicator_b13") / f"indicator_b13_{AS_OF}.csv").read_text())))
    assert [(r["level"], r["youth_transition_age"], r["percent"]) for r in rows] == [("district", "0", "")]


def test_indicator_b11_counts_ranges_reasons_and_exceptions_by_hand(district, evaluate, data_dir):
    """Worked out by hand: window 2026-07-01 .. 2026-11-27, federal 60 days (due = consent + 60).
    A timely; B late 7 days (school break), L 10, J 20, K 21 (SCH2), D 31: late; E not completed,
    39 days past (SCH2): overdue; F late with parent_did_not_produce_child: 300.301(d)(1);
    G late, transfer_agreed_timeline: (d)(2); H due 2026-12-31: pending; I consent before the window."""
    ex = district
    d_ = date

    def child(school, consent, completed=None, delay=None):
        s = ex.student(school=school, sped="referred")
        ex.evaluation(s, consent=consent, completed=completed, outcome="eligible" if completed else "pending",
                      eligibility=completed, delay=delay)
        return s

    a = child("SCH1", d_(2026, 8, 1), d_(2026, 9, 20))
    b = child("SCH1", d_(2026, 7, 10), d_(2026, 9, 15), delay="school_break")
    lo = child("SCH1", d_(2026, 7, 20), d_(2026, 9, 28))
    j = child("SCH1", d_(2026, 7, 20), d_(2026, 10, 8))
    k = child("SCH2", d_(2026, 7, 20), d_(2026, 10, 9))
    dd = child("SCH1", d_(2026, 7, 2), d_(2026, 10, 1))
    e = child("SCH2", d_(2026, 8, 20))
    f = child("SCH1", d_(2026, 7, 15), d_(2026, 10, 5), delay="parent_did_not_produce_child")
    g = child("SCH1", d_(2026, 8, 5), d_(2026, 10, 10), delay="transfer_agreed_timeline")
    h = child("SCH1", d_(2026, 11, 1))
    i = child("SCH1", d_(2026, 6, 1), d_(2026, 6, 20))
    evaluate(ex)
    detail = {r["student_id"]: r for r in csv.DictReader(io.StringIO(
        (produce("indicator_b11_detail") / f"indicator_b11_detail_{AS_OF}.csv").read_text()))}
    assert i not in detail
    assert {s: (detail[s]["category"], detail[s]["days_beyond"], detail[s]["days_range"]) for s in detail} == {
        a: ("timely", "", ""), b: ("late", "7", "1-10"), lo: ("late", "10", "1-10"), j: ("late", "20", "11-20"),
        k: ("late", "21", "21-30"), dd: ("late", "31", "over 30"), e: ("overdue", "39", "over 30"),
        f: ("exception", "", ""), g: ("exception", "", ""), h: ("pending", "", "")}
    assert (detail[f]["exception"], detail[g]["exception"]) == ("300.301(d)(1)", "300.301(d)(2)")
    assert detail[b]["delay_reason"] == "school_break" and detail[dd]["delay_reason"] == "none recorded"
    assert detail[e]["due_date"] == "2026-10-19" and detail[e]["completed_date"] == ""
    counts = {(r["level"], r["school_id"]): r for r in csv.DictReader(io.StringIO(
        (produce("indicator_b11") / f"indicator_b11_{AS_OF}.csv").read_text()))}
    dist = counts[("district", "")]
    assert {k_: dist[k_] for k_ in ("consent_received", "completed_within_timeline", "percent", "completed_late",
                                     "not_completed_overdue", "beyond_1_10", "beyond_11_20", "beyond_21_30",
                                     "beyond_over_30", "delay_school_break", "delay_none_recorded",
                                     "exception_d1_parent", "exception_d2_transfer", "pending")} == {
        "consent_received": "7", "completed_within_timeline": "1", "percent": "14.3", "completed_late": "5",
        "not_completed_overdue": "1", "beyond_1_10": "2", "beyond_11_20": "1", "beyond_21_30": "1",
        "beyond_over_30": "2", "delay_school_break": "1", "delay_none_recorded": "5",
        "exception_d1_parent": "1", "exception_d2_transfer": "1", "pending": "1"}
    sch2 = counts[("school", "SCH2")]
    assert (sch2["consent_received"], sch2["completed_within_timeline"], sch2["percent"]) == ("2", "0", "0.0")


def test_submission_history_keeps_every_generation_and_reports_exactly_what_changed(tiny, district, evaluate,
                                                                                    data_dir):
    from iepwatch.extracts import history

    base = data_dir / "extracts" / "calpads_sped_meetings"
    produce("calpads_sped_meetings")
    served = produce("calpads_sped_meetings")             # the same bytes: the same generation
    (g1,) = history.generations(base)
    kept = history.folder(base, g1["as_of"], 1) / g1["file"]
    assert (served / g1["file"]).samefile(kept), "a regeneration serves the kept file itself: one file"
    assert (g1["generation"], g1["previous"], g1["added"], g1["removed"], g1["changed"]) == (1, None, 2, 0, 0)
    # one name changes, one meeting is added, nothing is removed
    next(r for r in district.tables["students"] if r["student_id"] == "S0001")["last_name"] = "Lopez-Ruiz"
    added = district.meeting("S0001", held=date(2026, 11, 2), kind="reevaluation")
    evaluate(district)
    produce("calpads_sped_meetings")
    g2 = history.generations(base)[0]
    assert (g2["generation"], g2["previous"], g2["added"], g2["removed"], g2["changed"]) == \
        (2, {"as_of": str(AS_OF), "generation": 1}, 1, 0, 1)
    report = list(csv.DictReader(io.StringIO((g2["folder"] / "changes.csv").read_text())))
    assert [(r["local_record_id"], r["change"], r["changed_fields"]) for r in report] == sorted([
        (tiny["ma"], "changed", "last_name"), (added, "added", "")])
    # submitted: it stays, byte for byte, whatever is generated after it
    history.mark_submitted(base, str(AS_OF), 2, "op", "2026-11-28T09:00:00")
    kept = {p.name: p.read_bytes() for p in g2["folder"].iterdir()}
    next(r for r in district.tables["students"] if r["student_id"] == "S0002")["first_name"] = "Benjamin"
    evaluate(district)
    produce("calpads_sped_meetings")
    g3, g2_again, _ = history.generations(base)
    assert g3["generation"] == 3 and (g3["added"], g3["removed"], g3["changed"]) == (0, 0, 1)
    assert g2_again["submitted"] == {"by": "op", "at": "2026-11-28T09:00:00", "confirmation": ""}
    assert {p.name: p.read_bytes() for p in g2_again["folder"].iterdir()} == kept
    assert (base / str(AS_OF) / g3["file"]).read_bytes() == (g3["folder"] / g3["file"]).read_bytes()
    # the served file and its generation's copy (one file, two links) are read-only: never written again
    folders = (base / str(AS_OF), g3["folder"], g2_again["folder"])
    assert not any((f / g3["file"]).stat().st_mode & 0o222 for f in folders)
    history.mark_submitted(base, str(AS_OF), 2, "admin", "2026-11-29T09:00:00")   # the first mark stays
    assert history.generations(base)[1]["submitted"]["by"] == "op"


def test_the_next_nights_generation_reports_only_records_whose_data_changed(tiny, district, evaluate, data_dir):
    """The as-of date and the days overdue move with the night itself (``compare: false``): the
    next night's student list, with one record really changed, reports that record alone, not
    every record as changed because its as_of column did."""
    from iepwatch.extracts import history

    base = data_dir / "extracts" / "compliance_student_list"
    produce("compliance_student_list")
    next(r for r in district.tables["students"] if r["student_id"] == "S0001")["last_name"] = "Lopez-Ruiz"
    evaluate(district, NEXT)
    produce("compliance_student_list", as_of=NEXT)
    g2, g1 = history.generations(base)[:2]
    assert g2["previous"] == {"as_of": str(AS_OF), "generation": 1} and g2["not_compared"] == ["as_of", "days_overdue"]
    rows = [r for r in csv.DictReader(io.StringIO((g2["folder"] / g2["file"]).read_text()))]
    overdue = [r for r in rows if r["days_overdue"] and not r["event_date"]]
    assert overdue, "an open overdue record, whose days overdue grew by one"
    report = list(csv.DictReader(io.StringIO((g2["folder"] / "changes.csv").read_text())))
    assert {(r["student_id"], r["change"], r["changed_fields"]) for r in report} == {
        ("S0001", "changed", "last_name")} and g2["changed"] == len(report)


def test_monitoring_categories_every_one_by_hand(district, evaluate, data_dir):
    """CALPADS 16.25 / 16.21 style categories, every one present (window 2026-07-01 .. 2026-11-27):
    initial evaluations (60 days): I1 held late (due 09-08, done 09-15), I2 pending (due 12-31);
    annual reviews (365 days): A1 timely (due 2026-10-01, held 09-20) then pending, A2 overdue
    (due 2026-11-01); reevaluations (3 years): R1 timely (due 2026-08-01, done 07-20) then
    pending, R2 held late (due 07-15, done 08-05) then pending, R3 overdue (due 2026-10-01)."""
    ex = district
    i1 = ex.student(school="SCH1", sped="referred")
    ex.evaluation(i1, consent=date(2026, 7, 10), completed=date(2026, 9, 15), outcome="not_eligible")
    i2 = ex.student(school="SCH1", sped="referred")
    ex.evaluation(i2, consent=date(2026, 11, 1), outcome="pending")
    a1 = ex.student(school="SCH2")
    ex.meeting(a1, held=date(2025, 10, 1), kind="annual")
    ex.meeting(a1, held=date(2026, 9, 20), kind="annual")
    a2 = ex.student(school="SCH2")
    ex.meeting(a2, held=date(2025, 11, 1), kind="annual")
    r = {}
    for name, school, done, reeval in (("r1", "SCH1", date(2023, 8, 1), date(2026, 7, 20)),
                                       ("r2", "SCH1", date(2023, 7, 15), date(2026, 8, 5)),
                                       ("r3", "SCH2", date(2023, 10, 1), None)):
        s = r[name] = ex.student(school=school)
        ex.evaluation(s, kind="reevaluation", consent=done - timedelta(days=30), completed=done, outcome="eligible")
        ex.meeting(s, held=date(2026, 5, 1), kind="annual")   # its annual review: pending (due 2027-05-01)
        if reeval:
            ex.evaluation(s, kind="reevaluation", consent=reeval - timedelta(days=30), completed=reeval,
                          outcome="eligible")
    evaluate(ex)
    rows = {(x["level"], x["school_id"]): x for x in csv.DictReader(io.StringIO(
        (produce("compliance_summary") / f"compliance_summary_{AS_OF}.csv").read_text()))}
    cats = ("timely", "held_late", "overdue", "pending")
    got = {k: {t: [v[f"{t}_{c}"] for c in cats] for t in ("initial_evaluations", "annual_reviews", "reevaluations")}
           for k, v in rows.items()}
    # [timely, held late, overdue, pending]; the R students' annual reviews are pending too
    assert got[("district", "")] == {"initial_evaluations": ["0", "1", "0", "1"],
                                     "annual_reviews": ["1", "0", "1", "4"], "reevaluations": ["1", "1", "1", "2"]}
    assert got[("school", "SCH1")] == {"initial_evaluations": ["0", "1", "0", "1"],
                                       "annual_reviews": ["0", "0", "0", "2"], "reevaluations": ["1", "1", "0", "2"]}
    assert got[("school", "SCH2")] == {"initial_evaluations": ["0", "0", "0", "0"],
                                       "annual_reviews": ["1", "0", "1", "2"], "reevaluations": ["0", "0", "1", "0"]}
    # the student-level list behind them: each student's worst cycle per timeline
    listing = {(x["student_id"], x["timeline"]): x["category"] for x in csv.DictReader(io.StringIO(
        (produce("compliance_student_list") / f"compliance_student_list_{AS_OF}.csv").read_text()))}
    assert listing == {(i1, "initial evaluation"): "held late", (i2, "initial evaluation"): "pending",
                       (a1, "annual review"): "pending", (a2, "annual review"): "overdue",
                       (r["r1"], "annual review"): "pending", (r["r1"], "reevaluation"): "pending",
                       (r["r2"], "annual review"): "pending", (r["r2"], "reevaluation"): "held late",
                       (r["r3"], "annual review"): "pending", (r["r3"], "reevaluation"): "overdue"}


def test_records_are_counted_as_a_csv_reader_reads_them(tmp_path):
    """A quoted line break is inside one record; a file that does not read back as CSV is refused."""
    import duckdb

    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    d = engine.definitions(load_config())["compliance_student_list"]
    header = ",".join(f["name"] for f in d.fields)
    row = ",".join(['"Smith\r\nJr"', *["x"] * (len(d.fields) - 1)])
    path = tmp_path / "f.csv"
    con = duckdb.connect()
    path.write_text(f"{header}\r\n{row}\r\n{row}\r\n", newline="")
    assert engine.count_records(con, d, path) == 2
    path.write_text(f"{header}\r\n{row}\r\n\"open,{row}\r\n", newline="")
    with pytest.raises(DataError, match="compliance_student_list not published: the written file does not read back"):
        engine.count_records(con, d, path)
    cal = engine.all_definitions(load_config())["calpads_sped_meetings"]
    path.write_text("a^b\r\nc^d\r\n", newline="")
    assert engine.count_records(con, cal, path) == 2 - bool(cal.raw.get("header"))
