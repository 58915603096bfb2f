"""The findings ledger on hand-derived scenarios (docs/corrections.md): each kind of requirement,
each instance status, prong 2 with a reset, the one-year clock at its edges; the folder's gate."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest
from builder import AS_OF  # 2026-11-27
from helpers import extract_text as produce
from helpers import run_night_in_process

FINDING_COLUMNS = ("finding_id", "issued_date", "requirement", "citation", "scope_school_ids", "note")
INSTANCE_COLUMNS = ("finding_id", "student_id", "meeting_id", "due_date")


def write_findings(data_dir, findings: list[dict], instances: list[dict]) -> None:
    folder = data_dir / "findings"
    folder.mkdir(parents=True, exist_ok=True)
    for name, columns, rows in (("findings.csv", FINDING_COLUMNS, findings),
                                ("finding_instances.csv", INSTANCE_COLUMNS, instances)):
        with (folder / name).open("w", newline="") as f:
            w = csv.DictWriter(f, columns)
            w.writeheader()
            w.writerows([{c: r.get(c, "") for c in columns} for r in rows])


def finding(fid, issued, requirement, scope="", citation="34 CFR 300.301(c)") -> dict:
    return {"finding_id": fid, "issued_date": str(issued), "requirement": requirement, "citation": citation,
            "scope_school_ids": scope}


@pytest.fixture
def night(district, tmp_path, settings, data_dir):
    """``night(as_of, prong2_records=…)``: the district's export run through the rules and the ledger."""
    from iepwatch.tasks import iep_nightly as t

    counter = iter(range(100))

    def _run(as_of=AS_OF, prong2_records=10, **params):
        settings({"quality": {"quarantine_threshold_pct": 100}, "corrections": {"prong2_records": prong2_records}})
        n = run_night_in_process(district.write(tmp_path / f"export-{next(counter)}"), as_of, **params)
        t.update_corrections_ledger(n)
        return n

    return _run


def ledger(data_dir, as_of=AS_OF) -> tuple[dict, dict, list]:
    """(findings by id, instances by (finding, student), review records) of the night's ledger."""
    import duckdb

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        def rows(q):
            cur = con.execute(q, [as_of])
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        f = {r["finding_id"]: r for r in rows("SELECT * FROM corrections.ledger_findings WHERE as_of = ?")}
        i = {(r["finding_id"], r["student_id"]): r for r in rows("SELECT * FROM corrections.ledger_instances "
                                                                 "WHERE as_of = ?")}
        v = rows("SELECT * FROM corrections.ledger_review WHERE as_of = ? ORDER BY finding_id, seq")
    return f, i, v


