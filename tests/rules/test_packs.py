"""State timeline packs at their edges: each unit day N vs N+1, breaks left out or counted, the
end-of-year provisions, absences, per-school calendars and calendar gaps. Expected dates are
worked out here independently, by walking the calendar day by day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from builder import Export

THANKSGIVING = (date(2026, 11, 23), date(2026, 11, 27))      # Monday to Friday: 5 weekdays
WINTER = (date(2026, 12, 21), date(2027, 1, 1))              # two weeks
YEAR_2026 = (date(2026, 8, 12), date(2027, 6, 4))            # first and last instructional day
YEAR_2027 = (date(2027, 8, 11), date(2028, 6, 2))


def days_between(a: date, b: date):
    d = a
    while d <= b:
        yield d
        d += timedelta(days=1)


def school_days(off=(THANKSGIVING, WINTER), years=(YEAR_2026,)) -> set[date]:
    out = set()
    for first, last in years:
        for d in days_between(first, last):
            if d.isoweekday() <= 5 and not any(a <= d <= b for a, b in off):
                out.add(d)
    return out


def add_calendar(ex: Export, start=date(2026, 7, 1), end=date(2027, 6, 30), school: str | None = None,
                 days: set[date] | None = None, notes: dict | None = None) -> set[date]:
    days = school_days() if days is None else days
    notes = notes or {}
    for d in days_between(start, end):
        note = next((n for (a, b), n in notes.items() if a <= d <= b), None)
        ex.add("school_calendar", school_id=school, calendar_date=d, in_session="Y" if d in days else "N", note=note)
    return days


def nth_after(x: date, n: int, counted) -> date:
    d, k = x, 0
    while k < n:
        d += timedelta(days=1)
        k += counted(d)
    return d


def referred(ex: Export, consent: date, completed=None, outcome="pending", eligibility=None, referral=None,
             delay=None, school="SCH1") -> str:
    s = ex.student(sped="referred", school=school)
    e = ex.evaluation(s, consent=consent, completed=completed, outcome=outcome, eligibility=eligibility, delay=delay)
    if referral:
        ex.tables["evaluations"][-1]["referral_date"] = referral
    assert e
    return s


def night(evaluate, ex, pack: str, as_of=date(2026, 11, 27), **settings):
    return evaluate(ex, as_of=as_of, rule_settings={"state_pack": pack, **settings})


# --- Illinois: 60 school days -------------------------------------------------------------------

@pytest.mark.parametrize("extra,expected", [(0, set()), (1, {"late"})])
def test_illinois_day_60_on_time_day_61_late(district, evaluate, extra, expected):
    days = add_calendar(district)
    consent = date(2026, 9, 1)
    due = nth_after(consent, 60, lambda d: d in days)
    event = due if extra == 0 else min(d for d in days if d > due)
    s = referred(district, consent, completed=event - timedelta(days=3), outcome="not_eligible", eligibility=event)
    n = night(evaluate, district, "illinois", as_of=date(2027, 3, 1))
    assert n.statuses("IL_INITIAL_60_SCHOOL_DAYS", s) == expected
    (row,) = n.evaluated("IL_INITIAL_60_SCHOOL_DAYS", s)
    assert row["due_date"] == due
    assert "2026-11-23..2026-11-29 (Thanksgiving break" not in row["detail"]
    assert "not counting" in row["detail"] and "(district calendar)" in row["detail"]


def test_illinois_with_fewer_than_60_school_days_left_is_due_before_next_year(district, evaluate):
    days = add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)))
    consent = date(2027, 4, 1)
    assert sum(1 for d in days if consent < d <= YEAR_2026[1]) < 60
    s = referred(district, consent)
    e = night(evaluate, district, "illinois", as_of=date(2027, 8, 1)).exception("IL_INITIAL_60_SCHOOL_DAYS", s)
    assert e["due_date"] == YEAR_2027[0] - timedelta(days=1) and e["status"] == "due_soon"
    assert "due the day before the first instructional day of the next school year (2027-08-11)" in e["detail"]


def test_a_calendar_that_stops_before_the_due_date_is_a_gap_warning(district, evaluate):
    add_calendar(district)                                     # 2026-27 only
    s = referred(district, date(2027, 4, 1))
    e = night(evaluate, district, "illinois", as_of=date(2027, 5, 1)).exception("IL_INITIAL_60_SCHOOL_DAYS", s)
    assert (e["status"], e["severity"], e["due_date"]) == ("warning", "low", None)
    assert e["detail"].startswith("calendar gap: the district calendar has no school year 2027-2028")


def test_a_school_without_calendar_rows_uses_the_district_one_and_a_school_with_rows_its_own(district, evaluate):
    add_calendar(district)
    own = add_calendar(district, school="SCH2", days=school_days(off=()))     # no breaks at all
    consent = date(2026, 11, 2)
    a = referred(district, consent, school="SCH1")
    b = referred(district, consent, school="SCH2")
    n = night(evaluate, district, "illinois")
    (ra,) = n.evaluated("IL_INITIAL_60_SCHOOL_DAYS", a)
    (rb,) = n.evaluated("IL_INITIAL_60_SCHOOL_DAYS", b)
    assert rb["due_date"] == nth_after(consent, 60, lambda d: d in own) < ra["due_date"]
    assert "(calendar of school SCH2)" in rb["detail"] and "(district calendar)" in ra["detail"]


# --- California: long breaks left out, referral near the year's end ----------------------------

def test_california_counts_thanksgiving_week_but_not_the_winter_break(district, evaluate):
    add_calendar(district, notes={WINTER: "winter break", THANKSGIVING: "Thanksgiving break"})
    thanks = referred(district, date(2026, 10, 1))     # 60 days: 2026-11-30, across Thanksgiving week
    winter = referred(district, date(2026, 11, 15))    # across the winter break (16 days incl. weekends)
    n = night(evaluate, district, "california")
    (rt,) = n.evaluated("CA_INITIAL_IEP_60", thanks)
    assert rt["due_date"] == date(2026, 11, 30), "five weekdays off is not more than five: counted"
    (rw,) = n.evaluated("CA_INITIAL_IEP_60", winter)
    # the break with its weekends, 2026-12-19..2027-01-03, is 16 days left out
    assert rw["due_date"] == date(2026, 11, 15) + timedelta(days=60 + 16)
    assert "not counting 2026-12-19..2027-01-03 (winter break, 16 days)" in rw["detail"], rw["detail"]


@pytest.mark.parametrize("days_before,special", [(30, True), (31, False)])
def test_california_referral_within_30_days_of_the_last_day(district, evaluate, days_before, special):
    add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)))
    referral = YEAR_2026[1] - timedelta(days=days_before)
    s = referred(district, referral + timedelta(days=2), referral=referral)
    (row,) = night(evaluate, district, "california", as_of=date(2027, 6, 10)).evaluated("CA_INITIAL_IEP_60", s)
    if special:
        assert row["due_date"] == YEAR_2027[0] + timedelta(days=30)
        assert "within 30 days before the last instructional day (2027-06-04)" in row["detail"]
    else:   # the ordinary count, with the summer (a long break) left out
        consent = referral + timedelta(days=2)
        assert row["due_date"] == nth_after(consent, 60, lambda d: not YEAR_2026[1] < d < YEAR_2027[0])
        assert "within 30 days before the last instructional day" not in row["detail"]


def test_california_eligible_outcome_is_met_by_the_initial_meeting(district, evaluate):
    add_calendar(district)
    consent = date(2026, 8, 20)
    s = referred(district, consent, completed=date(2026, 9, 20), outcome="eligible", eligibility=date(2026, 9, 25))
    district.meeting(s, held=date(2026, 10, 19), kind="initial")        # 60 days after consent: on time
    assert night(evaluate, district, "california").statuses("CA_INITIAL_IEP_60", s) == set()


# --- Texas: 45 school days, absences, June 30, the ARD ------------------------------------------

def absences(ex: Export, student: str, dates) -> None:
    for d in dates:
        ex.add("student_absences", student_id=student, absence_date=d)


@pytest.mark.parametrize("absent,extended", [(2, False), (3, True)])
def test_texas_two_absences_do_not_extend_three_do(district, evaluate, absent, extended):
    days = add_calendar(district)
    consent = date(2026, 9, 1)
    s = referred(district, consent)
    absences(district, s, sorted(d for d in days if d > consent)[:absent])
    (row,) = night(evaluate, district, "texas", as_of=date(2026, 9, 10)).evaluated("TX_EVAL_45_SCHOOL_DAYS", s)
    expected = nth_after(consent, 45 + (absent if extended else 0), lambda d: d in days)
    assert row["due_date"] == expected
    assert (f"{absent} absences on school days up to the 45th school day: extended by {absent} school days" if extended
            else f"{absent} absences on school days up to the 45th school day (no extension)") in row["detail"]


@pytest.mark.parametrize("left,june30", [(35, True), (44, True), (45, False), (34, False)])
def test_texas_35_to_44_school_days_left_is_due_june_30(district, evaluate, left, june30):
    days = add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)))
    this_year = sorted(d for d in days if d <= YEAR_2026[1])
    consent = this_year[-left - 1]                  # exactly `left` school days remain after it
    s = referred(district, consent)
    (row,) = night(evaluate, district, "texas", as_of=consent + timedelta(days=1)).evaluated(
        "TX_EVAL_45_SCHOOL_DAYS", s)
    if june30:
        assert row["due_date"] == date(2027, 6, 30) and "due June 30" in row["detail"]
    else:
        assert row["due_date"] == nth_after(consent, 45, lambda d: d in days) and "June 30" not in row["detail"]


def test_texas_june_30_does_not_apply_with_three_absences(district, evaluate):
    days = add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)))
    this_year = sorted(d for d in days if d <= YEAR_2026[1])
    consent = this_year[-40 - 1]
    s = referred(district, consent)
    absences(district, s, this_year[-3:])
    (row,) = night(evaluate, district, "texas", as_of=consent + timedelta(days=1)).evaluated(
        "TX_EVAL_45_SCHOOL_DAYS", s)
    assert row["due_date"] == nth_after(consent, 45 + 3, lambda d: d in days)


def test_texas_ard_landing_in_summer_moves_to_the_first_instructional_day(district, evaluate):
    add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)))
    report = date(2027, 6, 20)                              # + 30 days = 2027-07-20: summer
    s = referred(district, date(2027, 4, 1), completed=report, outcome="eligible", eligibility=date(2027, 6, 25))
    (row,) = night(evaluate, district, "texas", as_of=date(2027, 7, 1)).evaluated("TX_ARD_30", s)
    assert row["due_date"] == YEAR_2027[0]
    assert "2027-07-20 falls in summer" in row["detail"]


# --- Pennsylvania: summer left out ---------------------------------------------------------------

def test_pennsylvania_leaves_the_summer_out(district, evaluate):
    add_calendar(district, end=date(2028, 6, 30), days=school_days(years=(YEAR_2026, YEAR_2027)),
                 notes={(YEAR_2026[1] + timedelta(days=1), YEAR_2027[0] - timedelta(days=1)): "summer break"})
    consent = date(2027, 5, 20)
    s = referred(district, consent)
    (row,) = night(evaluate, district, "pennsylvania", as_of=date(2027, 6, 1)).evaluated("PA_EVAL_60", s)
    summer = (YEAR_2026[1] + timedelta(days=1), YEAR_2027[0] - timedelta(days=1))
    assert row["due_date"] == nth_after(consent, 60, lambda d: not summer[0] <= d <= summer[1])
    assert "summer break" in row["detail"]


def test_pennsylvania_keeps_the_federal_30_day_initial_iep(district, evaluate):
    add_calendar(district)
    s = referred(district, date(2026, 8, 1), completed=date(2026, 9, 1), outcome="eligible",
                 eligibility=date(2026, 9, 10))
    n = night(evaluate, district, "pennsylvania")
    assert n.statuses("IEP_INITIAL_30_DAY", s) == {"overdue"} and not n.evaluated("EVAL_60_DAY")


def test_an_exempt_delay_reason_applies_to_the_packs_first_timeline(district, evaluate):
    add_calendar(district)
    s = referred(district, date(2026, 8, 20), delay="parent_did_not_produce_child")
    assert night(evaluate, district, "illinois", as_of=date(2027, 3, 1)).statuses("IL_INITIAL_60_SCHOOL_DAYS", s) \
        == {"exempt"}


# --- the calendar and absences at the gate -------------------------------------------------------

def gate(district, tmp_path, pack="illinois"):
    """Run the night in process; returns the DATA ERROR message, or None and the quarantined reasons."""
    import duckdb
    from airflow.sdk.exceptions import AirflowFailException
    from helpers import run_night_in_process

    from iepwatch.district import load_config

    try:
        run_night_in_process(district.write(tmp_path / "export"), date(2026, 11, 27))
    except AirflowFailException as e:
        return str(e), None
    con = duckdb.connect(str(load_config().warehouse), read_only=True)
    try:
        return None, {r[0] for r in con.execute("SELECT DISTINCT reason FROM quarantine.rows").fetchall()}
    finally:
        con.close()


def test_a_missing_date_inside_a_calendar_fails_the_load_naming_calendar_and_date(district, tmp_path, settings):
    settings({"rules": {"state_pack": "illinois"}})
    add_calendar(district)
    add_calendar(district, school="SCH2")
    district.tables["school_calendar"] = [r for r in district.tables["school_calendar"]
                                          if not (r["school_id"] == "SCH2" and r["calendar_date"] in
                                                  (date(2026, 12, 3), date(2026, 12, 4)))]
    error, _ = gate(district, tmp_path)
    assert error and "school_calendar.csv: the calendar of school SCH2 misses 2026-12-03" in error


def test_a_duplicate_calendar_date_fails_the_load(district, tmp_path, settings):
    settings({"rules": {"state_pack": "illinois"}})
    add_calendar(district)
    district.add("school_calendar", school_id=None, calendar_date=date(2026, 9, 1), in_session="N")
    error, _ = gate(district, tmp_path)
    assert error and "school_calendar.csv: duplicate primary key in column calendar_date, school_id" in error


def test_an_absence_on_a_non_school_day_is_quarantined(district, tmp_path, settings):
    settings({"rules": {"state_pack": "texas"}, "quality": {"quarantine_threshold_pct": 100}})
    add_calendar(district)
    s = referred(district, date(2026, 9, 1))
    district.add("student_absences", student_id=s, absence_date=date(2026, 9, 2))      # a Wednesday in session
    district.add("student_absences", student_id=s, absence_date=date(2026, 9, 5))      # a Saturday
    error, reasons = gate(district, tmp_path, "texas")
    assert error is None
    assert reasons == {"absence on a day that is not a school day of the student's calendar"}


def test_a_pack_that_counts_school_days_needs_the_calendar(district, tmp_path, settings):
    settings({"rules": {"state_pack": "illinois"}})
    folder = district.write(tmp_path / "export")
    (folder / "school_calendar.csv").unlink()
    (folder / "student_absences.csv").unlink()
    from airflow.sdk.exceptions import AirflowFailException
    from helpers import run_night_in_process

    with pytest.raises(AirflowFailException, match="school_calendar.csv: required by the configured state pack"):
        run_night_in_process(folder, date(2026, 11, 27))


def test_the_federal_pack_needs_neither_optional_file(district, tmp_path, settings):
    settings({})
    folder = district.write(tmp_path / "export")
    (folder / "school_calendar.csv").unlink()
    (folder / "student_absences.csv").unlink()
    from helpers import run_night_in_process

    assert run_night_in_process(folder, date(2026, 11, 27)).slot


@pytest.mark.parametrize("pack,rule", [("california", "CA_INITIAL_IEP_60"), ("illinois", "IL_INITIAL_60_SCHOOL_DAYS"),
                                       ("texas", "TX_EVAL_45_SCHOOL_DAYS"), ("pennsylvania", "PA_EVAL_60")])
def test_each_packs_first_timeline_day_n_on_time_and_n_plus_1_late(district, evaluate, pack, rule):
    add_calendar(district, notes={WINTER: "winter break"})
    consent = date(2026, 11, 2)
    probe = referred(district, consent)
    (open_row,) = night(evaluate, district, pack, as_of=date(2026, 11, 3)).evaluated(rule, probe)
    due = open_row["due_date"]
    assert due and open_row["status"] == "ok"
    for offset, expected in ((0, set()), (1, {"late"})):
        ex = Export.district()
        add_calendar(ex, notes={WINTER: "winter break"})
        event = due + timedelta(days=offset)
        s = referred(ex, consent, completed=event, outcome="not_eligible", eligibility=event)
        assert night(evaluate, ex, pack, as_of=date(2027, 3, 1)).statuses(rule, s) == expected, (offset, due)


def test_the_email_and_the_state_summary_use_the_packs_rules(district, evaluate, smtp, data_dir):
    import csv

    from iepwatch import warehouse
    from iepwatch.digests import send
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    add_calendar(district)
    late = referred(district, date(2026, 9, 1))       # 45 school days: long overdue on 2026-11-27
    n = night(evaluate, district, "texas")
    assert n.statuses("TX_EVAL_45_SCHOOL_DAYS", late) == {"overdue"} and not n.evaluated("EVAL_60_DAY")
    cfg = load_config()
    with warehouse.connect(cfg) as con:
        send.send_all(con, cfg, date(2026, 11, 27))
        d = engine.definitions(cfg)["compliance_summary"]
        engine.check(con, d, engine.suite(d, date(2026, 11, 27), engine.build(con, cfg, date(2026, 11, 27), d)))
        folder = engine.publish(con, cfg, date(2026, 11, 27), d)
    (msg,) = smtp.messages()
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    assert "Initial evaluation report within 45 school days of consent" in text and "45 school days after" in text
    (name,) = [p for p in folder.iterdir() if p.name != "manifest.json"]
    with name.open(newline="") as f:
        district_row = next(r for r in csv.DictReader(f) if r["level"] == "district")
    assert district_row["initial_evaluations_overdue"] == "1", "Indicator 11 counts the pack's initial timeline"


def test_indicator_b11_judges_against_the_packs_timeline(district, evaluate, data_dir):
    """Under Illinois (60 school days), a child whose consent was 2026-09-15 is not yet due on
    2026-11-27 (the federal 60 days ended 2026-11-14): pending, in neither (a) nor (b)."""
    import csv
    import io

    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    add_calendar(district)
    consent = date(2026, 9, 15)
    child = referred(district, consent)
    (row,) = night(evaluate, district, "illinois").evaluated("IL_INITIAL_60_SCHOOL_DAYS", child)
    due = nth_after(consent, 60, lambda d: d in school_days())
    assert row["due_date"] == due and due > date(2026, 11, 27) > consent + timedelta(days=60)
    cfg = load_config(overrides={"rules": {"state_pack": "illinois"}})
    d = engine.definitions(cfg)["indicator_b11_detail"]
    with warehouse.connect(cfg) as con:
        engine.build(con, cfg, date(2026, 11, 27), d)
        folder = engine.publish(con, cfg, date(2026, 11, 27), d)
    (detail,) = csv.DictReader(io.StringIO((folder / "indicator_b11_detail_2026-11-27.csv").read_text()))
    assert (detail["student_id"], detail["due_date"], detail["category"], detail["in_a"]) == \
        (child, due.isoformat(), "pending", "N")


# --- the amended packs: the ARD for every report, June 30 from the consent, gaps, two evaluations --

TWO_YEARS = (YEAR_2026, YEAR_2027)


def two_year_calendar(ex: Export, end=date(2028, 6, 30)) -> set[date]:
    return add_calendar(ex, end=end, days={d for d in school_days(years=TWO_YEARS) if d <= end})


def consent_leaving(days: set[date], left: int) -> date:
    """The school day after which exactly ``left`` school days of the 2026-27 year remain."""
    this_year = sorted(d for d in days if d <= YEAR_2026[1])
    return this_year[-left - 1]


@pytest.mark.parametrize("absent,june30", [(2, True), (3, False)])
def test_texas_ard_after_a_june_30_evaluation_is_due_the_15th_school_day_whenever_the_report(
        district, evaluate, absent, june30):
    """The issue's case: 44 school days left after the consent and 2 absences, the report late
    (in July): the ARD is due on the 15th school day of the next year, not 30 days after the
    report. With 3 absences the June 30 provision never applied: report + 30 days."""
    days = two_year_calendar(district)
    consent = consent_leaving(days, 44)
    report = date(2027, 7, 20)
    s = referred(district, consent, completed=report, outcome="pending")
    absences(district, s, sorted(d for d in days if consent < d <= YEAR_2026[1])[:absent])
    n = night(evaluate, district, "texas", as_of=date(2027, 7, 21))
    (row,) = n.evaluated("TX_ARD_30", s)
    next_year = sorted(d for d in days if d >= YEAR_2027[0])
    if june30:
        assert row["due_date"] == next_year[14] == date(2027, 8, 31)   # 15th school day from 2027-08-11
        assert "due the 15th school day of the next school year" in row["detail"]
        assert n.exception("TX_EVAL_45_SCHOOL_DAYS", s)["due_date"] == date(2027, 6, 30)
    else:
        assert row["due_date"] == report + timedelta(days=30) == date(2027, 8, 19)   # a school day: no move
        assert "June 30" not in row["detail"]


def test_texas_ard_june_30_applies_even_to_a_report_on_time(district, evaluate):
    days = two_year_calendar(district)
    consent = consent_leaving(days, 40)
    report = consent + timedelta(days=20)                   # long before June 30
    s = referred(district, consent, completed=report, outcome="pending")
    (row,) = night(evaluate, district, "texas", as_of=report + timedelta(days=1)).evaluated("TX_ARD_30", s)
    assert row["due_date"] == sorted(d for d in days if d >= YEAR_2027[0])[14]


@pytest.mark.parametrize("outcome,offset,expected", [
    ("eligible", 30, set()), ("eligible", 31, {"late"}),
    ("not_eligible", 30, set()), ("not_eligible", 31, {"late"}),
])
def test_texas_ard_measures_each_outcome_day_30_and_31(district, evaluate, outcome, offset, expected):
    """Eligible: the first held initial meeting on or after the report; not eligible: the
    eligibility determination. Report 2026-10-01 + 30 days = 2026-10-31 (in session)."""
    two_year_calendar(district)
    report = date(2026, 10, 1)
    event = report + timedelta(days=offset)
    s = referred(district, date(2026, 9, 1), completed=report, outcome=outcome,
                 eligibility=event if outcome == "not_eligible" else report + timedelta(days=2))
    if outcome == "eligible":
        district.meeting(s, held=event, kind="initial")
    n = night(evaluate, district, "texas", as_of=date(2026, 12, 15))
    (row,) = n.evaluated("TX_ARD_30", s)
    assert row["due_date"] == date(2026, 10, 31) and row["event_date"] == event
    assert n.statuses("TX_ARD_30", s) == expected


def test_texas_ard_pending_is_open_and_overdue_once_due(district, evaluate):
    two_year_calendar(district)
    report = date(2026, 10, 1)
    s = referred(district, date(2026, 9, 1), completed=report, outcome="pending")
    assert night(evaluate, district, "texas", as_of=date(2026, 10, 31)).statuses("TX_ARD_30", s) == {"due_soon"}
    e = night(evaluate, district, "texas", as_of=date(2026, 11, 1)).exception("TX_ARD_30", s)
    assert (e["status"], e["due_date"], e["days_overdue"]) == ("overdue", date(2026, 10, 31), 1)


def test_texas_ard_gives_no_row_when_services_were_refused(district, evaluate):
    two_year_calendar(district)
    s = referred(district, date(2026, 9, 1), completed=date(2026, 10, 1), outcome="eligible",
                 eligibility=date(2026, 10, 5))
    district.tables["evaluations"][-1]["services_consent_refused_date"] = date(2026, 10, 6)
    assert night(evaluate, district, "texas", as_of=date(2026, 12, 1)).evaluated("TX_ARD_30", s) == []


def test_texas_ard_a_report_plus_30_beyond_the_calendar_is_a_gap(district, evaluate):
    add_calendar(district)                                    # 2026-07-01 .. 2027-06-30
    report = date(2027, 6, 15)                                # + 30 = 2027-07-15: not on the calendar
    s = referred(district, date(2027, 1, 11), completed=report, outcome="pending")
    e = night(evaluate, district, "texas", as_of=date(2027, 6, 20)).exception("TX_ARD_30", s)
    assert (e["status"], e["due_date"]) == ("warning", None)
    assert e["detail"].startswith("calendar gap: the district calendar does not cover 2027-07-15"), e["detail"]


def test_texas_ard_in_summer_with_no_next_year_is_a_gap(district, evaluate):
    add_calendar(district)                                    # ends 2027-06-30, summer from 2027-06-05
    report = date(2027, 5, 20)                                # + 30 = 2027-06-19: summer, next year unknown
    s = referred(district, date(2027, 1, 11), completed=report, outcome="pending")
    e = night(evaluate, district, "texas", as_of=date(2027, 5, 25)).exception("TX_ARD_30", s)
    assert e["due_date"] is None
    assert "ends 2027-06-30, before the first instructional day after 2027-06-19" in e["detail"], e["detail"]


EARLY_END = date(2027, 6, 10)   # a calendar published only to 2027-06-10, its last school day 2027-06-04


@pytest.mark.parametrize("pack,rule", [("texas", "TX_EVAL_45_SCHOOL_DAYS"), ("illinois", "IL_INITIAL_60_SCHOOL_DAYS")])
def test_a_calendar_that_stops_before_june_30_is_a_gap_when_the_year_end_decides(district, evaluate, pack, rule):
    days = add_calendar(district, end=EARLY_END)
    spring = consent_leaving(days, 40)                        # 40 school days listed after it: undecidable
    fall = date(2026, 10, 1)                                  # far more than 60 listed after it: decidable
    a = referred(district, spring)
    b = referred(district, fall)
    n = night(evaluate, district, pack, as_of=spring + timedelta(days=1))
    e = n.exception(rule, a)
    assert (e["status"], e["due_date"]) == ("warning", None)
    assert e["detail"].startswith("calendar gap: the district calendar ends 2027-06-10, before the end of school "
                                  "year 2026-2027 (2027-06-30): its last instructional day is not known"), e["detail"]
    (rb,) = n.evaluated(rule, b)
    assert rb["due_date"] == nth_after(fall, 45 if pack == "texas" else 60, lambda d: d in days)


def test_a_texas_consent_with_3_absences_is_decided_even_on_a_short_calendar(district, evaluate):
    """Three absences already listed: June 30 cannot apply, the ordinary count with its extension does."""
    days = add_calendar(district, end=EARLY_END)
    consent = consent_leaving(days, 30)
    s = referred(district, consent)
    absences(district, s, sorted(d for d in days if d > consent)[:3])
    e = night(evaluate, district, "texas", as_of=consent + timedelta(days=1)).exception("TX_EVAL_45_SCHOOL_DAYS", s)
    assert e["due_date"] is None and "ends 2027-06-10, before the date this due date needs" in e["detail"]


def test_a_consent_before_the_calendar_starts_is_a_gap(district, evaluate):
    add_calendar(district)                                    # starts 2026-07-01
    s = referred(district, date(2026, 6, 20))
    e = night(evaluate, district, "illinois", as_of=date(2026, 8, 1)).exception("IL_INITIAL_60_SCHOOL_DAYS", s)
    assert e["due_date"] is None and e["detail"].startswith("calendar gap: the district calendar does not cover "
                                                            "2026-06-20")


def test_pennsylvania_two_initial_evaluations_keep_the_earliest_due_date(district, evaluate):
    """The issue's case: consents 2026-08-24 and 2026-09-01, both open. 60 days with no summer day
    inside: due 2026-10-23 and 2026-10-31; the exception keeps 2026-10-23."""
    add_calendar(district)
    s = referred(district, date(2026, 8, 24))
    district.evaluation(s, consent=date(2026, 9, 1))
    n = night(evaluate, district, "pennsylvania", as_of=date(2026, 11, 27))
    assert sorted(r["due_date"] for r in n.evaluated("PA_EVAL_60", s)) == [date(2026, 10, 23), date(2026, 10, 31)]
    e = n.exception("PA_EVAL_60", s)
    assert (e["status"], e["due_date"], e["days_overdue"]) == ("overdue", date(2026, 10, 23), 35)


def test_texas_two_late_evaluations_keep_the_earliest_due_date(district, evaluate):
    days = add_calendar(district)
    first, second = date(2026, 8, 20), date(2026, 8, 24)
    s = referred(district, first, completed=date(2026, 11, 20))
    district.evaluation(s, consent=second, completed=date(2026, 11, 25))
    e = night(evaluate, district, "texas", as_of=date(2026, 11, 27)).exception("TX_EVAL_45_SCHOOL_DAYS", s)
    assert e["due_date"] == nth_after(first, 45, lambda d: d in days) and e["status"] == "late"


def test_illinois_keeps_the_federal_30_day_initial_iep(district, evaluate):
    add_calendar(district)
    s = referred(district, date(2026, 8, 20), completed=date(2026, 9, 20), outcome="eligible",
                 eligibility=date(2026, 9, 25))
    e = night(evaluate, district, "illinois").exception("IEP_INITIAL_30_DAY", s)
    assert (e["status"], e["due_date"]) == ("overdue", date(2026, 10, 25))


def test_california_referral_provision_only_when_its_due_date_is_after_the_consent(district, evaluate):
    """Referral 2027-05-25 (10 days before the last day 2027-06-04): the provision's date is
    2027-08-11 + 30 = 2027-09-10. A consent on 2027-09-20 is after it: the ordinary 60-day count
    from the consent applies; a consent on 2027-06-01 is before it: 2027-09-10."""
    days = two_year_calendar(district)
    referral = date(2027, 5, 25)
    late = referred(district, date(2027, 9, 20), referral=referral)
    early = referred(district, date(2027, 6, 1), referral=referral)
    n = night(evaluate, district, "california", as_of=date(2027, 9, 21))
    (rl,) = n.evaluated("CA_INITIAL_IEP_60", late)
    (re_,) = n.evaluated("CA_INITIAL_IEP_60", early)
    assert re_["due_date"] == date(2027, 9, 10)
    long_breaks = {d for d in days_between(date(2027, 11, 1), date(2028, 1, 31))
                   if d not in days and any(a <= d <= b for a, b in ((date(2027, 12, 18), date(2028, 1, 2)),))}
    assert rl["due_date"] == nth_after(date(2027, 9, 20), 60, lambda d: d not in long_breaks)
    assert "is not after the consent: the ordinary count applies" in rl["detail"]


def test_california_a_referral_before_the_calendar_is_a_gap(district, evaluate):
    add_calendar(district)
    s = referred(district, date(2026, 8, 20), referral=date(2026, 6, 1))
    e = night(evaluate, district, "california", as_of=date(2026, 9, 1)).exception("CA_INITIAL_IEP_60", s)
    assert e["due_date"] is None and e["detail"].startswith("calendar gap: the district calendar does not cover "
                                                            "2026-06-01")


def test_a_calendar_gap_is_a_finding_in_the_extracts_and_the_nights_warnings(district, evaluate, data_dir):
    """A gap never fails the state reports: the student list carries it as `calendar gap` with an
    empty due date, B11 counts it apart, and the night's warnings name the calendar and the dates."""
    import csv
    import io

    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.extracts import engine
    from iepwatch.ingest import load, sources
    from iepwatch.tasks import iep_nightly

    days = add_calendar(district, end=EARLY_END)
    consent = consent_leaving(days, 40)
    child = referred(district, consent)
    as_of = consent + timedelta(days=1)
    night(evaluate, district, "texas", as_of=as_of)
    cfg = load_config()
    with warehouse.connect(cfg, read_only=True) as con:
        slot = load.published_slot(con)
    iep_nightly.evaluate_rules(iep_nightly.Night(as_of, slot=slot))      # the task body: its warnings
    (warning,) = sources.night_warnings(cfg, as_of)
    assert warning.startswith("calendar gap: 1 due date cannot be computed from the district calendar "
                              "(2026-07-01..2027-06-10): it lacks dates after 2027-06-10 (up to 2027-06-30)"), warning
    files = {}
    with warehouse.connect(cfg) as con:
        for name in ("compliance_student_list", "indicator_b11_detail", "indicator_b11"):
            d = engine.definitions(cfg)[name]
            engine.check(con, d, engine.suite(d, as_of, engine.build(con, cfg, as_of, d)))
            files[name] = next(p for p in engine.publish(con, cfg, as_of, d).iterdir() if p.suffix == ".csv")
    rows = list(csv.DictReader(io.StringIO(files["compliance_student_list"].read_text())))
    (row,) = [r for r in rows if r["student_id"] == child and r["timeline"] == "initial evaluation"]
    assert (row["category"], row["due_date"]) == ("calendar gap", "")
    (b11,) = csv.DictReader(io.StringIO(files["indicator_b11_detail"].read_text()))
    assert (b11["category"], b11["in_a"], b11["in_b"], b11["due_date"]) == ("calendar_gap", "N", "N", "")
    district_row = next(r for r in csv.DictReader(io.StringIO(files["indicator_b11"].read_text()))
                        if r["level"] == "district")
    assert (district_row["calendar_gap"], district_row["consent_received"], district_row["pending"]) == ("1", "0", "0")


