"""The federal rules on generated districts, against an independent evaluation
(tests/rules/federal_reference.py): every exception of the annual review, the reevaluation, the
Part C transition, the parent request, the meeting rules and the plan rules, row for row.

The demo generator's district is then shaken (``shake``): dates moved to within a day or two of
the rules' edges (the 16th birthday at a meeting and a year after it, notices 9 to 11 days
ahead, excusal papers dated the day before, of or after the meeting, reviews 365 and 366 days
apart, third birthdays 89 to 91 days after Part C eligibility), flags and statuses flipped, so
that every reading of the rules is tried on both sides of its line. Two of the nights move every
number of these rules from its default (a school year from August 15, transition at 14, reviews
on the anniversary, reevaluations every 2 years, ...), the edges moved with them."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from federal_reference import DEFAULTS, Settings, add_years, next_review
from helpers import read_records, write_records

STUDENTS = 1_500
DAY = timedelta(days=1)


def shake(folder: Path, as_of: date, seed: int, st: Settings = DEFAULTS) -> None:
    """Move the export's dates to the edges of the rules under ``st`` and flip its flags (see the
    module's text)."""
    rnd = random.Random(seed)
    t = {name: read_records(folder / f"{name}.csv") for name in (
        "students", "meetings", "meeting_participants", "meeting_notices", "parent_contact_attempts",
        "evaluations", "ieps", "part_c_transitions", "parent_requests")}
    fields = {name: list(rows[0]) for name, rows in t.items()}
    iso, day = date.isoformat, date.fromisoformat

    def near(d: date, span: int = 2) -> str:
        return iso(d + rnd.randint(-span, span) * DAY)

    def flip(v: str) -> str:
        return "N" if v == "Y" else "Y"

    meeting = {m["meeting_id"]: m for m in t["meetings"]}
    for m in t["meetings"]:
        if m["status"] == "held" and rnd.random() < 0.15:
            m["iep_reviewed"] = flip(m["iep_reviewed"])
        if rnd.random() < 0.1:
            m["includes_transition"] = flip(m["includes_transition"])
        if m["status"] == "held" and rnd.random() < 0.05:
            m["status"], m["held_date"] = rnd.choice(["cancelled", "scheduled"]), ""
    by_student: dict[str, list[date]] = {}
    for m in t["meetings"]:
        if m["held_date"]:
            by_student.setdefault(m["student_id"], []).append(day(m["held_date"]))
    reviews = {}
    for m in sorted(t["meetings"], key=lambda m: m["held_date"]):   # a review 364 to 366 days after the one before
        if m["held_date"] and m["iep_reviewed"] == "Y":
            prev = reviews.get(m["student_id"])
            if prev and rnd.random() < 0.3 and add_years(prev, 1) < as_of:
                m["held_date"] = m["scheduled_date"] = near(next_review(prev, st), 1)
            reviews[m["student_id"]] = day(m["held_date"])
    part_c = {p["student_id"] for p in t["part_c_transitions"]}
    for s in t["students"]:
        r = 1.0 if s["student_id"] in part_c else rnd.random()   # (a Part C child stays under three)
        dates = by_student.get(s["student_id"])
        if r < 0.25 and dates:      # transition age on a meeting's date, or a year after it, give or take a day
            anchor = rnd.choice(dates) + (365 * DAY if rnd.random() < 0.5 else timedelta())
            s["birth_date"] = iso(add_years(anchor, -st.transition_age) + rnd.randint(-1, 1) * DAY)
        elif r < 0.3:
            born = date(rnd.choice([2008, 2010, 2012]), 2, 28) + rnd.randint(0, 1) * DAY   # Feb 29 in 2008, 2012
            s["birth_date"] = iso(born)
        elif r < 0.35:
            s["birth_date"] = iso(add_years(as_of, -st.transition_age) + rnd.randint(-1, 1) * DAY)
        if rnd.random() < 0.1:
            s["in_regular_education"] = flip(s["in_regular_education"])
        if rnd.random() < 0.1 and s["enrollment_status"] == "active":
            s["enrollment_status"], s["exit_date"] = "exited", iso(as_of - 20 * DAY)
        if rnd.random() < 0.05:
            s["sped_status"] = rnd.choice(["referred", "eligible", "not_eligible", "exited_sped"])
    for p in t["meeting_participants"]:
        m = meeting.get(p["meeting_id"])
        if not m or not m["held_date"] or rnd.random() > 0.25:
            continue
        h = day(m["held_date"])
        p["attendance"] = rnd.choice(["attended", "excused", "excused", "absent"])
        p["attendance_mode"] = "in_person" if p["attendance"] == "attended" else ""
        if p["attendance"] == "excused":
            p["excusal_parent_consent_date"] = near(h, 1) if rnd.random() < 0.8 else ""
            p["excusal_district_agreement_date"] = near(h, 1) if rnd.random() < 0.8 else ""
            p["excusal_area_discussed"] = rnd.choice(["Y", "N", ""])
            p["written_input_date"] = near(h, 1) if rnd.random() < 0.7 else ""
    for n in t["meeting_notices"]:
        m = meeting.get(n["meeting_id"])
        if m and m["held_date"] and rnd.random() < 0.4:
            n["sent_date"] = iso(day(m["held_date"]) - rnd.randint(-1, st.notice_lead_days + 1) * DAY)
        for f in ("states_purpose", "states_time", "states_location", "states_attendees", "states_transition_purpose",
                  "invites_student", "parent_waived_notice_period"):
            if rnd.random() < 0.05:
                n[f] = flip(n[f])
    extra = []
    for a in t["parent_contact_attempts"]:
        m = meeting.get(a["meeting_id"])
        if m and m["held_date"] and rnd.random() < 0.5:
            a["attempt_date"] = near(day(m["held_date"]), 1)
            if rnd.random() < 0.5:
                extra.append({**a, "attempt_id": a["attempt_id"] + "X", "attempt_date": near(day(m["held_date"]), 1)})
    t["parent_contact_attempts"] += extra
    for e in t["evaluations"]:
        done = e["evaluation_completed_date"]
        if done and rnd.random() < 0.15:
            e["reevaluation_waived_date"] = near(add_years(day(done), rnd.choice([0, 2, 3])), 2)
        if done and e["evaluation_type"] == "reevaluation" and rnd.random() < 0.1:
            e["evaluation_completed_date"] = max(e["consent_received_date"], near(day(done)))
        if e["evaluation_type"] == "initial" and e["eligibility_outcome"] == "eligible" and rnd.random() < 0.05:
            e["services_consent_refused_date"] = e["eligibility_determination_date"]
        if rnd.random() < 0.05:
            e["delay_reason_code"] = rnd.choice(["parent_did_not_produce_child", "transfer_agreed_timeline",
                                                 "parent_consent_delay", "school_break", "other"])
    for i in t["ieps"]:
        m = meeting.get(i["meeting_id"])
        if m and m["held_date"] and rnd.random() < 0.15:
            i["begin_date"] = near(day(m["held_date"]), 1)
        if rnd.random() < 0.1:
            i["status"] = rnd.choice(["draft", "active", "superseded"])
        if rnd.random() < 0.1:
            i["has_transition_plan"] = flip(i["has_transition_plan"])
        if i["status"] == "active" and rnd.random() < 0.1:
            i["end_date"] = near(as_of, 1)
    births = {s["student_id"]: day(s["birth_date"]) for s in t["students"]}
    for p in t["part_c_transitions"]:
        third = add_years(births[p["student_id"]], 3)
        if rnd.random() < 0.4:
            days = rnd.randint(st.late_referral_days - 1, st.late_referral_days + 1)
            p["part_c_eligible_date"] = iso(third - days * DAY) if rnd.random() < 0.8 else ""
        if rnd.random() < 0.1:
            p["continued_part_c"] = flip(p["continued_part_c"])
    for r in t["parent_requests"]:
        if rnd.random() < 0.1:
            r["in_writing"] = flip(r["in_writing"])
        if rnd.random() < 0.3:
            r["received_date"] = near(as_of - st.parent_request_days * DAY, 8)
    for name, rows in t.items():
        write_records(folder / f"{name}.csv", rows, fields[name])
    (folder / "export_complete.json").unlink(missing_ok=True)


