"""A second, independent evaluation of the federal rules that ``spec_reference`` leaves out: the
annual review, the reevaluation, the Part C transition, the parent request, every meeting rule
and both plan rules. Plain Python over the published ``core`` tables, written from the rules as
docs/rules.md states them (including its readings "where the text leaves room"); it shares
nothing with the SQL. The differential test compares the night's exceptions with what this says.

Each row is ``(rule_id, student_id, meeting_id or "", status, due_date, event_date)``. Where one
key (rule, student, meeting, status) has several candidates, ``evaluate`` returns them all
under that key and the test compares the key only (docs/rules.md: the most overdue is kept).
``meeting_verdicts`` judges held meetings of any date (the findings ledger reads older ones);
``shake`` moves a generated export's dates to the edges of these rules.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from helpers import read_records, write_records

DAY = timedelta(days=1)
REQUIRED = ("general_education_teacher", "special_education_teacher", "lea_representative",
            "evaluation_interpreter")
TEAM_RULE = {"general_education_teacher": "TEAM_GENERAL_ED_TEACHER",
             "special_education_teacher": "TEAM_SPECIAL_ED_TEACHER",
             "lea_representative": "TEAM_LEA_REPRESENTATIVE",
             "evaluation_interpreter": "TEAM_EVALUATION_INTERPRETER"}
RULES = ("IEP_ANNUAL_REVIEW", "REEVALUATION_3_YEAR", "PART_C_TRANSITION_BY_3", "PARENT_REQUEST_RESPONSE",
         "TEAM_PARENT", *TEAM_RULE.values(), "EXCUSAL_INVALID", "NOTICE_MISSING", "NOTICE_LEAD_TIME",
         "NOTICE_CONTENT", "TRANSITION_NOTICE", "TRANSITION_STUDENT_ABSENT", "IEP_DATED_BEFORE_MEETING",
         "TRANSITION_PLAN")


@dataclass(frozen=True)
class Settings:
    """The numbers the rules read, with docs/rules.md's defaults."""
    school_year_start: tuple[int, int] = (7, 1)
    transition_age: int = 16
    annual_review_basis: str = "365_days"
    annual_warn: int = 30
    reevaluation_years: int = 3
    reevaluation_warn: int = 60
    part_c_warn: int = 45
    part_c_exempt: frozenset[str] = frozenset({"parent_consent_delay", "parent_did_not_produce_child",
                                               "transfer_agreed_timeline"})
    late_referral_days: int = 90
    parent_request_enabled: bool = True
    parent_request_days: int = 30
    parent_request_warn: int = 7
    parent_contact_attempts_min: int = 2
    notice_lead_days: int = 10


DEFAULTS = Settings()


def add_years(d: date, n: int) -> date:
    """Month and day kept; Feb 29 becomes Feb 28 in a year without one."""
    try:
        return d.replace(year=d.year + n)
    except ValueError:
        return d.replace(year=d.year + n, day=28)


def next_review(d: date, st: Settings) -> date:
    """The annual review due one span after a review: 365 days, or the same day a year later."""
    return add_years(d, 1) if st.annual_review_basis == "anniversary" else d + 365 * DAY


def window_start(as_of: date, month_day: tuple[int, int] = (7, 1)) -> date:
    start = date(as_of.year, *month_day)
    return start if start <= as_of else date(as_of.year - 1, *month_day)


def timeline(due: date, event: date | None, as_of: date, warn: int) -> str:
    """The status of one deadline before scope and exemptions: ok, late, overdue or due_soon."""
    if event is not None:
        return "late" if event > due else "ok"
    if as_of > due:
        return "overdue"
    return "due_soon" if (due - as_of).days <= warn else "ok"


def valid_excusal(p: dict, day: date) -> bool:
    """Parent consent and district agreement on or before the meeting; written input too when the
    member's area was discussed."""
    def by(d):
        return d is not None and d <= day
    return (by(p["excusal_parent_consent_date"]) and by(p["excusal_district_agreement_date"])
            and (p["excusal_area_discussed"] != "Y" or by(p["written_input_date"])))


def reevaluation_due(start: date, waivers: list[date], until: date | None, years: int) -> date:
    """``years`` after the clock start, or after the latest waiver after it (up to ``until``)."""
    covered = [w for w in waivers if w > start and (until is None or w <= until)]
    return add_years(max(covered), years) if covered else add_years(start, years)


def transition_birthdays(students: dict[str, dict], st: Settings) -> dict[str, date]:
    """Each student's date of reaching transition age."""
    return {sid: add_years(s["birth_date"], st.transition_age) for sid, s in students.items()}


