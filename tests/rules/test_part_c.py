"""PART_C_TRANSITION_BY_3 (300.124(b)): a child referred by Part C has the eligibility decided
and, if eligible, an IEP in effect by the third birthday T; each status and exemption at its
edge. As of 2026-11-27; the reporting window starts 2026-07-01."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from builder import Export

RULE = "PART_C_TRANSITION_BY_3"


def child(ex: Export, birth: date, *, referral: date | None = None, part_c_eligible: date | None = None,
          continued: str = "N") -> str:
    """A toddler referred by Part C (by default six months before the third birthday)."""
    s = ex.student(birth=birth, sped="referred")
    t = date(birth.year + 3, birth.month, 28 if (birth.month, birth.day) == (2, 29) else birth.day)
    ex.add("part_c_transitions", student_id=s, referral_received_date=referral or t - timedelta(days=180),
           part_c_eligible_date=part_c_eligible or t - timedelta(days=400), continued_part_c=continued)
    return s


def served(ex: Export, s: str, *, consent: date, outcome: str = "eligible", decided: date | None = None,
           iep_begins: date | None = None, delay: str | None = None) -> None:
    """The child's initial evaluation and, when eligible, the IEP from the meeting that made it."""
    ex.evaluation(s, consent=consent, completed=decided or consent + timedelta(days=30),
                  eligibility=decided or consent + timedelta(days=30), outcome=outcome, delay=delay)
    if iep_begins:
        m = ex.meeting(s, held=iep_begins - timedelta(days=1), kind="initial")
        ex.add("ieps", iep_id=f"I{s}", student_id=s, meeting_id=m, begin_date=iep_begins,
               end_date=iep_begins + timedelta(days=364), status="active", has_transition_plan="N")


@pytest.mark.parametrize("birth,expected", [
    (date(2024, 1, 11), {"due_soon"}),    # T 2027-01-11: 45 days away, within warn_days (45)
    (date(2024, 1, 12), set()),           # T 2027-01-12: 46 days away, not yet due soon
    (date(2023, 12, 28), {"due_soon"}),   # T 2026-12-28: 31 days
    (date(2023, 11, 27), {"due_soon"}),   # T today: not yet overdue
    (date(2023, 11, 26), {"overdue"}),    # T yesterday
])
def test_open_cases_by_the_third_birthday(district, evaluate, birth, expected):
    s = child(district, birth)
    assert evaluate(district).statuses(RULE, s) == expected


def test_served_on_time_late_not_eligible_and_the_event_is_the_first_iep_after_the_referral(district, evaluate):
    on_time = child(district, date(2023, 9, 1))                     # T 2026-09-01
    served(district, on_time, consent=date(2026, 5, 1), iep_begins=date(2026, 9, 1))
    late = child(district, date(2023, 8, 1))                        # T 2026-08-01
    served(district, late, consent=date(2026, 5, 1), iep_begins=date(2026, 8, 2))
    not_eligible = child(district, date(2023, 9, 10))               # T 2026-09-10, decided the day after
    served(district, not_eligible, consent=date(2026, 6, 1), outcome="not_eligible", decided=date(2026, 9, 11))
    night = evaluate(district)
    assert night.statuses(RULE, on_time) == set()
    assert night.evaluated(RULE, on_time)[0]["event_date"] == date(2026, 9, 1)
    e = night.exception(RULE, late)
    assert (e["status"], e["due_date"], e["event_date"], e["days_overdue"]) == \
        ("late", date(2026, 8, 1), date(2026, 8, 2), 1)
    assert night.exception(RULE, not_eligible)["status"] == "late"


@pytest.mark.parametrize("days_before,status", [(89, "exempt"), (90, "overdue")])
def test_part_c_eligibility_fewer_than_90_days_before_the_birthday_is_exempt(district, evaluate, days_before,
                                                                             status):
    t = date(2026, 10, 1)
    s = child(district, date(2023, 10, 1), referral=t - timedelta(days=days_before),
              part_c_eligible=t - timedelta(days=days_before))
    assert evaluate(district).statuses(RULE, s) == {status}


def test_the_referral_date_stands_in_for_an_empty_part_c_eligibility(district, evaluate):
    t = date(2026, 10, 1)
    s = child(district, date(2023, 10, 1), referral=t - timedelta(days=60))
    district.tables["part_c_transitions"][-1]["part_c_eligible_date"] = None
    assert evaluate(district).statuses(RULE, s) == {"exempt"}


def test_a_parents_delay_refused_services_or_continued_part_c_exempt_and_on_time_wins(district, evaluate):
    delayed = child(district, date(2023, 9, 15))      # T 2026-09-15, IEP 2026-10-01 after a parent's delay
    served(district, delayed, consent=date(2026, 6, 1), iep_begins=date(2026, 10, 1), delay="parent_consent_delay")
    continued = child(district, date(2023, 10, 1), continued="Y")   # overdue, Part C continued
    both = child(district, date(2023, 9, 20), continued="Y")        # exempt, and served on time anyway
    served(district, both, consent=date(2026, 6, 1), iep_begins=date(2026, 9, 1))
    night = evaluate(district)
    assert night.statuses(RULE, delayed) == {"exempt"} and night.statuses(RULE, continued) == {"exempt"}
    assert night.statuses(RULE, both) == set(), "served on time: compliant, whatever exemption it has"


def test_a_third_birthday_on_february_28_for_a_child_born_on_february_29(district, evaluate):
    s = child(district, date(2024, 2, 29))
    e = evaluate(district, as_of=date(2027, 1, 20)).exception(RULE, s)
    assert (e["status"], e["due_date"]) == ("due_soon", date(2027, 2, 28))


def test_a_district_without_the_file_has_no_rows(district, evaluate):
    district.student()   # the export's part_c_transitions.csv has its header only
    assert evaluate(district).evaluated(RULE) == []


def test_an_export_without_the_file_at_all_runs_as_before(district, tmp_path, settings, data_dir):
    import duckdb
    from helpers import run_night_in_process

    s = district.student()
    district.meeting(s, held=date(2025, 10, 1), kind="annual")
    folder = district.write(tmp_path / "export")
    (folder / "part_c_transitions.csv").unlink()
    settings({})
    run_night_in_process(folder, date(2026, 11, 27))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.part_c_transitions").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM facts.rule_results WHERE rule_id = ?", [RULE]).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM compliance.exceptions WHERE rule_id = 'IEP_ANNUAL_REVIEW'"
                           ).fetchone()[0] == 1, "the rest as before"
