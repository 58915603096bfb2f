"""A digest ordered by what a coordinator can still change: what to do in the next 5 school days
(with what and by when), then what is new (never capped), then what was resolved, then the
backlog grouped per student with each item's age; each row linked to its drill-down."""

from __future__ import annotations

from datetime import date, timedelta

from builder import AS_OF  # 2026-11-27, a Friday
from helpers import mail_parts as parts
from helpers import send_digests as send
from test_digests import Cells


def calendar(district, holidays=(date(2026, 12, 1),)):
    """A district calendar from 2026-11-02 to 2026-12-31: weekdays in session but ``holidays``."""
    day = date(2026, 11, 2)
    while day <= date(2026, 12, 31):
        school = day.isoweekday() <= 5 and day not in holidays
        district.add("school_calendar", school_id=None, calendar_date=day.isoformat(),
                     in_session="Y" if school else "N", note=None if school else "holiday")
        day += timedelta(days=1)


def annual_due(district, due: date, school="SCH1") -> str:
    """A student whose annual review falls due on ``due`` (a year after the last review meeting)."""
    s = district.student(school=school)
    district.meeting(s, held=due - timedelta(days=365), kind="annual")
    return s


def test_act_now_reaches_the_fifth_school_day_and_says_what_to_do_by_when(district, evaluate, smtp, data_dir):
    """School days after Friday 2026-11-27, with Tuesday 12-01 a holiday: 11-30, 12-02, 12-03,
    12-04, then 12-07 (the 5th) and 12-08 (the 6th). An item due on the 5th is to act on now;
    one due on the 6th waits in the backlog. A meeting's notice (10 days ahead by default) is
    named with its date, or as due today when that date has passed."""
    calendar(district)
    today = annual_due(district, AS_OF)                      # due today: not yet overdue
    fifth = annual_due(district, date(2026, 12, 7))
    sixth = annual_due(district, date(2026, 12, 8))
    overdue = annual_due(district, AS_OF - timedelta(days=20))
    evaluate(district)
    send(data_dir)
    text, html = parts(smtp.messages()[0])
    text = text.replace("\r\n", "\n")
    assert "Act in the next 5 school days: 2" in text
    act, rest = text.split("Act in the next 5 school days (2)\n")[1].split("Still open (2)\n")
    assert f"- {today} " in act and f"- {fifth} " in act and sixth not in act and overdue not in act
    assert f"- {sixth} " in rest and f"- {overdue} " in rest
    assert act.index(today) < act.index(fifth), "soonest first"
    assert ("TO DO: Hold the annual IEP review meeting by 2026-12-07; send the meeting notice by 2026-11-27"
            in act)
    assert ("TO DO: Hold the annual IEP review meeting by 2026-11-27; send the meeting notice today "
            "(due 10 days before the meeting unless the parents waive it)") in act
    assert "TO DO" not in rest
    p = Cells()
    p.feed(html)
    assert "Hold the annual IEP review meeting by 2026-12-07; send the meeting notice by 2026-11-27" in p.cells
    assert html.index("Act in the next 5 school days (2)") < html.index("Still open (2)")


def test_without_a_calendar_act_now_is_the_next_seven_days(district, evaluate, smtp, data_dir):
    """No calendar says which days are school days: the next 7 days stand in for 5 school days."""
    inside = annual_due(district, AS_OF + timedelta(days=7))
    outside = annual_due(district, AS_OF + timedelta(days=8))
    evaluate(district)
    send(data_dir)
    text = parts(smtp.messages()[0])[0]
    act = text.split("Act in the next 5 school days (1)")[1].split("Still open (1)")[0]
    assert inside in act and outside not in act and outside in text.split("Still open (1)")[1]


def test_sections_in_order_new_in_full_resolved_listed_backlog_grouped_per_student_with_age(
        district, evaluate, smtp, data_dir):
    """Night 1 (first report): nothing new. Night 2, three days later: four new items (beyond a
    cap of 1: all listed), one resolved (its review held late, new as "late"), the backlog grouped per
    student (a student's lines together, students by their most urgent item) with each item's age."""
    two = annual_due(district, AS_OF - timedelta(days=35))     # overdue by 35 days, and its reevaluation:
    district.evaluation(two, consent=date(2023, 9, 1), completed=date(2023, 10, 20), eligibility=date(2023, 10, 20))
    district.meeting(two, held=date(2023, 11, 10), kind="initial")
    worse = annual_due(district, AS_OF - timedelta(days=55))   # overdue by 55 days: the most urgent
    fixed = annual_due(district, AS_OF - timedelta(days=5))
    evaluate(district)
    send(data_dir, max_rows_per_section=10)
    district.meeting(fixed, held=AS_OF + timedelta(days=2), kind="annual")   # reviewed: resolved
    new = [annual_due(district, AS_OF - timedelta(days=d)) for d in (1, 2, 3)]
    nxt = AS_OF + timedelta(days=3)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt, max_rows_per_section=1)
    msg = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(nxt)][0]
    text, html = parts(msg)
    text = text.replace("\r\n", "\n")
    # new: the three, and the review held late (recorded tonight) that resolved the overdue one
    heads = ["New since the last report (4)", "Resolved since the last report (1)",
             "Still open (3)"]   # worse, two (twice)
    at = [text.index(h) for h in heads]
    assert at == sorted(at), "new, then resolved, then the backlog"
    new_block = text[at[0]:at[1]]
    assert all(f"- {s} " in new_block and "[NEW]" in new_block.split(f"- {s} ")[1].splitlines()[0] for s in new)
    assert "showing" not in new_block, "new items are never behind the cap"
    assert f"- {fixed} " in text[at[1]:at[2]] and "(was overdue)" in text[at[1]:at[2]]
    backlog = text[at[2]:]
    assert "showing 1 of 3, the most urgent" in backlog and f"- {worse} " in backlog and two not in backlog
    assert "open 3 days" in backlog
    evaluate(district, as_of=nxt + timedelta(days=1))
    send(data_dir, as_of=nxt + timedelta(days=1), max_rows_per_section=10)
    later = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(nxt + timedelta(days=1))][0]
    backlog = parts(later)[0].replace("\r\n", "\n").split("Still open (")[1]
    lines = [ln for ln in backlog.splitlines() if ln.startswith("  - ")]
    order = [ln.split()[1] for ln in lines]
    # the student overdue by 55 days first; the other student's two items together
    assert order.index(worse) < order.index(two) and order.count(two) == 2
    assert order[order.index(two) + 1] == two
    assert "open 4 days" in backlog
    assert parts(later)[1].count(f">{two}</a>") == 1, "in the HTML a student heads their lines once"


def test_each_row_links_to_its_students_drill_down_when_the_page_is_configured(district, evaluate, smtp, data_dir):
    s = annual_due(district, AS_OF - timedelta(days=30))
    evaluate(district)
    send(data_dir, page_url="https://airflow.example.org/iepwatch/")
    html = parts(smtp.messages()[0])[1]
    assert (f'href="https://airflow.example.org/iepwatch/exceptions?as_of={AS_OF}&amp;school=SCH1&amp;student={s}"'
            in html)
    assert f'href="https://airflow.example.org/iepwatch/exceptions?as_of={AS_OF}&amp;school=SCH1"' in html
    evaluate(district, as_of=AS_OF + timedelta(days=1))
    send(data_dir, as_of=AS_OF + timedelta(days=1), page_url="")
    html = parts([m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(AS_OF + timedelta(days=1))][0])[1]
    assert "<a href" not in html