def meeting_verdicts(t: dict[str, list[dict]], st: Settings = DEFAULTS) -> dict[str, tuple]:
    """Each held meeting, of any date -> (student, held date, the meeting rules it breaks with
    their status). The rules report the reporting window's; the findings ledger reads older ones."""
    students = {s["student_id"]: s for s in t["students"]}
    turns = transition_birthdays(students, st)
    people = defaultdict(list)
    for p in t["meeting_participants"]:
        people[p["meeting_id"]].append(p)
    notices = defaultdict(list)
    for n in t["meeting_notices"]:
        notices[n["meeting_id"]].append(n)
    attempts = defaultdict(list)
    for a in t["parent_contact_attempts"]:
        attempts[a["meeting_id"]].append(a["attempt_date"])

    out = {}
    for m in t["meetings"]:
        if m["status"] != "held":
            continue
        day, mid, sid = m["held_date"], m["meeting_id"], m["student_id"]
        team = people[mid]
        broken: list[tuple[str, str]] = []   # (rule, status) of this meeting

        if not any(p["team_role"] == "parent" and p["attendance"] == "attended" for p in team) \
                and sum(1 for a in attempts[mid] if a <= day) < st.parent_contact_attempts_min:
            broken.append(("TEAM_PARENT", "violation"))
        invalid = []
        for role in REQUIRED:
            if role == "general_education_teacher" and students[sid]["in_regular_education"] == "N":
                continue
            in_role = [p for p in team if p["team_role"] == role]
            if any(p["attendance"] == "attended" or (p["attendance"] == "excused" and valid_excusal(p, day))
                   for p in in_role):
                continue
            if any(p["attendance"] == "excused" for p in in_role):
                invalid.append(role)
            else:
                broken.append((TEAM_RULE[role], "violation"))
        if invalid:
            broken.append(("EXCUSAL_INVALID", "violation"))
        before = sorted((n for n in notices[mid] if n["sent_date"] is not None and n["sent_date"] <= day),
                        key=lambda n: (n["sent_date"], n["notice_id"]))
        if not before:
            broken.append(("NOTICE_MISSING", "violation"))
        else:
            first = before[0]["sent_date"]
            waived = any(n["parent_waived_notice_period"] == "Y" for n in before if n["sent_date"] == first)
            if (day - first).days < st.notice_lead_days and not waived:
                broken.append(("NOTICE_LEAD_TIME", "violation"))
            last = before[-1]
            if not all(last[f] == "Y" for f in ("states_purpose", "states_time", "states_location",
                                                 "states_attendees")):
                broken.append(("NOTICE_CONTENT", "violation"))
        # transition age on the meeting date, or reached before the IEP's year ends (the first implies the second)
        transition = turns[sid] < add_years(day, 1) or m["includes_transition"] == "Y"
        if transition:
            if before and not (before[-1]["states_transition_purpose"] == "Y" and before[-1]["invites_student"] == "Y"):
                broken.append(("TRANSITION_NOTICE", "violation"))
            if not any(p["team_role"] == "student" and p["attendance"] == "attended" for p in team):
                broken.append(("TRANSITION_STUDENT_ABSENT", "warning"))
        out[mid] = (sid, day, broken)
    return out


