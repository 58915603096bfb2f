"""Meeting and plan rules at their edges: team roles, excusal variants, notices, transition age."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from builder import AS_OF

HELD = date(2026, 10, 15)   # in the reporting window (from 2026-07-01)
TEAM = {"TEAM_PARENT", "TEAM_GENERAL_ED_TEACHER", "TEAM_SPECIAL_ED_TEACHER", "TEAM_LEA_REPRESENTATIVE",
        "TEAM_EVALUATION_INTERPRETER", "EXCUSAL_INVALID"}
MEETING_RULES = TEAM | {"NOTICE_MISSING", "NOTICE_LEAD_TIME", "NOTICE_CONTENT", "TRANSITION_NOTICE",
                        "TRANSITION_STUDENT_ABSENT"}


def meeting_without(ex, role: str | None = None, *, birth="2015-03-01", regular="Y", **kw):
    """A held annual meeting in the window with the full team except ``role``."""
    s = ex.student(birth=birth, regular=regular)
    m = ex.meeting(s, held=HELD, kind="annual", team=False, **kw)
    school = "1"
    people = {"parent": ("guardian", f"G{s}"), "general_education_teacher": ("staff", f"T{school}1"),
              "special_education_teacher": ("staff", f"T{school}2"), "lea_representative": ("staff", f"T{school}3"),
              "evaluation_interpreter": ("staff", f"T{school}4")}
    for r, (ptype, pid) in people.items():
        if r != role:
            ex.participant(m, ptype, pid, r)
    return s, m


def failing(night, meeting) -> set[str]:
    return {e["rule_id"] for e in night.exceptions if e["meeting_id"] == meeting}


def test_full_team_with_a_good_notice_breaks_no_meeting_rule(district, evaluate):
    s, m = meeting_without(district)
    night = evaluate(district)
    assert failing(night, m) == set()
    evaluated = {r["rule_id"] for r in night.results if r["meeting_id"] == m}
    assert evaluated == MEETING_RULES - {"TRANSITION_NOTICE", "TRANSITION_STUDENT_ABSENT"}


@pytest.mark.parametrize("role,rule,words", [
    ("general_education_teacher", "TEAM_GENERAL_ED_TEACHER", "no general education teacher attended; no excusal"),
    ("special_education_teacher", "TEAM_SPECIAL_ED_TEACHER", "no special education teacher attended; no excusal"),
    ("lea_representative", "TEAM_LEA_REPRESENTATIVE", "no LEA representative attended; no excusal"),
    ("evaluation_interpreter", "TEAM_EVALUATION_INTERPRETER",
     "no person who can interpret evaluation results attended; no excusal"),
])
def test_missing_team_member(district, evaluate, role, rule, words):
    s, m = meeting_without(district, role)
    night = evaluate(district)
    assert failing(night, m) == {rule}
    e = night.exception(rule, s)
    assert (e["status"], e["severity"], e["meeting_id"], e["event_date"], e["detail"]) == \
        ("violation", "high", m, HELD, words)


def test_absent_member_row_is_not_attendance(district, evaluate):
    s, m = meeting_without(district, "lea_representative")
    district.participant(m, "staff", "T13", "lea_representative", attendance="absent")
    assert failing(evaluate(district), m) == {"TEAM_LEA_REPRESENTATIVE"}


def test_general_ed_teacher_not_required_outside_regular_education(district, evaluate):
    s, m = meeting_without(district, "general_education_teacher", regular="N")
    night = evaluate(district)
    assert failing(night, m) == set()
    assert night.evaluated("TEAM_GENERAL_ED_TEACHER", s) == []


def test_one_person_in_two_roles(district, evaluate):
    s, m = meeting_without(district, "evaluation_interpreter")
    district.participant(m, "staff", "T12", "evaluation_interpreter")   # the special-ed teacher again
    assert failing(evaluate(district), m) == set()


@pytest.mark.parametrize("attempts,expected", [(0, {"TEAM_PARENT"}), (1, {"TEAM_PARENT"}), (2, set())])
def test_parent_absent_with_documented_attempts(district, evaluate, attempts, expected):
    s, m = meeting_without(district, "parent")
    district.participant(m, "guardian", f"G{s}", "parent", attendance="absent")
    for k in range(attempts):
        district.add("parent_contact_attempts", attempt_id=f"A{k}", meeting_id=m, attempt_date=HELD - timedelta(5 + k),
                     method="phone")
    night = evaluate(district)
    assert failing(night, m) == expected
    if expected:
        assert night.exception("TEAM_PARENT", s)["detail"] == \
            f"no parent attended; {attempts} documented contact attempt{'' if attempts == 1 else 's'} (2 required)"


def test_contact_attempt_after_the_meeting_does_not_count(district, evaluate):
    s, m = meeting_without(district, "parent")
    district.add("parent_contact_attempts", attempt_id="A1", meeting_id=m, attempt_date=HELD - timedelta(3),
                 method="phone")
    district.add("parent_contact_attempts", attempt_id="A2", meeting_id=m, attempt_date=HELD + timedelta(1),
                 method="letter")
    assert failing(evaluate(district), m) == {"TEAM_PARENT"}


@pytest.mark.parametrize("mode", ["phone", "video", "in_person"])
def test_parent_by_phone_or_video_attends(district, evaluate, mode):
    s, m = meeting_without(district, "parent")
    district.participant(m, "guardian", f"G{s}", "parent", mode=mode)
    assert failing(evaluate(district), m) == set()


BEFORE, AFTER = HELD - timedelta(3), HELD + timedelta(1)


@pytest.mark.parametrize("excusal,problem", [
    (dict(excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=BEFORE, excusal_area_discussed="N"),
     None),
    (dict(excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=BEFORE, excusal_area_discussed="Y",
          written_input_date=BEFORE), None),
    (dict(excusal_parent_consent_date=HELD, excusal_district_agreement_date=HELD, excusal_area_discussed="Y",
          written_input_date=HELD), None),                                   # on the meeting date is in time
    (dict(excusal_district_agreement_date=BEFORE, excusal_area_discussed="N"), "no written parent consent"),
    (dict(excusal_parent_consent_date=AFTER, excusal_district_agreement_date=BEFORE, excusal_area_discussed="N"),
     "parent consent after the meeting"),
    (dict(excusal_parent_consent_date=BEFORE, excusal_area_discussed="N"), "no district agreement"),
    (dict(excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=BEFORE, excusal_area_discussed="Y"),
     "area discussed without written input"),
    (dict(excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=BEFORE, excusal_area_discussed="Y",
          written_input_date=AFTER), "written input after the meeting"),
])
def test_excusal_variants(district, evaluate, excusal, problem):
    s, m = meeting_without(district, "general_education_teacher")
    district.participant(m, "staff", "T11", "general_education_teacher", attendance="excused", **excusal)
    night = evaluate(district)
    if problem is None:
        assert failing(night, m) == set()
    else:
        # an invalidly excused member gives EXCUSAL_INVALID only, not also the TEAM_ rule of that role
        assert failing(night, m) == {"EXCUSAL_INVALID"}
        assert night.exception("EXCUSAL_INVALID", s)["detail"] == \
            f"invalid excusal: general education teacher ({problem})"


def drop(ex, meeting: str, role: str) -> None:
    ex.tables["meeting_participants"] = [p for p in ex.tables["meeting_participants"]
                                         if not (p["meeting_id"] == meeting and p["team_role"] == role)]


def test_excusal_invalid_is_one_row_naming_each_role(district, evaluate):
    s, m = meeting_without(district, "general_education_teacher")
    drop(district, m, "lea_representative")
    district.participant(m, "staff", "T11", "general_education_teacher", attendance="excused")
    district.participant(m, "staff", "T23", "lea_representative", attendance="excused",
                         excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=AFTER)
    e = evaluate(district).exception("EXCUSAL_INVALID", s)
    assert e["detail"] == ("invalid excusal: LEA representative (district agreement after the meeting); "
                           "general education teacher (no written parent consent, no district agreement)")


def test_an_excused_second_member_beside_one_who_attended_is_no_excusal(district, evaluate):
    s, m = meeting_without(district)                                   # the LEA representative T13 attended
    district.participant(m, "staff", "T23", "lea_representative", attendance="excused")   # no paperwork at all
    assert failing(evaluate(district), m) == set()


@pytest.mark.parametrize("role", ["student", "related_service_provider", "advocate"])
def test_an_excused_member_outside_a2_a5_is_simply_not_attending(district, evaluate, role):
    s, m = meeting_without(district)
    district.participant(m, "other", f"X{role}", role, attendance="excused")
    assert failing(evaluate(district), m) == set()


@pytest.mark.parametrize("attempts,expected", [(0, {"TEAM_PARENT"}), (2, set())])
def test_an_excused_parent_is_not_attending_and_never_an_excusal(district, evaluate, attempts, expected):
    s, m = meeting_without(district, "parent")
    district.participant(m, "guardian", f"G{s}", "parent", attendance="excused",
                         excusal_parent_consent_date=BEFORE, excusal_district_agreement_date=BEFORE,
                         excusal_area_discussed="N")
    for i in range(attempts):
        district.add("parent_contact_attempts", attempt_id=f"A{i}", meeting_id=m, attempt_date=BEFORE,
                     method="phone")
    assert failing(evaluate(district), m) == expected


def test_a_general_ed_teacher_who_is_not_required_is_never_excused(district, evaluate):
    s, m = meeting_without(district, "general_education_teacher", regular="N")
    district.participant(m, "staff", "T11", "general_education_teacher", attendance="excused")   # no paperwork
    night = evaluate(district)
    assert failing(night, m) == set()
    assert not night.evaluated("TEAM_GENERAL_ED_TEACHER", s)


def test_contact_attempts_count_only_for_their_own_meeting(district, evaluate):
    s, m = meeting_without(district, "parent")
    other = district.meeting(s, held=HELD - timedelta(60), kind="amendment")
    for i in range(3):
        district.add("parent_contact_attempts", attempt_id=f"A{i}", meeting_id=other, attempt_date=BEFORE,
                     method="letter")
    assert failing(evaluate(district), m) == {"TEAM_PARENT"}


# --- notices -------------------------------------------------------------------------------------

def test_meeting_without_notice_gets_notice_missing_only(district, evaluate):
    s, m = meeting_without(district, notice=False, birth="2009-01-01")   # a transition meeting too
    district.notice(m, sent=HELD + timedelta(2))                          # after the meeting: ignored
    district.participant(m, "student", s, "student")
    night = evaluate(district)
    assert failing(night, m) == {"NOTICE_MISSING"}


@pytest.mark.parametrize("lead,waived,expected", [(10, "N", set()), (9, "N", {"NOTICE_LEAD_TIME"}), (3, "Y", set())])
def test_notice_lead_time(district, evaluate, lead, waived, expected):
    s, m = meeting_without(district, notice=False)
    district.notice(m, sent=HELD - timedelta(lead), parent_waived_notice_period=waived)
    night = evaluate(district)
    assert failing(night, m) == expected
    if expected:
        assert night.exception("NOTICE_LEAD_TIME", s)["detail"] == "notice sent 9 days before; 10 required"


def test_lead_time_uses_the_earliest_notice_and_content_the_latest(district, evaluate):
    s, m = meeting_without(district, notice=False)
    district.notice(m, sent=HELD - timedelta(20), states_time="N", states_location="N")
    district.notice(m, sent=HELD - timedelta(2))
    night = evaluate(district)
    assert failing(night, m) == set()
    t, n = meeting_without(district, notice=False)
    district.notice(n, sent=HELD - timedelta(20))
    district.notice(n, sent=HELD - timedelta(2), states_time="N", states_location="N")
    night = evaluate(district)
    assert failing(night, n) == {"NOTICE_CONTENT"}
    assert night.exception("NOTICE_CONTENT", t)["detail"] == "notice does not state: time, location"


def test_notice_lead_days_is_a_setting(district, evaluate):
    s, m = meeting_without(district, notice=False)
    district.notice(m, sent=HELD - timedelta(12))
    night = evaluate(district, rule_settings={"NOTICE_LEAD_TIME": {"notice_lead_days": 14}})
    assert night.exception("NOTICE_LEAD_TIME", s)["detail"] == "notice sent 12 days before; 14 required"


# --- transition age ------------------------------------------------------------------------------

def transition_meeting(ex, birth, student_attends=True, **notice):
    s, m = meeting_without(ex, notice=False, birth=birth)
    ex.notice(m, sent=HELD - timedelta(14), **{"states_transition_purpose": "Y", "invites_student": "Y", **notice})
    if student_attends:
        ex.participant(m, "student", s, "student")
    return s, m


@pytest.mark.parametrize("birth,is_transition", [
    (date(2010, 10, 15), True),    # 16 on the meeting date
    (date(2010, 10, 16), True),    # 15 at the meeting, 16 the next day
    (date(2011, 4, 1), True),      # 15 at the meeting, 16 before the IEP would end (2027-10-15)
    (date(2011, 10, 14), True),    # 16 the day before it would end
    (date(2011, 10, 16), False),   # 16 the day after it would end
    (date(2012, 1, 1), False),
])
def test_transition_age_boundary(district, evaluate, birth, is_transition):
    s, m = transition_meeting(district, birth, student_attends=False, states_transition_purpose="N")
    night = evaluate(district)
    assert failing(night, m) == ({"TRANSITION_NOTICE", "TRANSITION_STUDENT_ABSENT"} if is_transition else set())
    if is_transition:
        assert night.exception("TRANSITION_STUDENT_ABSENT", s)["status"] == "warning"
        assert night.exception("TRANSITION_STUDENT_ABSENT", s)["severity"] == "low"


def test_includes_transition_flag_makes_a_transition_meeting(district, evaluate):
    s = district.student(birth="2014-01-01")
    m = district.meeting(s, held=HELD, kind="annual", transition="Y")
    assert failing(evaluate(district), m) == {"TRANSITION_NOTICE", "TRANSITION_STUDENT_ABSENT"}


@pytest.mark.parametrize("purpose,invites,detail", [
    ("N", "Y", "transition meeting notice does not state the transition purpose"),
    ("Y", "N", "transition meeting notice does not invite the student"),
    ("Y", "Y", None),
])
def test_transition_notice(district, evaluate, purpose, invites, detail):
    s, m = transition_meeting(district, date(2009, 5, 5), states_transition_purpose=purpose, invites_student=invites)
    night = evaluate(district)
    assert failing(night, m) == ({"TRANSITION_NOTICE"} if detail else set())
    if detail:
        assert night.exception("TRANSITION_NOTICE", s)["detail"] == detail


def test_transition_age_is_a_setting(district, evaluate):
    s, m = transition_meeting(district, date(2012, 6, 1), student_attends=False)
    assert failing(evaluate(district), m) == set()
    assert failing(evaluate(district, rule_settings={"transition_age": 14}), m) == {"TRANSITION_STUDENT_ABSENT"}


def test_meeting_before_the_reporting_window_is_not_checked(district, evaluate):
    s = district.student()
    m = district.meeting(s, held=date(2026, 6, 30), kind="annual", team=False, notice=False)
    night = evaluate(district)
    assert failing(night, m) == set()
    assert [r for r in night.results if r["meeting_id"] == m] == []
    later = evaluate(district, rule_settings={"school_year_start": "06-01"})
    assert "NOTICE_MISSING" in failing(later, m)


def test_exited_students_meeting_violations_are_still_reported(district, evaluate):
    s = district.student(status="exited")
    m = district.meeting(s, held=HELD, kind="annual", notice=False)
    assert failing(evaluate(district), m) == {"NOTICE_MISSING"}


# --- plan rules ----------------------------------------------------------------------------------

def iep(ex, student, meeting, begin, end, status="active", plan="N"):
    ex.add("ieps", iep_id=ex.next_id("P"), student_id=student, meeting_id=meeting, begin_date=begin, end_date=end,
           status=status, has_transition_plan=plan)


@pytest.mark.parametrize("birth,plan,expected", [
    (date(2010, 1, 1), "N", {"violation"}),     # already 16
    (date(2011, 9, 1), "N", {"violation"}),     # turns 16 on 2027-09-01, before the IEP ends 2027-10-14
    (date(2011, 10, 14), "N", {"violation"}),   # turns 16 on the IEP's last day
    (date(2011, 10, 15), "N", set()),           # turns 16 the day after it ends
    (date(2010, 1, 1), "Y", set()),
])
def test_transition_plan(district, evaluate, birth, plan, expected):
    s = district.student(birth=birth)
    m = district.meeting(s, held=HELD, kind="annual")
    iep(district, s, m, HELD, date(2027, 10, 14), plan=plan)
    night = evaluate(district)
    assert night.statuses("TRANSITION_PLAN", s) == expected
    if expected:
        assert night.exception("TRANSITION_PLAN", s)["meeting_id"] is None


def test_transition_plan_only_for_the_active_iep_of_students_in_scope(district, evaluate):
    s = district.student(birth=date(2009, 1, 1))
    m = district.meeting(s, held=HELD, kind="annual")
    iep(district, s, m, date(2025, 10, 1), date(2026, 9, 30))                    # ended
    iep(district, s, m, HELD, date(2027, 10, 14), status="draft")
    t = district.student(birth=date(2009, 1, 1), status="exited")
    n = district.meeting(t, held=HELD, kind="annual")
    iep(district, t, n, HELD, date(2027, 10, 14))
    night = evaluate(district)
    assert night.statuses("TRANSITION_PLAN", s) == set()
    assert night.statuses("TRANSITION_PLAN", t) == set()


@pytest.mark.parametrize("begin,status,expected", [
    (HELD - timedelta(1), "active", {"warning"}), (HELD, "active", set()),
    (HELD - timedelta(5), "draft", set()), (HELD - timedelta(5), "superseded", {"warning"}),
])
def test_iep_dated_before_meeting(district, evaluate, begin, status, expected):
    s = district.student()
    m = district.meeting(s, held=HELD, kind="annual")
    iep(district, s, m, begin, begin + timedelta(364), status=status, plan="Y")
    night = evaluate(district)
    assert night.statuses("IEP_DATED_BEFORE_MEETING", s, m) == expected


# --- history -------------------------------------------------------------------------------------

def test_first_detected_on_is_kept_across_nights_and_resolved_exceptions_leave(district, evaluate):
    s, m = meeting_without(district, "lea_representative")
    t = district.student(sped="referred")
    district.evaluation(t, consent=AS_OF - timedelta(50), outcome="pending")   # due soon, then overdue
    first = evaluate(district)
    assert first.exception("TEAM_LEA_REPRESENTATIVE", s)["first_detected_on"] == AS_OF
    assert first.exception("EVAL_60_DAY", t)["status"] == "due_soon"
    nxt = AS_OF + timedelta(days=11)
    second = evaluate(district, as_of=nxt)
    assert second.exception("TEAM_LEA_REPRESENTATIVE", s)["first_detected_on"] == AS_OF
    e = second.exception("EVAL_60_DAY", t)
    assert (e["status"], e["first_detected_on"]) == ("overdue", AS_OF)
    # the LEA representative's attendance is recorded late: the violation is resolved on the third night
    district.participant(m, "staff", "T13", "lea_representative")
    third = evaluate(district, as_of=nxt + timedelta(days=1))
    assert third.statuses("TEAM_LEA_REPRESENTATIVE", s) == set()
    assert [(r["rule_id"], r["student_id"], r["last_status"], r["first_detected_on"]) for r in third.resolved] == \
        [("TEAM_LEA_REPRESENTATIVE", s, "violation", AS_OF)]
    # re-running the same night on the same data gives the same rows
    again = evaluate(district, as_of=nxt + timedelta(days=1))
    assert again.exceptions == third.exceptions and again.resolved == third.resolved