# Every number of these rules moved from its default, in the configuration and in the reference alike.
MOVED = Settings(school_year_start=(8, 15), transition_age=14, annual_review_basis="anniversary", annual_warn=20,
                 reevaluation_years=2, reevaluation_warn=40, part_c_warn=30,
                 part_c_exempt=frozenset({"parent_consent_delay"}), late_referral_days=60, parent_request_days=15,
                 parent_request_warn=3, parent_contact_attempts_min=3, notice_lead_days=7)
MOVED_CONFIG = {"school_year_start": "08-15", "transition_age": 14,
                "IEP_ANNUAL_REVIEW": {"annual_review_basis": "anniversary", "warn_days": 20},
                "REEVALUATION_3_YEAR": {"reevaluation_years": 2, "warn_days": 40},
                "PART_C_TRANSITION_BY_3": {"warn_days": 30, "exempt_delay_reasons": ["parent_consent_delay"],
                                           "late_referral_days": 60},
                "PARENT_REQUEST_RESPONSE": {"parent_request_days": 15, "warn_days": 3},
                "TEAM_PARENT": {"parent_contact_attempts_min": 3},
                "NOTICE_LEAD_TIME": {"notice_lead_days": 7}}


@pytest.mark.parametrize(("as_of", "seed", "moved"), [
    (date(2026, 11, 27), None, False), (date(2026, 11, 27), 1, False), (date(2027, 3, 1), 2, False),
    (date(2027, 6, 30), 3, False), (date(2026, 11, 27), 4, True), (date(2027, 8, 20), 5, True)])
