"""A second, independent evaluation of the initial timelines of every state pack, written from the
rules as docs/rules.md states them: plain Python walking each student's calendar day by day.
The differential test compares the night's exceptions with what this says.

It shares nothing with the SQL but the export it reads (the published ``core`` tables, so the
gate's quarantine applies to both) and the packs' numbers (``iepwatch.packs``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from federal_reference import window_start

from iepwatch.rules.packs import Pack

DAY = timedelta(days=1)
UNKNOWN = None   # a day a calendar cannot place (summer or not, long break or not)


class Gap(Exception):
    """The calendar does not reach a date the due date needs."""


def school_year(d: date) -> int:
    return d.year if (d.month, d.day) >= (7, 1) else d.year - 1


class Calendar:
    """One calendar: every listed date, in session or not, with its school years placed."""

    def __init__(self, days: dict[date, bool]):
        self.days = days
        self.start, self.end = min(days), max(days)
        self.school_days = sorted(d for d, s in days.items() if s)
        years = defaultdict(list)
        for d in self.school_days:
            years[school_year(d)].append(d)
        self.first = {y: ds[0] for y, ds in years.items()}
        self.last = {y: ds[-1] for y, ds in years.items()}
        self._index = {d: i for i, d in enumerate(self.school_days)}

    def listed(self, d: date) -> bool:
        return self.start <= d <= self.end

    def covers_year_start(self, y: int) -> bool:
        return self.start <= date(y, 7, 1)

    def covers_year_end(self, y: int) -> bool:
        return self.end >= date(y + 1, 6, 30)

    def summer(self, d: date):
        if not self.listed(d):
            raise Gap(d)
        if self.days[d]:
            return False
        y = school_year(d)
        first, last = self.first.get(y), self.last.get(y)
        if first and last and first < d < last:
            return False
        if first and d < first:
            return True if self.covers_year_start(y) else UNKNOWN
        if last and d > last:
            return True if self.covers_year_end(y) else UNKNOWN
        return True if self.covers_year_start(y) and self.covers_year_end(y) else UNKNOWN

    def long_break(self, d: date):
        if self.days[d]:
            return False
        if self.summer(d) is True:
            return True
        a, b = d, d
        while a - DAY in self.days and not self.days[a - DAY]:
            a -= DAY
        while b + DAY in self.days and not self.days[b + DAY]:
            b += DAY
        weekdays = sum(1 for i in range((b - a).days + 1) if (a + i * DAY).isoweekday() <= 5)
        if weekdays > 5:
            return True
        if a == self.start or b == self.end or self.summer(d) is UNKNOWN:
            return UNKNOWN
        return False

    def counted(self, unit: str, d: date):
        if unit == "school_days":
            return self.days[d]
        if unit == "calendar_days_excluding_summer":
            s = self.summer(d)
            return UNKNOWN if s is UNKNOWN else not s
        lb = self.long_break(d)
        return UNKNOWN if lb is UNKNOWN else not lb

    def nth_after(self, x: date, n: int, unit: str) -> date:
        """The n-th counted day after x; Gap when a day it walks is not listed or not placed."""
        if unit == "calendar_days":
            return x + n * DAY
        d, k = x, 0
        while k < n:
            d += DAY
            if not self.listed(d):
                raise Gap(d)
            c = self.counted(unit, d)
            if c is UNKNOWN:
                raise Gap(d)
            k += c
        return d

    def school_days_after(self, x: date, until: date) -> list[date]:
        return [d for d in self.school_days if x < d <= until]

    def year_end_listed(self, y: int) -> date:
        return min(self.end, date(y + 1, 6, 30))


@dataclass
class Row:
    rule_id: str
    student_id: str
    due: date | None
    event: date | None
    exempt: bool


def _few_left(cal: Calendar, c: date, days: int, min_left: int | None, absences: set[date],
              absences_below: int | None) -> bool:
    """Whether fewer than ``days`` (and at least ``min_left``) school days of c's school year remain
    after c (with fewer than ``absences_below`` absences up to its end): True / False, or Gap."""
    if not cal.listed(c):
        raise Gap(c)
    y = school_year(c)
    left = cal.school_days_after(c, cal.year_end_listed(y))
    absent = sum(1 for d in left if d in absences)
    if len(left) >= days or (absences_below is not None and absent >= absences_below):
        return False
    if not cal.covers_year_end(y):
        raise Gap(date(y + 1, 6, 30))
    return min_left is None or len(left) >= min_left


def _first_of_next(cal: Calendar, y: int) -> date:
    if y + 1 not in cal.first:
        raise Gap(date(y + 1, 7, 1))
    return cal.first[y + 1]


def due_date(rule, pack: Pack, cal: Calendar | None, ev: dict, absences: set[date]) -> date:
    """The rule's due date for one initial evaluation, or Gap."""
    e = rule.end_of_year
    if rule.measures == "ard_meeting":
        x = ev["evaluation_completed_date"]
        j = pack.june_30_rule
        c = ev["consent_received_date"]
        if cal is None:
            raise Gap(x)
        if j is not None and c is not None and _few_left(cal, c, j.days, j.end_of_year["min_school_days_left"],
                                                           absences, j.end_of_year["absences_below"]):
            y = school_year(c)
            nxt = [d for d in cal.school_days if school_year(d) == y + 1]
            if len(nxt) < e["june_30_school_day"]:
                raise Gap(cal.end + DAY)
            return nxt[e["june_30_school_day"] - 1]
        p = x + rule.days * DAY
        if not cal.listed(p):
            raise Gap(p)
        s = cal.summer(p)
        if s is UNKNOWN:
            raise Gap(date(school_year(p) + 1, 6, 30))
        if s:
            after = [d for d in cal.school_days if d > p]
            if not after:
                raise Gap(cal.end + DAY)
            return after[0]
        return p
    c = ev["consent_received_date"]
    if rule.unit == "calendar_days" and e["kind"] == "none":
        return c + rule.days * DAY
    if cal is None:
        raise Gap(c)
    if rule.unit != "calendar_days" and not cal.listed(c) and c + DAY != cal.start:
        raise Gap(c)
    if e["kind"] == "june_30" and _few_left(cal, c, rule.days, e["min_school_days_left"], absences,
                                              e["absences_below"]):
        return date(school_year(c) + 1, 6, 30)
    if e["kind"] == "few_school_days_left" and _few_left(cal, c, rule.days, None, absences, None):
        return _first_of_next(cal, school_year(c)) - DAY
    if e["kind"] == "referral_near_year_end" and ev["referral_date"] is not None:
        r = ev["referral_date"]
        if not cal.listed(r):
            raise Gap(r)
        y = school_year(r)
        if cal.covers_year_end(y):
            near = y in cal.last and cal.last[y] - e["window_days"] * DAY <= r <= cal.last[y]
        elif any(d > r + e["window_days"] * DAY and school_year(d) == y for d in cal.school_days):
            near = False
        else:
            raise Gap(date(y + 1, 6, 30))
        if near:
            special = _first_of_next(cal, y) + e["days_after_first_day"] * DAY
            if special > c:
                return special
    due = cal.nth_after(c, rule.days, rule.unit)
    if rule.absence_extension_min is not None:
        a = sum(1 for d in cal.school_days_after(c, due) if d in absences)
        if a >= rule.absence_extension_min:
            due = cal.nth_after(c, rule.days + a, "school_days")
    return due