@pytest.mark.parametrize("pack,built", [("federal", False), ("california", True), ("illinois", False),
                                        ("texas", False), ("pennsylvania", False)])
def test_a_districts_formats_follow_its_state(pack, built, settings):
    from iepwatch.district import load_config
    from iepwatch.errors import ConfigError
    from iepwatch.extracts import engine

    settings({"rules": {"state_pack": pack}})
    names = set(engine.definitions(load_config()))
    assert ("calpads_sped_meetings" in names) == built
    assert {"compliance_student_list", "compliance_summary", "indicator_b11", "indicator_b11_detail",
            "indicator_b13", "indicator_b13_detail"} <= names
    added = engine.definitions(load_config(overrides={"extracts": {"add_formats": ["calpads_sped_meetings"],
                                                                   "drop_formats": ["indicator_b13_detail"]}}))
    assert "calpads_sped_meetings" in added and "indicator_b13_detail" not in added
    with pytest.raises(ConfigError, match="extracts: unknown format 'calpad'"):
        engine.definitions(load_config(overrides={"extracts": {"drop_formats": ["calpad"]}}))


def test_a_districts_own_pack_names_its_formats(settings, tmp_path):
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "oh_list.yaml").write_text(engine.DEFINITIONS.joinpath("compliance_student_list.yaml").read_text()
                                       .replace("name: compliance_student_list", "name: oh_list"))
    own = {"replaces": [], "rules": {}, "formats": ["oh_list"]}
    settings({"rules": {"state_pack": "ohio", "packs": {"ohio": own}}, "extracts": {"definitions_dir": str(defs)}})
    assert "oh_list" in engine.definitions(load_config())
    settings({"rules": {"packs": {"ohio": own}}, "extracts": {"definitions_dir": str(defs)}})
    assert "oh_list" not in engine.definitions(load_config()), "another pack's format is not built"


def test_the_data_team_is_told_of_a_calendar_gap_once_a_night(district, tmp_path, settings, smtp):
    from helpers import run_night_in_process

    settings({"rules": {"state_pack": "illinois"}})
    days = add_calendar(district, end=EARLY_END)
    referred(district, consent_leaving(days, 40))
    as_of = consent_leaving(days, 40) + timedelta(days=1)
    folder = district.write(tmp_path / "export")
    run_night_in_process(folder, as_of, emails=True)
    run_night_in_process(folder, as_of, emails=True)           # a re-run: no second notice
    notices = [m for m in smtp.messages() if m["To"] == "data-team@example.org"]
    assert len(notices) == 1
    assert notices[0]["Subject"] == f"[iepwatch] Demo Unified School District: 1 warning for the night of {as_of}"
    body = notices[0].get_body(("html",)).get_content()
    assert "calendar gap: 1 due date cannot be computed from the district calendar (2026-07-01..2027-06-10)" in body