def test_federal_rules_equal_the_independent_evaluation(as_of, seed, moved, data_dir, tmp_path, settings):
    from federal_reference import RULES, evaluate
    from helpers import run_night_in_process

    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.ingest.contract import TABLES
    from tools.demo import generate

    st = MOVED if moved else DEFAULTS
    settings({"quality": {"quarantine_threshold_pct": 100}, "rules": MOVED_CONFIG if moved else {}})
    export = tmp_path / "export" / as_of.isoformat()
    generate(export, students=STUDENTS, as_of=as_of)
    if seed is not None:
        shake(export, as_of, seed, st)
    run_night_in_process(export, as_of)
    with warehouse.connect(load_config(), read_only=True) as con:
        tables = {t.name: warehouse.rows(con, f"SELECT * FROM core.{t.name}") for t in TABLES}
        got = warehouse.rows(con, f"""SELECT rule_id, student_id, coalesce(meeting_id, '') AS meeting_id, status,
                                             due_date, event_date FROM compliance.exceptions
                                      WHERE as_of = ? AND rule_id IN ({', '.join('?' * len(RULES))})""",
                             [as_of, *RULES])
    expected = evaluate(tables, as_of, st)
    keys = {(r["rule_id"], r["student_id"], r["meeting_id"], r["status"]) for r in got}
    missing, extra = sorted(expected.keys() - keys), sorted(keys - expected.keys())
    assert not missing and not extra, (f"{len(missing)} missing, e.g. {missing[:8]}; "
                                       f"{len(extra)} not expected, e.g. {extra[:8]}")
    timelines = {"IEP_ANNUAL_REVIEW", "REEVALUATION_3_YEAR", "PART_C_TRANSITION_BY_3", "PARENT_REQUEST_RESPONSE"}
    wrong = [(r, expected[k]) for r in got
             if (k := (r["rule_id"], r["student_id"], r["meeting_id"], r["status"]))[0] in timelines
             and len(expected[k]) == 1 and (r["due_date"], r["event_date"]) not in expected[k]]
    assert not wrong, f"{len(wrong)} rows with other dates, e.g. {wrong[:5]}"
    per_rule = {k[0] for k in expected}
    assert per_rule == set(RULES), set(RULES) - per_rule