def evaluate(tables: dict[str, list[dict]], pack: Pack, as_of: date, exempt_reasons: list[str],
             warn_days: dict[str, int]) -> set[tuple]:
    """The night's exceptions of the initial timelines in force: (rule_id, student_id, status, due, event)."""
    students = {s["student_id"]: s for s in tables["students"]}
    cal_days: dict[str, dict[date, bool]] = defaultdict(dict)
    for r in tables["school_calendar"]:
        cal_days[r["school_id"] or ""][r["calendar_date"]] = r["in_session"] == "Y"
    calendars = {k: Calendar(v) for k, v in cal_days.items()}
    absences: dict[str, set[date]] = defaultdict(set)
    for a in tables.get("student_absences", []):
        absences[a["student_id"]].add(a["absence_date"])
    held_initial: dict[str, list[date]] = defaultdict(list)
    for m in tables["meetings"]:
        if m["status"] == "held" and m["meeting_type"] == "initial":
            held_initial[m["student_id"]].append(m["held_date"])
    initial = [e for e in tables["evaluations"] if e["evaluation_type"] == "initial"]

    def first_meeting(student: str, on_or_after: date) -> date | None:
        return min((h for h in held_initial[student] if h >= on_or_after), default=None)

    rows: list[Row] = []
    if "EVAL_60_DAY" not in pack.replaces:   # the federal rules: the latest evaluation of each student
        latest = {}
        for e in sorted((e for e in initial if e["consent_received_date"]),
                        key=lambda e: (e["consent_received_date"], e["evaluation_id"])):
            latest[e["student_id"]] = e
        for e in latest.values():
            rows.append(Row("EVAL_60_DAY", e["student_id"], e["consent_received_date"] + 60 * DAY,
                            e["evaluation_completed_date"], e["delay_reason_code"] in exempt_reasons))
    if "IEP_INITIAL_30_DAY" not in pack.replaces:
        latest = {}
        for e in sorted((e for e in initial if e["eligibility_outcome"] == "eligible"
                         and e["eligibility_determination_date"]),
                        key=lambda e: (e["eligibility_determination_date"], e["evaluation_id"])):
            latest[e["student_id"]] = e
        for e in latest.values():
            if e["services_consent_refused_date"] is None:
                start = e["consent_received_date"] or e["referral_date"] or e["eligibility_determination_date"]
                rows.append(Row("IEP_INITIAL_30_DAY", e["student_id"], e["eligibility_determination_date"] + 30 * DAY,
                                first_meeting(e["student_id"], start), False))
    for i, rule in enumerate(pack.rules):
        for e in initial:
            sid = e["student_id"]
            if rule.measures == "ard_meeting" and e["evaluation_completed_date"] is None:
                continue
            if rule.measures != "ard_meeting" and e["consent_received_date"] is None:
                continue
            if rule.measures != "evaluation" and e["eligibility_outcome"] == "eligible" \
                    and e["services_consent_refused_date"] is not None:
                continue
            if rule.measures == "evaluation":
                event = e["evaluation_completed_date"]
            elif e["eligibility_outcome"] == "eligible":
                event = first_meeting(sid, e["evaluation_completed_date"] if rule.measures == "ard_meeting"
                                      else e["consent_received_date"])
            elif e["eligibility_outcome"] == "not_eligible":
                event = e["eligibility_determination_date"]
            else:
                event = None
            school = students[sid]["school_id"]
            cal = calendars.get(school) or calendars.get("")
            try:
                due = due_date(rule, pack, cal, e, absences[sid])
            except Gap:
                due = None
            rows.append(Row(rule.rule_id, sid, due, event, i == 0 and e["delay_reason_code"] in exempt_reasons))

    start = window_start(as_of)
    kept: dict[tuple, tuple] = {}
    for r in rows:
        if r.event is not None and not start <= r.event <= as_of:
            continue
        if r.event is None and students[r.student_id]["enrollment_status"] != "active":
            continue
        if r.due is None:
            status = "warning"
        elif r.event is not None:
            status = "late" if r.event > r.due else "ok"
        elif as_of > r.due:
            status = "overdue"
        elif (r.due - as_of).days <= warn_days[r.rule_id]:
            status = "due_soon"
        else:
            status = "ok"
        if r.exempt and status in ("overdue", "late"):
            status = "exempt"
        if status == "ok":
            continue
        key = (r.rule_id, r.student_id, status)
        mine = (r.rule_id, r.student_id, status, r.due, r.event)
        if key not in kept or (r.due or date.max) < (kept[key][3] or date.max):
            kept[key] = mine
    return set(kept.values())