def test_timeline_instances_completed_before_and_after_the_finding_exited_and_unmatched(district, night, data_dir):
    """EVAL_60_DAY (60 days after consent), finding issued 2026-06-01:
    - early: consent 2026-01-05, due 2026-03-06, completed late on 2026-04-01, before the finding:
      corrected at once, X = 2026-04-01;
    - later: consent 2026-03-02, due 2026-05-01, still open on 2026-11-27 (not corrected); completed
      2026-11-28, night 2026-11-29: corrected, X = 2026-11-28, the evidence of night 2026-11-29;
    - gone: open, exited on 2026-11-17 (<= D): no longer in jurisdiction;
    - lost: the instance's due date 2026-05-02 matches no timeline (consent corrected): unmatched."""
    early, later, gone, lost = (district.student() for _ in range(4))
    district.evaluation(early, consent=date(2026, 1, 5), completed=date(2026, 4, 1), eligibility=date(2026, 4, 1),
                        outcome="not_eligible")
    e_later = district.evaluation(later, consent=date(2026, 3, 2))
    district.evaluation(gone, consent=date(2026, 3, 2))
    district.tables["students"][2]["enrollment_status"] = "exited"
    district.tables["students"][2]["exit_date"] = "2026-11-17"
    district.evaluation(lost, consent=date(2026, 3, 2))
    write_findings(data_dir, [finding("F-B11", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F-B11", "student_id": early, "due_date": "2026-03-06"},
                    {"finding_id": "F-B11", "student_id": later, "due_date": "2026-05-01"},
                    {"finding_id": "F-B11", "student_id": gone, "due_date": "2026-05-01"},
                    {"finding_id": "F-B11", "student_id": lost, "due_date": "2026-05-02"}])
    first = night()
    f, i, _ = ledger(data_dir)
    assert i[("F-B11", early)]["status"] == "corrected" and i[("F-B11", early)]["corrected_on"] == date(2026, 4, 1)
    assert i[("F-B11", early)]["evidence_as_of"] == AS_OF and i[("F-B11", early)]["evidence_export_id"] == \
        first.export_id and i[("F-B11", early)]["evidence_event_date"] == date(2026, 4, 1)
    assert i[("F-B11", later)]["status"] == "not_corrected" and i[("F-B11", later)]["corrected_on"] is None
    assert i[("F-B11", gone)]["status"] == "no_longer_in_jurisdiction"
    assert i[("F-B11", lost)]["status"] == "unmatched"
    assert (f["F-B11"]["instances"], f["F-B11"]["corrected"], f["F-B11"]["unmatched"]) == (4, 1, 1)
    assert f["F-B11"]["status"] == "open" and f["F-B11"]["deadline"] == date(2027, 6, 1)
    assert f["F-B11"]["days_left"] == (date(2027, 6, 1) - AS_OF).days
    next(r for r in district.tables["evaluations"] if r["evaluation_id"] == e_later)[
        "evaluation_completed_date"] = "2026-11-28"
    second = night(AS_OF + timedelta(days=2))
    _, i2, _ = ledger(data_dir, AS_OF + timedelta(days=2))
    assert i2[("F-B11", later)]["status"] == "corrected" and i2[("F-B11", later)]["corrected_on"] == date(2026, 11, 28)
    assert i2[("F-B11", later)]["evidence_as_of"] == AS_OF + timedelta(days=2)
    assert i2[("F-B11", later)]["evidence_export_id"] == second.export_id
    # the early one keeps its first evidence (night 2026-11-27), whatever later nights show
    assert i2[("F-B11", early)]["evidence_as_of"] == AS_OF


def test_a_corrected_instance_keeps_its_first_evidence_when_a_later_export_changes(district, night, data_dir):
    s = district.student()
    e = district.evaluation(s, consent=date(2026, 3, 2), completed=date(2026, 6, 1), eligibility=date(2026, 6, 1),
                            outcome="not_eligible")
    write_findings(data_dir, [finding("F1", date(2026, 6, 15), "EVAL_60_DAY")],
                   [{"finding_id": "F1", "student_id": s, "due_date": "2026-05-01"}])
    night()
    next(r for r in district.tables["evaluations"] if r["evaluation_id"] == e)["evaluation_completed_date"] = None
    night(AS_OF + timedelta(days=1))
    _, i, _ = ledger(data_dir, AS_OF + timedelta(days=1))
    assert i[("F1", s)]["status"] == "corrected" and i[("F1", s)]["evidence_as_of"] == AS_OF
    assert i[("F1", s)]["corrected_on"] == date(2026, 6, 1)


def test_a_meeting_rule_is_corrected_by_a_later_compliant_meeting_of_the_same_student(district, night, data_dir):
    """NOTICE_MISSING on M1 (held 2026-09-01, no notice). M2 (2026-10-01) has no notice either: it
    corrects nothing. M3 (2026-10-15) has one: corrected, X = 2026-10-15, evidence M3."""
    s = district.student()
    m1 = district.meeting(s, held=date(2026, 9, 1), kind="amendment", notice=False)
    district.meeting(s, held=date(2026, 10, 1), kind="amendment", notice=False)
    write_findings(data_dir, [finding("F-N", date(2026, 9, 20), "NOTICE_MISSING", citation="300.322")],
                   [{"finding_id": "F-N", "student_id": s, "meeting_id": m1}])
    night()
    _, i, _ = ledger(data_dir)
    assert i[("F-N", s)]["status"] == "not_corrected"
    m3 = district.meeting(s, held=date(2026, 10, 15), kind="amendment")
    night(AS_OF + timedelta(days=1))
    _, i, _ = ledger(data_dir, AS_OF + timedelta(days=1))
    assert i[("F-N", s)]["status"] == "corrected" and i[("F-N", s)]["corrected_on"] == date(2026, 10, 15)
    assert i[("F-N", s)]["evidence_meeting_id"] == m3


def test_a_meeting_of_a_past_school_year_is_judged_by_its_rule_not_taken_for_compliant(district, night, data_dir):
    """NOTICE_MISSING issued 2026-03-01, prong2_records = 1; the night 2026-11-27 (its reporting window
    from 2026-07-01: the meeting rules report nothing held before). The case M1 (2026-01-10) had no
    notice, nor had its student's next meeting (2026-02-01, before the finding): that meeting
    corrects nothing. Another student's meetings: 2026-04-01 with a notice, 2026-05-01 without:
    L = 2026-05-01, so the April one is not prong 2's evidence. A compliant meeting of 2026-09-10
    then meets prong 2, and the case's student's M3 (2026-10-01, with a notice) corrects the case."""
    s, other = district.student(), district.student()
    m1 = district.meeting(s, held=date(2026, 1, 10), kind="amendment", notice=False)
    district.meeting(s, held=date(2026, 2, 1), kind="amendment", notice=False)
    district.meeting(other, held=date(2026, 4, 1), kind="amendment")
    district.meeting(other, held=date(2026, 5, 1), kind="amendment", notice=False)
    write_findings(data_dir, [finding("F-N", date(2026, 3, 1), "NOTICE_MISSING", citation="300.322")],
                   [{"finding_id": "F-N", "student_id": s, "meeting_id": m1}])
    night(prong2_records=1)
    f, i, v = ledger(data_dir)
    assert i[("F-N", s)]["status"] == "not_corrected" and i[("F-N", s)]["corrected_on"] is None
    assert (f["F-N"]["prong2_count"], f["F-N"]["prong2_since"], f["F-N"]["prong2_met_on"]) == \
        (0, date(2026, 5, 1), None) and v == []
    compliant = district.meeting(other, held=date(2026, 9, 10), kind="amendment")
    m3 = district.meeting(s, held=date(2026, 10, 1), kind="amendment")
    night(AS_OF + timedelta(days=1), prong2_records=1)
    f, i, v = ledger(data_dir, AS_OF + timedelta(days=1))
    assert (i[("F-N", s)]["status"], i[("F-N", s)]["evidence_meeting_id"]) == ("corrected", m3)
    assert (f["F-N"]["prong2_count"], f["F-N"]["prong2_since"]) == (2, date(2026, 5, 1))
    assert [r["meeting_key"] for r in v] == [compliant] and f["F-N"]["status"] == "corrected"


def test_prong_2_counts_compliant_records_after_the_latest_noncompliant_one(district, night, data_dir):
    """EVAL_60_DAY finding issued 2026-06-01, prong2_records = 2. Records due after it: 2026-07-10
    on time, 2026-08-01 late (completed 2026-08-05), 2026-08-20 and 2026-09-05 on time, 2026-12-10
    not decided yet. L = 2026-08-01: two compliant after it, prong 2 met, those two the evidence.
    Without the last on-time one, one of two ("1 of 2 since 2026-08-01")."""
    def student_due(due: date, completed: date | None) -> str:
        s = district.student()
        consent = due - timedelta(days=60)
        district.evaluation(s, consent=consent, completed=completed, eligibility=completed,
                            outcome="not_eligible" if completed else "eligible")
        return s

    student_due(date(2026, 7, 10), date(2026, 7, 1))
    student_due(date(2026, 8, 1), date(2026, 8, 5))
    a = student_due(date(2026, 8, 20), date(2026, 8, 19))
    student_due(date(2026, 12, 10), None)
    write_findings(data_dir, [finding("F-P2", date(2026, 6, 1), "EVAL_60_DAY")], [])
    night(prong2_records=2)
    f, _, v = ledger(data_dir)
    assert (f["F-P2"]["prong2_count"], f["F-P2"]["prong2_since"], f["F-P2"]["prong2_met_on"]) == \
        (1, date(2026, 8, 1), None)
    assert [r["student_id"] for r in v] == [a] and not v[0]["evidence"]
    assert f["F-P2"]["status"] == "open"
    b = student_due(date(2026, 9, 5), date(2026, 9, 1))
    night(AS_OF + timedelta(days=1), prong2_records=2)
    f, _, v = ledger(data_dir, AS_OF + timedelta(days=1))
    assert (f["F-P2"]["prong2_count"], f["F-P2"]["prong2_met_on"]) == (2, AS_OF + timedelta(days=1))
    assert [(r["student_id"], r["evidence"]) for r in v] == [(a, True), (b, True)]
    # no instances, prong 2 met: corrected that night
    assert f["F-P2"]["status"] == "corrected" and f["F-P2"]["corrected_on"] == AS_OF + timedelta(days=1)
    # a noncompliant record after prong 2 was met does not undo it
    student_due(date(2026, 9, 20), date(2026, 10, 30))
    night(AS_OF + timedelta(days=2), prong2_records=2)
    f, _, v = ledger(data_dir, AS_OF + timedelta(days=2))
    assert f["F-P2"]["status"] == "corrected" and f["F-P2"]["prong2_met_on"] == AS_OF + timedelta(days=1)
    assert [r["student_id"] for r in v] == [a, b]


def test_corrected_on_its_deadline_and_overdue_the_night_after(district, night, data_dir):
    """Both issued 2025-11-27: deadline 2026-11-27. "done" has its one instance corrected and
    prong 2 met (prong2_records 1) on 2026-11-27: corrected on its deadline. "late" has an open
    instance: open with 0 days left on 2026-11-27, overdue on 2026-11-28."""
    done, late = district.student(), district.student()
    district.evaluation(done, consent=date(2025, 9, 1), completed=date(2026, 1, 10), eligibility=date(2026, 1, 10),
                        outcome="not_eligible")   # due 2025-10-31
    district.evaluation(late, consent=date(2025, 9, 1))   # due 2025-10-31, never completed
    other = district.student()
    district.evaluation(other, consent=date(2026, 1, 1), completed=date(2026, 2, 1), eligibility=date(2026, 2, 1),
                        outcome="not_eligible")   # due 2026-03-02, on time: prong 2's record
    write_findings(data_dir, [finding("done", date(2025, 11, 27), "EVAL_60_DAY"),
                              finding("late", date(2025, 11, 27), "EVAL_60_DAY", scope="SCH1")],
                   [{"finding_id": "done", "student_id": done, "due_date": "2025-10-31"},
                    {"finding_id": "late", "student_id": late, "due_date": "2025-10-31"}])
    night(prong2_records=1)
    f, _, _ = ledger(data_dir)
    assert (f["done"]["status"], f["done"]["corrected_on"], f["done"]["deadline"]) == ("corrected", AS_OF, AS_OF)
    assert (f["late"]["status"], f["late"]["days_left"]) == ("open", 0)
    night(AS_OF + timedelta(days=1), prong2_records=1)
    f, _, _ = ledger(data_dir, AS_OF + timedelta(days=1))
    assert (f["late"]["status"], f["late"]["days_left"]) == ("overdue", None)
    assert (f["done"]["status"], f["done"]["corrected_on"]) == ("corrected", AS_OF), "frozen"


def test_a_deadline_from_february_29_is_february_28(district, night, data_dir):
    district.student()
    write_findings(data_dir, [finding("F-leap", date(2024, 2, 29), "EVAL_60_DAY")], [])
    night()
    f = ledger(data_dir)[0]["F-leap"]
    assert f["deadline"] == date(2025, 2, 28) and f["status"] == "overdue"


def test_a_finding_issued_after_the_night_is_not_in_effect(district, night, data_dir):
    write_findings(data_dir, [finding("F-later", AS_OF + timedelta(days=1), "EVAL_60_DAY")], [])
    night()
    assert ledger(data_dir)[0] == {}


@pytest.mark.parametrize("findings,instances,message", [
    ([finding("F1", "2026-06-01", "NO_SUCH_RULE")], [],
     "findings.csv: column requirement: not a rule in force on line 2"),
    ([finding("F1", "2026-06-01", "EVAL_60_DAY"), finding("F1", "2026-07-01", "EVAL_60_DAY")], [],
     "findings.csv: column finding_id: duplicate finding_id on lines 2, 3"),
    ([finding("F1", "2026-13-01", "EVAL_60_DAY")], [],
     "findings.csv: column issued_date: not a date (YYYY-MM-DD) on line 2"),
    ([finding("F1", "2026-06-01", "EVAL_60_DAY")], [{"finding_id": "F9", "student_id": "S1", "due_date": "2026-05-01"}],
     "finding_instances.csv: column finding_id: a finding findings.csv does not have on line 2"),
    ([finding("F1", "2026-06-01", "EVAL_60_DAY")], [{"finding_id": "F1", "student_id": "S1"}],
     "finding_instances.csv: column due_date: empty where the finding's requirement is a timeline rule on line 2"),
    ([finding("F1", "2026-06-01", "NOTICE_MISSING")], [{"finding_id": "F1", "student_id": "S1"}],
     "finding_instances.csv: column meeting_id: empty where the finding's requirement is a meeting rule on line 2"),
])
def test_a_broken_findings_folder_is_a_data_error_naming_file_column_and_line(district, night, data_dir, findings,
                                                                              instances, message):
    from airflow.sdk.exceptions import AirflowFailException

    district.student()
    write_findings(data_dir, findings, instances)
    with pytest.raises(AirflowFailException) as e:
        night()
    assert "DATA ERROR: Findings folder rejected" in str(e.value) and message in str(e.value)


def test_a_broken_folder_leaves_the_last_good_ledger(district, night, data_dir):
    from airflow.sdk.exceptions import AirflowFailException

    s = district.student()
    district.evaluation(s, consent=date(2026, 3, 2))
    write_findings(data_dir, [finding("F1", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F1", "student_id": s, "due_date": "2026-05-01"}])
    night()
    good = ledger(data_dir)
    write_findings(data_dir, [finding("F1", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F1", "student_id": s}])
    with pytest.raises(AirflowFailException):
        night(AS_OF + timedelta(days=1))
    assert ledger(data_dir) == good and ledger(data_dir, AS_OF + timedelta(days=1))[0] == {}


def test_the_data_team_hears_of_deadlines_overdue_findings_and_unmatched_instances_once(district, night, data_dir):
    """Deadline 2026-12-27 (issued 2025-12-27): 30 days left on 2026-11-27, the 30-day notice only
    (the 90-day one would come first on a ledger that ran then); one unmatched instance."""
    from iepwatch.district import load_config
    from iepwatch.ingest import sources

    s = district.student()
    write_findings(data_dir, [finding("F30", date(2025, 12, 27), "EVAL_60_DAY")],
                   [{"finding_id": "F30", "student_id": s, "due_date": "2026-01-01"}])
    night()
    warnings = sources.night_warnings(load_config(), AS_OF)
    assert any("finding F30 (EVAL_60_DAY): 30 days left to correct it (deadline 2026-12-27; 30-day notice)" in w
               for w in warnings)
    assert not any("90-day" in w for w in warnings)
    assert any("finding F30: 1 instance unmatched" in w for w in warnings)
    night(AS_OF + timedelta(days=1))
    assert not any("F30" in w for w in sources.night_warnings(load_config(), AS_OF + timedelta(days=1))), "once"
    night(date(2026, 12, 28))
    assert any("finding F30 (EVAL_60_DAY) is overdue" in w
               for w in sources.night_warnings(load_config(), date(2026, 12, 28)))


def test_a_rerun_of_the_nights_gives_the_same_ledger(district, night, data_dir):
    import duckdb

    s = district.student()
    district.evaluation(s, consent=date(2026, 3, 2))
    write_findings(data_dir, [finding("F1", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F1", "student_id": s, "due_date": "2026-05-01"}])
    for k in range(3):
        night(AS_OF + timedelta(days=k))

    def tables():
        with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
            return {t: con.execute(f"SELECT * FROM corrections.{t} ORDER BY ALL").fetchall()
                    for t in ("ledger_findings", "ledger_instances", "ledger_review")}

    before = tables()
    night(AS_OF + timedelta(days=2))   # the night re-run
    assert tables() == before
    record = (data_dir / "runs" / str(AS_OF + timedelta(days=2)) / "findings.json").read_bytes()
    night(AS_OF + timedelta(days=1), backfill=True)   # an older night again: the later ones rebuilt the same
    assert tables() == before
    assert (data_dir / "runs" / str(AS_OF + timedelta(days=2)) / "findings.json").read_bytes() == record


def test_coordinators_see_their_schools_instances_to_correct_first_until_corrected(district, night, data_dir, smtp):
    """F1 names a student of SCH1 (open, not corrected) and one of SCH2 (corrected): C1's digest
    opens its school with the case, its finding and deadline; C2's lists none. Once the
    evaluation is completed the case leaves the digest."""
    from helpers import mail_parts as parts
    from helpers import send_digests as send

    s1 = district.student(school="SCH1")
    e1 = district.evaluation(s1, consent=date(2026, 3, 2))
    s2 = district.student(school="SCH2")
    district.evaluation(s2, consent=date(2026, 3, 2), completed=date(2026, 6, 1), eligibility=date(2026, 6, 1),
                        outcome="not_eligible")
    write_findings(data_dir, [finding("F1", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F1", "student_id": s, "due_date": "2026-05-01"} for s in (s1, s2)])
    night()
    send(data_dir)
    by_to = {m["To"]: parts(m)[0].replace("\r\n", "\n") for m in smtp.messages()}
    c1 = by_to["coord1@example.org"]
    block = c1.split("Findings to correct at your schools (1)\n")[1]
    assert f"- {s1} A.L.: Initial evaluation completed on time after consent (finding F1, deadline 2027-06-01)" in block
    assert "initial evaluation not completed" in block.split("\n")[1]
    assert c1.index("Findings to correct at your schools") < c1.index("Still open")
    assert "Findings of the state to correct: 1 case" in c1
    assert s2 not in c1 and "Findings to correct" not in by_to.get("coord2@example.org", "")
    next(r for r in district.tables["evaluations"] if r["evaluation_id"] == e1)["evaluation_completed_date"] = \
        "2026-11-27"
    night(AS_OF + timedelta(days=1))
    send(data_dir, as_of=AS_OF + timedelta(days=1))
    later = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(AS_OF + timedelta(days=1))]
    assert all("Findings to correct" not in parts(m)[0] for m in later)


def test_the_evidence_extracts_hold_instances_records_and_counts_byte_identical_on_a_rerun(district, night,
                                                                                         data_dir):
    """Instances with status and evidence, prong 2's records, the counts; a re-run of the night
    and a backfill of an earlier one give the same files byte for byte."""
    early, open_ = district.student(), district.student()
    district.evaluation(early, consent=date(2026, 1, 5), completed=date(2026, 4, 1), eligibility=date(2026, 4, 1),
                        outcome="not_eligible")
    district.evaluation(open_, consent=date(2026, 3, 2))
    on_time = district.student(school="SCH2")
    district.evaluation(on_time, consent=date(2026, 7, 1), completed=date(2026, 8, 1), eligibility=date(2026, 8, 1),
                        outcome="not_eligible")   # due 2026-08-30, after the finding: prong 2's record
    write_findings(data_dir, [finding("F-B11", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F-B11", "student_id": early, "due_date": "2026-03-06"},
                    {"finding_id": "F-B11", "student_id": open_, "due_date": "2026-05-01"}])
    first = night(AS_OF - timedelta(days=1), prong2_records=1)
    night(prong2_records=1)
    files = {n: produce(n) for n in ("correction_evidence", "correction_evidence_review",
                                     "correction_evidence_summary")}
    rows = list(csv.DictReader(files["correction_evidence"].splitlines()))
    assert [(r["student_id"], r["status"], r["corrected_on"], r["evidence_as_of"], r["evidence_export_id"])
            for r in rows] == [(early, "corrected", "2026-04-01", str(AS_OF - timedelta(days=1)), first.export_id),
                               (open_, "not_corrected", "", "", "")]
    review = list(csv.DictReader(files["correction_evidence_review"].splitlines()))
    assert [(r["seq"], r["student_id"], r["record_date"], r["evidence"]) for r in review] == \
        [("1", on_time, "2026-08-30", "Y")]
    (summary,) = csv.DictReader(files["correction_evidence_summary"].splitlines())
    assert {k: summary[k] for k in ("finding_id", "status", "deadline", "instances", "corrected", "not_corrected",
                                    "prong2_count", "prong2_required", "prong2_met_on")} == \
        {"finding_id": "F-B11", "status": "open", "deadline": "2027-06-01", "instances": "2", "corrected": "1",
         "not_corrected": "1", "prong2_count": "1", "prong2_required": "1",
         "prong2_met_on": str(AS_OF - timedelta(days=1))}
    assert open_ not in files["correction_evidence_summary"], "counts only"
    night(prong2_records=1)                                        # the night re-run
    night(AS_OF - timedelta(days=1), prong2_records=1, backfill=True)   # the night before, backfilled
    assert {n: produce(n) for n in files} == files


def test_a_broken_findings_folder_fails_the_ledgers_task_alone_in_the_real_dag(airflow_db, data_dir, tmp_path, smtp):
    """The real DAG: the ledger's task fails with its DATA ERROR (recorded for the run health and
    the data team's alert); the exceptions are published, the emails sent, the Data Docs built and
    the night finished (its Asset fires: the extracts follow). Airflow judges a run by its last
    tasks, so the run itself is a success with one failed task (docs/corrections.md)."""
    import json

    from helpers import run_dag

    from tools.demo import generate

    export = tmp_path / "export"
    generate(export, students=300, as_of=AS_OF)
    write_findings(data_dir, [finding("F1", date(2026, 6, 1), "NO_SUCH_RULE")], [])
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})
    assert state == "success" and tis["update_corrections_ledger"][0] == "failed"
    assert all(tis[k][0] == "success" for k in ("build_exceptions", "send_coordinator_emails", "build_data_docs",
                                                 "finish_night")), tis
    mail = smtp.messages()
    assert sum(m["To"].startswith("coord") for m in mail) == 4
    (alert,) = [m for m in mail if m["To"] == "data-team@example.org"]
    assert alert["Subject"].endswith("night of 2026-11-27: iep_nightly.update_corrections_ledger failed (DATA ERROR)")
    assert (data_dir / "runs" / str(AS_OF) / "exceptions.csv").exists()
    assert not (data_dir / "runs" / str(AS_OF) / "findings.json").exists()
    failures = json.loads((data_dir / "runs" / str(AS_OF) / "failures.json").read_text())
    assert "Findings folder rejected" in json.dumps(failures) and "update_corrections_ledger" in json.dumps(failures)


def test_a_b13_detail_opens_a_plan_and_a_notice_finding_when_children_fail_on_both_sides(tmp_path):
    from iepwatch.corrections import findings

    gen = tmp_path / "g001" / "indicator_b13_detail_2026-11-27.csv"
    gen.parent.mkdir()
    gen.write_text("as_of,school_id,student_id,meeting_id,transition_plan,student_invited,"
                   "transition_purpose_on_notice,meets_b13\n"
                   "2026-11-27,SCH1,S1,M1,N,Y,Y,N\n2026-11-27,SCH1,S2,M2,Y,N,Y,N\n2026-11-27,SCH1,S3,M3,Y,Y,Y,Y\n")
    folder = tmp_path / "findings"
    opened = findings.open_from_generation(folder, "indicator_b13_detail", gen, "F13", "2026-11-20", "300.320(b)",
                                           "EVAL_60_DAY")
    assert opened == {"F13-PLAN": 1, "F13-NOTICE": 1}
    assert (folder / "finding_instances.csv").read_text().splitlines() == [
        "finding_id,student_id,meeting_id,due_date", "F13-PLAN,S1,,", "F13-NOTICE,S2,M2,"]
    gen.write_text(gen.read_text().replace("S1,M1,N,", "S1,M1,Y,"))
    assert findings.open_from_generation(folder, "indicator_b13_detail", gen, "F14", "2026-11-21", "x",
                                         "EVAL_60_DAY") == {"F14": 1}
    assert "F14,2026-11-21,TRANSITION_NOTICE,x," in (folder / "findings.csv").read_text()


def test_prong_2_counts_only_records_dated_after_the_latest_noncompliant_one(district, night, data_dir):
    """L is a date: S2's on-time record due on L itself (2026-08-01, after S1's late one in the
    order) does not count; the one due 2026-08-02 does."""
    first, same_day, next_day = (district.student(f"S{k}") for k in (1, 2, 3))
    district.evaluation(first, consent=date(2026, 6, 2), completed=date(2026, 8, 5), eligibility=date(2026, 8, 5),
                        outcome="not_eligible")    # due 2026-08-01, late
    district.evaluation(same_day, consent=date(2026, 6, 2), completed=date(2026, 7, 20),
                        eligibility=date(2026, 7, 20), outcome="not_eligible")   # due 2026-08-01, on time
    write_findings(data_dir, [finding("F", date(2026, 6, 1), "EVAL_60_DAY")], [])
    night(prong2_records=1)
    f = ledger(data_dir)[0]["F"]
    assert (f["prong2_count"], f["prong2_since"], f["prong2_met_on"]) == (0, date(2026, 8, 1), None)
    district.evaluation(next_day, consent=date(2026, 6, 3), completed=date(2026, 7, 20),
                        eligibility=date(2026, 7, 20), outcome="not_eligible")   # due 2026-08-02, on time
    night(AS_OF + timedelta(days=1), prong2_records=1)
    f, _, v = ledger(data_dir, AS_OF + timedelta(days=1))
    assert (f["F"]["prong2_count"], f["F"]["prong2_met_on"]) == (1, AS_OF + timedelta(days=1))
    assert [r["student_id"] for r in v] == [next_day]