def evaluate(t: dict[str, list[dict]], as_of: date, st: Settings = DEFAULTS) -> dict[tuple, set[tuple]]:
    """(rule, student, meeting, status) -> the candidate rows of that key, under the settings ``st``."""
    ws = window_start(as_of, st.school_year_start)
    students = {s["student_id"]: s for s in t["students"]}
    active = {k for k, s in students.items() if s["enrollment_status"] == "active"}
    by_student: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for table in ("evaluations", "meetings", "ieps", "parent_requests"):
        for r in t[table]:
            by_student[r["student_id"]][table].append(r)
    out: dict[tuple, set[tuple]] = defaultdict(set)

    def put(rule, sid, meeting, status, due=None, event=None, exempt=False):
        if status == "ok":
            return
        if status in ("overdue", "due_soon") and sid not in active:
            return   # open statuses: students in scope only
        if event is not None and status == "late" and not ws <= event <= as_of:
            return   # a late event outside the reporting window is history
        if exempt and status in ("overdue", "late"):
            status = "exempt"
        out[(rule, sid, meeting or "", status)].add((due, event))

    held = [m for m in t["meetings"] if m["status"] == "held"]
    turns = transition_birthdays(students, st)

    # IEP_ANNUAL_REVIEW
    for sid, s in students.items():
        if s["sped_status"] != "eligible":
            continue
        mine = by_student[sid]
        eligible = [e for e in mine["evaluations"] if e["evaluation_type"] == "initial"
                    and e["eligibility_outcome"] == "eligible" and e["eligibility_determination_date"]]
        e0 = max((e["eligibility_determination_date"] for e in eligible), default=None)
        reviews = sorted((m["held_date"], m["meeting_id"]) for m in mine["meetings"]
                         if m["status"] == "held" and m["iep_reviewed"] == "Y"
                         and (e0 is None or m["held_date"] >= e0))
        if not reviews:
            continue
        due = next_review(reviews[-1][0], st)
        put("IEP_ANNUAL_REVIEW", sid, "", timeline(due, None, as_of, st.annual_warn), due)
        for (prev, _), (this, mid) in zip(reviews, reviews[1:], strict=False):
            if this > next_review(prev, st):
                put("IEP_ANNUAL_REVIEW", sid, mid, "late", next_review(prev, st), this)

    # REEVALUATION_3_YEAR
    for sid, s in students.items():
        if s["sped_status"] != "eligible":
            continue
        evs = by_student[sid]["evaluations"]
        starts = sorted(e["evaluation_completed_date"] for e in evs if e["evaluation_completed_date"] and (
            e["evaluation_type"] == "reevaluation" or e["eligibility_outcome"] == "eligible"))
        waivers = sorted(e["reevaluation_waived_date"] for e in evs if e["reevaluation_waived_date"])

        if starts:
            due = reevaluation_due(starts[-1], waivers, None, st.reevaluation_years)
            put("REEVALUATION_3_YEAR", sid, "", timeline(due, None, as_of, st.reevaluation_warn), due)
        for e in evs:
            done = e["evaluation_completed_date"]
            if e["evaluation_type"] != "reevaluation" or not done:
                continue
            before = [x for x in starts if x < done]
            if before:
                due = reevaluation_due(before[-1], waivers, done, st.reevaluation_years)
                put("REEVALUATION_3_YEAR", sid, "", timeline(due, done, as_of, st.reevaluation_warn), due, done)

    # PART_C_TRANSITION_BY_3
    for p in t["part_c_transitions"]:
        sid = p["student_id"]
        birthday = add_years(students[sid]["birth_date"], 3)
        referral = p["referral_received_date"]
        evs = sorted((e for e in by_student[sid]["evaluations"] if e["evaluation_type"] == "initial"
                      and e["consent_received_date"] and e["consent_received_date"] >= referral),
                     key=lambda e: (e["consent_received_date"], e["evaluation_id"]))
        ev = evs[-1] if evs else None
        event = None
        if ev and ev["eligibility_outcome"] == "eligible":
            event = min((i["begin_date"] for i in by_student[sid]["ieps"] if i["status"] in ("active", "superseded")
                         and i["begin_date"] and i["begin_date"] >= referral), default=None)
        elif ev and ev["eligibility_outcome"] == "not_eligible":
            event = ev["eligibility_determination_date"]
        exempt = (ev is not None and (ev["delay_reason_code"] in st.part_c_exempt
                                      or ev["services_consent_refused_date"] is not None)) \
            or (birthday - (p["part_c_eligible_date"] or referral)).days < st.late_referral_days \
            or p["continued_part_c"] == "Y"
        put("PART_C_TRANSITION_BY_3", sid, "", timeline(birthday, event, as_of, st.part_c_warn), birthday, event,
            exempt)

    # PARENT_REQUEST_RESPONSE: written requests only
    for r in t["parent_requests"]:
        if r["in_writing"] != "Y" or not st.parent_request_enabled:
            continue
        sid, q = r["student_id"], r["received_date"]
        event = min((m["held_date"] for m in by_student[sid]["meetings"]
                     if m["status"] == "held" and m["held_date"] >= q), default=None)
        due = q + st.parent_request_days * DAY
        put("PARENT_REQUEST_RESPONSE", sid, "", timeline(due, event, as_of, st.parent_request_warn), due, event)

    # Meeting rules: every held meeting in the window
    for mid, (sid, day, broken) in meeting_verdicts(t, st).items():
        if ws <= day <= as_of:
            for rule, status in broken:
                put(rule, sid, mid, status, None, day)

    # Plan rules
    in_window = {m["meeting_id"]: m["held_date"] for m in held if ws <= m["held_date"] <= as_of}
    for i in t["ieps"]:
        if i["status"] in ("active", "superseded") and i["meeting_id"] in in_window \
                and i["begin_date"] is not None and i["begin_date"] < in_window[i["meeting_id"]]:
            put("IEP_DATED_BEFORE_MEETING", i["student_id"], i["meeting_id"], "warning", None,
                in_window[i["meeting_id"]])
        sid = i["student_id"]
        if i["status"] == "active" and i["begin_date"] is not None and i["end_date"] is not None \
                and i["begin_date"] <= as_of <= i["end_date"] and sid in active \
                and turns[sid] <= i["end_date"] \
                and i["has_transition_plan"] != "Y":
            put("TRANSITION_PLAN", sid, "", "violation")
    return dict(out)


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
