"""Timeline rules at their edges: day N on time, day N+1 late; open deadlines; scope; exemptions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from builder import AS_OF, Export

D = AS_OF  # 2026-11-27; the reporting window starts 2026-07-01


def days(n: int) -> timedelta:
    return timedelta(days=n)


def referred(ex: Export, **kw) -> str:
    return ex.student(sped="referred", **kw)


# --- EVAL_60_DAY ---------------------------------------------------------------------------------

@pytest.mark.parametrize("completed_after,expected", [(59, set()), (60, set()), (61, {"late"})])
def test_eval_60_completed_on_day_n_is_on_time_and_n_plus_1_late(district, evaluate, completed_after, expected):
    consent = date(2026, 8, 1)
    s = referred(district)
    district.evaluation(s, consent=consent, completed=consent + days(completed_after), outcome="pending")
    night = evaluate(district)
    assert night.statuses("EVAL_60_DAY", s) == expected
    assert len(night.evaluated("EVAL_60_DAY", s)) == 1, "evaluated once, in the window"
    if expected:
        e = night.exception("EVAL_60_DAY", s)
        assert (e["due_date"], e["event_date"], e["days_overdue"], e["severity"]) == \
            (date(2026, 9, 30), date(2026, 10, 1), 1, "high")


@pytest.mark.parametrize("consent_ago,expected", [
    (45, set()),          # due in 15 days: not yet in the 14-day warning window
    (46, {"due_soon"}),   # due in 14 days
    (60, {"due_soon"}),   # due today: not yet overdue
    (61, {"overdue"}),    # due yesterday
])
def test_eval_60_open_deadline(district, evaluate, consent_ago, expected):
    s = referred(district)
    district.evaluation(s, consent=D - days(consent_ago), outcome="pending")
    night = evaluate(district)
    assert night.statuses("EVAL_60_DAY", s) == expected
    if expected == {"overdue"}:
        assert night.exception("EVAL_60_DAY", s)["days_overdue"] == 1
    if expected == {"due_soon"}:
        assert night.exception("EVAL_60_DAY", s)["severity"] == "medium"


@pytest.mark.parametrize("reason,expected", [
    ("parent_did_not_produce_child", "exempt"), ("transfer_agreed_timeline", "exempt"),
    ("school_break", "overdue"), ("parent_consent_delay", "overdue"),
])
def test_eval_60_exempt_delay_reasons(district, evaluate, reason, expected):
    s = referred(district)
    district.evaluation(s, consent=D - days(90), outcome="pending", delay=reason)
    e = evaluate(district).exception("EVAL_60_DAY", s)
    assert e["status"] == expected
    assert e["severity"] == ("low" if expected == "exempt" else "high")
    assert e["days_overdue"] == 30, "an exempt row keeps the days of the overdue it replaces"


def test_eval_60_late_with_exempt_reason_is_exempt(district, evaluate):
    s = referred(district)
    district.evaluation(s, consent=date(2026, 8, 1), completed=date(2026, 10, 20), outcome="pending",
                        delay="transfer_agreed_timeline")
    e = evaluate(district).exception("EVAL_60_DAY", s)
    assert (e["status"], e["days_overdue"]) == ("exempt", 20), "the days of the late it replaces (due 2026-09-30)"


def test_exempt_reasons_are_a_setting(district, evaluate):
    s = referred(district)
    district.evaluation(s, consent=D - days(90), outcome="pending", delay="school_break")
    night = evaluate(district, rule_settings={"EVAL_60_DAY": {"exempt_delay_reasons": ["school_break"]}})
    assert night.statuses("EVAL_60_DAY", s) == {"exempt"}


def test_eval_days_and_warning_window_are_settings(district, evaluate):
    s = referred(district)
    district.evaluation(s, consent=D - days(50), outcome="pending")
    night = evaluate(district, rule_settings={"EVAL_60_DAY": {"initial_evaluation_days": 45}})
    assert night.exception("EVAL_60_DAY", s)["days_overdue"] == 5


def test_late_event_before_the_window_is_history(district, evaluate):
    s = referred(district)
    district.evaluation(s, consent=date(2026, 3, 1), completed=date(2026, 6, 1), outcome="pending")
    night = evaluate(district)
    assert night.statuses("EVAL_60_DAY", s) == set()


def test_evaluation_without_consent_has_no_clock(district, evaluate):
    s = referred(district)
    district.evaluation(s, consent=None, outcome="pending")
    assert evaluate(district).evaluated("EVAL_60_DAY", s) == []


def test_exited_student_has_no_open_exceptions_but_keeps_late_ones(district, evaluate):
    s = referred(district, status="exited")
    district.evaluation(s, consent=D - days(90), outcome="pending")
    t = referred(district, status="exited")
    district.evaluation(t, consent=date(2026, 8, 1), completed=date(2026, 10, 15), outcome="pending")
    night = evaluate(district)
    assert night.statuses("EVAL_60_DAY", s) == set()
    assert night.statuses("EVAL_60_DAY", t) == {"late"}


# --- IEP_INITIAL_30_DAY --------------------------------------------------------------------------

def newly_eligible(ex: Export, eligibility: date) -> str:
    s = ex.student()
    ex.evaluation(s, consent=eligibility - days(50), completed=eligibility - days(5), eligibility=eligibility)
    return s


@pytest.mark.parametrize("held_after,expected", [(30, set()), (31, {"late"})])
def test_initial_iep_meeting_day_30_and_31(district, evaluate, held_after, expected):
    e = date(2026, 8, 10)
    s = newly_eligible(district, e)
    district.meeting(s, held=e + days(held_after), kind="initial")
    night = evaluate(district)
    assert night.statuses("IEP_INITIAL_30_DAY", s) == expected


@pytest.mark.parametrize("status", ["cancelled", "scheduled"])
def test_cancelled_or_scheduled_meeting_never_satisfies_a_deadline(district, evaluate, status):
    e = D - days(40)
    s = newly_eligible(district, e)
    district.meeting(s, scheduled=e + days(10), kind="initial", status=status)
    night = evaluate(district)
    assert night.statuses("IEP_INITIAL_30_DAY", s) == {"overdue"}
    assert night.exception("IEP_INITIAL_30_DAY", s)["days_overdue"] == 10


def test_initial_iep_needs_an_initial_meeting_and_an_eligible_outcome(district, evaluate):
    e = D - days(40)
    s = newly_eligible(district, e)
    district.meeting(s, held=e + days(5), kind="annual")
    t = district.student()
    district.evaluation(t, consent=e - days(50), completed=e - days(5), eligibility=e, outcome="not_eligible")
    night = evaluate(district)
    assert night.statuses("IEP_INITIAL_30_DAY", s) == {"overdue"}
    assert night.evaluated("IEP_INITIAL_30_DAY", t) == []


def test_initial_iep_due_soon(district, evaluate):
    s = newly_eligible(district, D - days(16))   # due in 14 days
    t = newly_eligible(district, D - days(15))   # due in 15 days
    night = evaluate(district)
    assert night.statuses("IEP_INITIAL_30_DAY", s) == {"due_soon"}
    assert night.statuses("IEP_INITIAL_30_DAY", t) == set()


# --- IEP_ANNUAL_REVIEW ---------------------------------------------------------------------------

@pytest.mark.parametrize("last_ago,expected", [(334, set()), (335, {"due_soon"}), (365, {"due_soon"}),
                                              (366, {"overdue"})])
def test_annual_review_open_deadline(district, evaluate, last_ago, expected):
    s = district.student()
    district.meeting(s, held=D - days(last_ago), kind="annual", notice=False, team=False)
    night = evaluate(district)
    assert night.statuses("IEP_ANNUAL_REVIEW", s) == expected


@pytest.mark.parametrize("basis,as_of,expected", [
    ("365_days", date(2024, 2, 29), set()),          # 2023-03-01 + 365 days = 2024-02-29 (due today)
    ("365_days", date(2024, 3, 1), {"overdue"}),
    ("anniversary", date(2024, 3, 1), set()),        # same month and day: due 2024-03-01
    ("anniversary", date(2024, 3, 2), {"overdue"}),
])
def test_annual_review_leap_year_span_under_both_bases(district, evaluate, basis, as_of, expected):
    s = district.student()
    district.meeting(s, held=date(2023, 3, 1), kind="annual", notice=False, team=False)
    night = evaluate(district, as_of=as_of, rule_settings={"IEP_ANNUAL_REVIEW": {"annual_review_basis": basis}})
    assert night.statuses("IEP_ANNUAL_REVIEW", s) - {"due_soon"} == expected


def test_anniversary_of_feb_29_is_feb_28(district, evaluate):
    s = district.student()
    district.meeting(s, held=date(2024, 2, 29), kind="annual", notice=False, team=False)
    on = evaluate(district, as_of=date(2025, 2, 28), rule_settings={"IEP_ANNUAL_REVIEW": {"annual_review_basis":
                                                                                             "anniversary"}})
    assert on.exception("IEP_ANNUAL_REVIEW", s)["due_date"] == date(2025, 2, 28)


@pytest.mark.parametrize("gap,expected", [(365, set()), (366, {"late"})])
def test_annual_review_late_when_latest_came_after_the_span(district, evaluate, gap, expected):
    s = district.student()
    latest = date(2026, 9, 1)
    district.meeting(s, held=latest - days(gap), kind="annual", notice=False, team=False)
    district.meeting(s, held=latest, kind="annual")
    night = evaluate(district)
    assert night.statuses("IEP_ANNUAL_REVIEW", s) == expected
    if expected:
        e = night.exception("IEP_ANNUAL_REVIEW", s)
        assert (e["event_date"], e["days_overdue"]) == (latest, 1)


def test_amendment_without_review_does_not_reset_the_annual_clock(district, evaluate):
    s = district.student()
    district.meeting(s, held=D - days(400), kind="annual", notice=False, team=False)
    district.meeting(s, held=D - days(30), kind="amendment", reviewed="N")
    district.meeting(s, scheduled=D - days(20), kind="annual", status="cancelled")
    e = evaluate(district).exception("IEP_ANNUAL_REVIEW", s)
    assert (e["status"], e["days_overdue"]) == ("overdue", 35)


def test_amendment_with_review_resets_the_annual_clock(district, evaluate):
    s = district.student()
    district.meeting(s, held=D - days(400), kind="annual", notice=False, team=False)
    district.meeting(s, held=D - days(30), kind="amendment", reviewed="Y")
    # no longer overdue (the clock restarted 30 days ago); the review itself came 370 days after the last: late
    assert evaluate(district).statuses("IEP_ANNUAL_REVIEW", s) == {"late"}


def test_annual_review_only_for_eligible_students(district, evaluate):
    s = district.student(sped="exited_sped")
    district.meeting(s, held=D - days(400), kind="annual", notice=False, team=False)
    assert evaluate(district).evaluated("IEP_ANNUAL_REVIEW", s) == []


# --- REEVALUATION_3_YEAR -------------------------------------------------------------------------

@pytest.mark.parametrize("completed,expected", [
    (date(2023, 11, 28), {"due_soon"}),  # due 2026-11-28: tomorrow
    (date(2023, 11, 27), {"due_soon"}),  # due today
    (date(2023, 11, 26), {"overdue"}),   # due yesterday
    (date(2024, 1, 26), {"due_soon"}),   # due 2027-01-26: in 60 days
    (date(2024, 1, 27), set()),          # due 2027-01-27: in 61 days, outside the warning window
])
def test_reevaluation_three_years_after_latest_evaluation(district, evaluate, completed, expected):
    s = district.student()
    district.evaluation(s, consent=completed - days(40), completed=completed, eligibility=completed)
    assert evaluate(district).statuses("REEVALUATION_3_YEAR", s) == expected


def test_reevaluation_waiver_after_latest_evaluation(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2023, 1, 1), completed=date(2023, 2, 1), eligibility=date(2023, 2, 5),
                        waived=date(2025, 12, 1))
    t = district.student()
    district.evaluation(t, consent=date(2023, 1, 1), completed=date(2023, 2, 1), eligibility=date(2023, 2, 5),
                        waived=date(2023, 1, 15))   # before the evaluation: does not count
    night = evaluate(district)
    assert night.statuses("REEVALUATION_3_YEAR", s) == set()
    assert night.statuses("REEVALUATION_3_YEAR", t) == {"overdue"}


def test_later_reevaluation_restarts_the_clock_and_late_one_is_reported(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2023, 6, 1), completed=date(2023, 7, 1), eligibility=date(2023, 7, 5))
    district.evaluation(s, consent=date(2026, 6, 1), completed=date(2026, 7, 3), eligibility=date(2026, 7, 5),
                        kind="reevaluation")
    night = evaluate(district)
    assert night.statuses("REEVALUATION_3_YEAR", s) == {"late"}
    assert night.exception("REEVALUATION_3_YEAR", s)["days_overdue"] == 2


def test_waiver_moves_the_due_date_to_three_years_after_it(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2022, 10, 1), completed=date(2022, 11, 1), eligibility=date(2022, 11, 5),
                        waived=date(2023, 12, 10))           # due 2026-12-10, not 2025-11-01: due soon (13 days)
    night = evaluate(district)
    e = night.exception("REEVALUATION_3_YEAR", s)
    assert (e["status"], e["due_date"]) == ("due_soon", date(2026, 12, 10))
    assert e["detail"] == "reevaluation due 2026-12-10, 3 years after the written waiver of 2023-12-10"


def test_waiver_covers_one_reevaluation_the_clock_restarts_at_it(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2019, 10, 1), completed=date(2019, 11, 1), eligibility=date(2019, 11, 5),
                        waived=date(2022, 10, 1))            # covers the one due 2022-11-01; next due 2025-10-01
    assert evaluate(district).statuses("REEVALUATION_3_YEAR", s) == {"overdue"}


@pytest.mark.parametrize("outcome", ["eligible", "not_eligible"])
def test_any_completed_reevaluation_restarts_the_clock(district, evaluate, outcome):
    s = district.student()
    district.evaluation(s, consent=date(2020, 1, 1), completed=date(2020, 2, 1), eligibility=date(2020, 2, 5))
    district.evaluation(s, consent=date(2024, 1, 1), completed=date(2024, 1, 26), eligibility=date(2024, 2, 1),
                        kind="reevaluation", outcome=outcome)   # due 2027-01-26: in 60 days
    assert evaluate(district).statuses("REEVALUATION_3_YEAR", s) == {"due_soon"}


def test_an_initial_evaluation_that_found_no_eligibility_starts_no_clock(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2020, 1, 1), completed=date(2020, 2, 1), eligibility=date(2020, 2, 5))
    district.evaluation(s, consent=date(2024, 1, 1), completed=date(2024, 1, 26), eligibility=date(2024, 2, 1),
                        outcome="not_eligible")     # an initial evaluation, not eligible: the 2020 clock stands
    e = evaluate(district).exception("REEVALUATION_3_YEAR", s)
    assert (e["status"], e["due_date"]) == ("overdue", date(2023, 2, 1))


def test_an_initial_evaluation_is_never_a_reevaluation(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2021, 6, 1), completed=date(2021, 7, 1), eligibility=date(2021, 7, 5))
    district.evaluation(s, consent=date(2024, 6, 1), completed=date(2024, 8, 1), eligibility=date(2024, 8, 5))
    night = evaluate(district)       # the second initial evaluation restarts the clock but is not "held late"
    assert night.statuses("REEVALUATION_3_YEAR", s) == set()


def test_a_reevaluation_late_against_a_waiver_moved_due_date(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2020, 6, 1), completed=date(2020, 7, 1), eligibility=date(2020, 7, 5),
                        waived=date(2023, 6, 1))
    district.evaluation(s, consent=date(2026, 6, 1), completed=date(2026, 8, 3), eligibility=date(2026, 8, 5),
                        kind="reevaluation")                  # due 2026-06-01 after the waiver: 63 days late
    e = evaluate(district).exception("REEVALUATION_3_YEAR", s)
    assert (e["status"], e["due_date"], e["event_date"], e["days_overdue"]) == \
        ("late", date(2026, 6, 1), date(2026, 8, 3), 63)


def test_annual_review_counts_only_reviews_of_the_current_eligibility(district, evaluate):
    s = district.student()
    district.meeting(s, held=date(2024, 3, 1), kind="annual", team=False, notice=False)   # an earlier eligibility
    district.evaluation(s, consent=date(2025, 12, 1), completed=date(2026, 1, 10), eligibility=date(2026, 1, 20))
    night = evaluate(district)
    assert night.statuses("IEP_ANNUAL_REVIEW", s) == set(), "no counted review: IEP_INITIAL_30_DAY governs"
    assert not [r for r in night.evaluated("IEP_ANNUAL_REVIEW", s) if r["phase"] == "open"]
    assert night.statuses("IEP_INITIAL_30_DAY", s) == {"overdue"}, "eligible 2026-01-20, no initial meeting"


def test_a_late_review_is_reported_even_when_a_later_review_follows(district, evaluate):
    s = district.student()
    district.meeting(s, held=date(2025, 7, 1), kind="annual", team=False, notice=False)
    late = district.meeting(s, held=date(2026, 7, 10), kind="annual")    # 374 days after: late by 9
    district.meeting(s, held=date(2026, 10, 1), kind="amendment", reviewed="Y")
    night = evaluate(district)
    rows = [e for e in night.exceptions if e["rule_id"] == "IEP_ANNUAL_REVIEW"]
    assert [(e["status"], e["meeting_id"], e["due_date"], e["event_date"], e["days_overdue"]) for e in rows] == \
        [("late", late, date(2026, 7, 1), date(2026, 7, 10), 9)]


def test_no_initial_iep_deadline_when_the_parent_refused_services(district, evaluate):
    s = district.student()
    district.evaluation(s, consent=date(2026, 8, 1), completed=date(2026, 9, 1), eligibility=date(2026, 9, 10))
    t = district.student()
    district.evaluation(t, consent=date(2026, 8, 1), completed=date(2026, 9, 1), eligibility=date(2026, 9, 10))
    district.tables["evaluations"][-1]["services_consent_refused_date"] = date(2026, 9, 12)
    night = evaluate(district)
    assert night.statuses("IEP_INITIAL_30_DAY", s) == {"overdue"}
    assert night.evaluated("IEP_INITIAL_30_DAY", t) == []


# --- PARENT_REQUEST_RESPONSE ---------------------------------------------------------------------

def request(ex: Export, student: str, received: date, in_writing: str = "Y") -> str:
    rid = ex.next_id("R")
    ex.add("parent_requests", request_id=rid, student_id=student, received_date=received, in_writing=in_writing)
    return rid


@pytest.mark.parametrize("held_after,expected", [(30, set()), (31, {"late"})])
def test_parent_request_meeting_day_30_and_31(district, evaluate, held_after, expected):
    s = district.student()
    q = date(2026, 8, 3)
    rid = request(district, s, q)
    district.meeting(s, held=q + days(held_after), kind="parent_request", request_id=rid)
    assert evaluate(district).statuses("PARENT_REQUEST_RESPONSE", s) == expected


def test_parent_request_open_and_settings(district, evaluate):
    s = district.student()
    request(district, s, D - days(31))
    t = district.student()
    request(district, t, D - days(31), in_writing="N")
    night = evaluate(district)
    assert night.statuses("PARENT_REQUEST_RESPONSE", s) == {"overdue"}
    assert night.evaluated("PARENT_REQUEST_RESPONSE", t) == []
    off = evaluate(district, rule_settings={"PARENT_REQUEST_RESPONSE": {"enabled": False}})
    assert off.evaluated("PARENT_REQUEST_RESPONSE") == []
    longer = evaluate(district, rule_settings={"PARENT_REQUEST_RESPONSE": {"parent_request_days": 45}})
    assert longer.statuses("PARENT_REQUEST_RESPONSE", s) == set()


def test_meeting_before_the_request_does_not_answer_it(district, evaluate):
    s = district.student()
    request(district, s, D - days(40))
    district.meeting(s, held=D - days(41), kind="annual")
    assert evaluate(district).statuses("PARENT_REQUEST_RESPONSE", s) == {"overdue"}
