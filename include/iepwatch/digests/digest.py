"""Build and render each recipient's nightly digest (no I/O besides the warehouse query)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from iepwatch.config import Config
from iepwatch.corrections import ledger
from iepwatch.ingest.contract import CONTROL_CHARS, DIRECTION_OVERRIDES
from iepwatch.rules import statuses
from iepwatch.rules.evaluate import catalog
from iepwatch.warehouse import formula_guard_sql, literal, rows, sql, transaction

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTIONS = (  # (key, heading): a school's sections, in the order a coordinator acts on them (rows.sql);
    # "resolved since the last report" is listed between new and backlog (School.resolved)
    ("act_now", "Act in the next 5 school days"),
    ("new", "New since the last report"),
    ("backlog", "Still open"),
)
SCHOOL_DAYS = 5       # "act now": open items due by the school's 5th school day after the as-of date
FALLBACK = "FALLBACK"


DIGEST_STATUSES = statuses.OPEN + statuses.ONCE   # every status a digest lists
CALENDAR_DAYS = 30    # the calendar attachment: open items due within 30 days


LINE = ("cm_first", "case_manager", "student_first", "student_id", "student", "is_new", "status", "rule",
        "severity", "due_date", "days_overdue", "age_days", "todo", "detail")
"""One item shown in a digest's body, as a plain tuple of these values in this order (made safe
for a mail in ``rows.sql``; the HTML template escapes them): whether it is the first line of its
case manager's group in the section, the case manager, whether it is the first of its student's
lines (the backlog groups them), the student's id and initials (or full name), whether it is
new, the status, the rule's title, the severity, the due date (text), the days overdue, the days
since first detected, what to do by when (an item to act on now), the detail. The templates
unpack it (``{% for cm_first, case_manager, ... in s.lines[key] %}``): plain tuples pickle to
the rendering worker and unpack in Jinja at a fraction of a named tuple's cost
(docs/performance.md, round 11)."""


@dataclass
class School:
    """One school of a digest: per section, its number of items, how many are shown in the body
    and their lines (in the section's order); what was resolved since the last report (its
    number, and the first lines: student id, student, rule, last status)."""
    school_id: str
    name: str
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _ in SECTIONS})
    shown: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _ in SECTIONS})
    lines: dict[str, list[tuple]] = field(default_factory=lambda: {k: [] for k, _ in SECTIONS})   # LINE
    resolved: int = 0
    resolved_lines: list[tuple] = field(default_factory=list)
    findings: list[tuple] = field(default_factory=list)   # FINDING lines: instances of a finding still to correct


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime: str        # "text/csv", "text/calendar; method=PUBLISH"
    data: bytes


@dataclass
class Digest:
    recipient: str            # coordinator staff_id, or FALLBACK
    to: list[str]
    name: str
    as_of: date
    schools: list[School]
    resolved: int
    district: str
    first_report: bool = False                       # never emailed before: nothing is marked NEW
    by_status: dict[str, int] = field(default_factory=lambda: {s: 0 for s in DIGEST_STATUSES})
    new: int = 0                                     # items marked NEW
    act_now: int = 0                                 # open items due in the next 5 school days
    page_url: str = ""                               # the iepwatch page: each row links to its drill-down
    attachments: list[Attachment] = field(default_factory=list)   # the CSV of a long digest
    due: list[tuple] = field(default_factory=list)   # open items due within 30 days: the calendar (render)
    cancelled: list[tuple] = field(default_factory=list)   # items of the last report's calendar no longer open
    corrected: tuple | None = None   # (night, items gone, items added): the last report's night published again

    def total(self, key: str) -> int:
        return sum(s.counts[key] for s in self.schools)

    @property
    def actionable(self) -> bool:
        return any(self.total(k) for k, _ in SECTIONS) or any(s.findings for s in self.schools)

    @property
    def truncated(self) -> bool:
        """Some section lists only its most urgent items (all are in the CSV attachment)."""
        return any(s.counts[k] > s.shown[k] for s in self.schools for k, _ in SECTIONS)

    @property
    def file_stem(self) -> str:
        """``iepwatch-<as-of>-<recipient>``, safe as a file name whatever the staff id holds."""
        return f"iepwatch-{self.as_of.isoformat()}-{safe_token(self.recipient)}"


def safe_token(value: str) -> str:
    """A value made safe for a file name or a Message-ID: letters, digits, '.', '-' only."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", value)[:64] or "-"


FINDING = ("student_id", "student", "finding_id", "rule", "deadline", "status", "missing")
"""A line of "Findings to correct at your schools" (digests/findings.sql), a plain tuple."""


CSV_COLUMNS = ("school_id", "school_name", "section", "status", "severity", "student_id", "student",
               "case_manager", "rule_id", "rule", "due_date", "days_overdue", "new", "what_is_missing")
"""The CSV attachment's columns, in order: its header, and the order digests/rows.sql writes each
line's fields in (its ``csv_fields``, by these names)."""


_UNSAFE_CLASS = f"[{CONTROL_CHARS}{DIRECTION_OVERRIDES}]"
_UNSAFE = re.compile(_UNSAFE_CLASS)
SUBJECT_MAX = 200    # characters: a header, whatever the school names hold


def plain(text: str | None, most: int = 500) -> str:
    """Free text from the export made safe for a mail: control characters and direction overrides
    become '?', and it is cut to ``most`` characters (digests/rows.sql does the same in DuckDB)."""
    text = _UNSAFE.sub("?", text or "")
    return text if len(text) <= most else text[: most - 1] + "…"


def ensure_send_log(con) -> None:
    """The send log: ``ops.email_sends``, one row per digest sent (as_of, staff_id, content sha256,
    Message-ID); ``ops.digest_lines``, the exceptions each night's digest of a recipient lists,
    written once before the sending; and the view ``ops.email_items``, the lines of the digests
    that were sent: each exception a recipient was emailed about (what makes an item "new":
    never emailed to this recipient). Recording a digest as sent is then one row, whatever the
    number of its lines. (A warehouse from before keeps its items: they move to digest_lines.)
    The tables are the warehouse schema's (``warehouse_schema.sql``); the view is made here."""
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'ops' "
                       "AND table_name = 'email_items'").fetchone()
    if kind and kind[0] == "BASE TABLE":
        with transaction(con):
            con.execute("INSERT INTO ops.digest_lines SELECT * FROM ops.email_items")
            con.execute("DROP TABLE ops.email_items")
    con.execute("""CREATE VIEW IF NOT EXISTS ops.email_items AS
        SELECT l.* FROM ops.digest_lines l JOIN ops.email_sends s ON s.as_of = l.as_of AND s.staff_id = l.recipient""")


def record_sent(con, as_of: date, sends: list[tuple[str, str, str]]) -> int:
    """Digests sent for ``as_of`` recorded in the send log, each (staff_id, content sha256,
    Message-ID), in one transaction; a digest already recorded is left as it is. Their lines
    (written by ``build``) count as emailed from then on. Returns the number recorded now."""
    if not sends:
        return 0
    ids, shas, message_ids = (list(x) for x in zip(*sends, strict=True))
    with transaction(con):
        return len(con.execute("""INSERT INTO ops.email_sends
                                  SELECT DISTINCT ON (staff_id) ?::DATE, staff_id, digest, message_id
                                  FROM (SELECT unnest(?::VARCHAR[]) AS staff_id, unnest(?::VARCHAR[]) AS digest,
                                               unnest(?::VARCHAR[]) AS message_id) n
                                  WHERE staff_id NOT IN (SELECT staff_id FROM ops.email_sends WHERE as_of = ?)
                                  RETURNING staff_id""", [as_of, ids, shas, message_ids, as_of]).fetchall())


BATCH = 100   # recipients whose lines are in memory at once


def build(con, cfg: Config, as_of: date) -> Iterator[Digest]:
    """One Digest per coordinator with assigned schools (and one for the fallback address), in
    recipient order, ``BATCH`` recipients' lines in memory at a time.

    ``digests/rows.sql`` selects every line of the night in one pass (into the connection's
    temporary ``digest_rows``), with its values and its CSV line; here the shown ones are grouped
    per school and section for the templates, and a long digest's CSV and every digest's
    calendar are attached.
    """
    rules = catalog(cfg)
    titles = {k: v["title"] for k, v in rules.items()}
    actions = {k: v.get("action", "") for k, v in rules.items()}
    ensure_send_log(con)
    safe = {"unsafe": literal(_UNSAFE_CLASS), "names": cfg.email.email_student_names, "titles": titles,
            "as_of": as_of.isoformat(), "most": cfg.email.max_rows_per_section}
    con.execute("CREATE OR REPLACE TEMP TABLE digest_rows AS "
                + sql("digests/rows", **safe, actions=actions, school_days=SCHOOL_DAYS,
                      meeting_rules=[k for k, r in rules.items() if r.get("meeting")],
                      notice_days=cfg.rules.NOTICE_LEAD_TIME.notice_lead_days,
                      formula_guard=formula_guard_sql, csv_columns=CSV_COLUMNS))
    with transaction(con):   # tonight's lines of every recipient not sent yet (a sent digest keeps its own)
        unsent = "recipient NOT IN (SELECT staff_id FROM ops.email_sends WHERE as_of = ?)"
        con.execute(f"DELETE FROM ops.digest_lines WHERE as_of = ? AND {unsent}", [as_of, as_of])
        con.execute(f"""INSERT INTO ops.digest_lines SELECT recipient, rule_id, student_id, coalesce(meeting_id, ''),
                        status, ? FROM digest_rows WHERE {unsent}""", [as_of, as_of])
    resolved = {(rec, school): (n, lines)
                for rec, school, n, lines in con.execute(sql("digests/resolved", **safe)).fetchall()}
    ledger_night = ledger.latest(con, as_of)
    to_correct: dict[tuple[str, str], list[tuple]] = {}
    if ledger_night is not None:
        for rec, school, *line in con.execute(sql("digests/findings", **safe, ledger_night=ledger_night)).fetchall():
            to_correct.setdefault((rec, school), []).append(tuple(line))
    corrected = {rec: (str(night), gone, added)
                 for rec, night, gone, added in con.execute(sql("digests/corrected", **safe)).fetchall()}
    recipients = rows(con, sql("digests/recipient_list", as_of=as_of.isoformat()))
    by_status = ", ".join(f"count_if(status = {literal(st)})" for st in DIGEST_STATUSES)
    for start in range(0, len(recipients), BATCH):
        batch = recipients[start:start + BATCH]
        ids = [[r["recipient"] for r in batch]]
        blocks: dict[tuple[str, str], dict[str, tuple]] = {}
        for rec, school, section, n, shown, new, week, *per_status in con.execute(
                f"""SELECT recipient, school_id, section, count(*), count_if(shown),
                           count_if(is_new), count_if(act_now), {by_status}
                    FROM digest_rows WHERE recipient IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL""", ids).fetchall():
            blocks.setdefault((rec, school), {})[section] = (n, shown, new, week, per_status)
        lines: dict[tuple[str, str, str], list[tuple]] = {}
        values = ", ".join("CAST(due_date AS VARCHAR)" if c == "due_date" else c for c in LINE)
        for row in con.execute(f"""SELECT recipient, school_id, section, {values} FROM digest_rows
                                   WHERE shown AND recipient IN (SELECT unnest(?::VARCHAR[])) ORDER BY rn""",
                               ids).fetchall():
            lines.setdefault(row[:3], []).append(row[3:])
        csvs = dict(con.execute(
            """SELECT recipient, string_agg(csv, '' ORDER BY rn) FROM digest_rows
               WHERE recipient IN (SELECT unnest(?::VARCHAR[])) GROUP BY recipient HAVING NOT bool_and(shown)""",
            ids).fetchall())
        due: dict[str, list[tuple]] = {}
        for rec, *event in con.execute(
                f"""SELECT recipient, due_date, rule_id, student_id, coalesce(meeting_id, ''), status, rule, school_name
                    FROM digest_rows WHERE recipient IN (SELECT unnest(?::VARCHAR[]))
                      AND status IN ({statuses.sql_list(statuses.OPEN)})
                      AND due_date BETWEEN ? AND ? + {CALENDAR_DAYS - 1} ORDER BY rn""",
                [*ids, as_of, as_of]).fetchall():
            due.setdefault(rec, []).append((*event, actions.get(event[1], "")))
        cancelled: dict[str, list[tuple]] = {}
        for rec, *event in con.execute(sql("digests/calendar_cancelled", as_of=as_of.isoformat(),
                                           days=CALENDAR_DAYS), ids).fetchall():
            rule_id = event[1]
            cancelled.setdefault(rec, []).append((*event[:5], titles.get(rule_id, rule_id), event[5],
                                                  actions.get(rule_id, "")))
        for rec in batch:
            d = Digest(rec["recipient"], [], "", as_of, [], 0, cfg.district.name,
                       first_report=rec["last_as_of"] is None, page_url=cfg.email.page_url)
            for i, name in zip(rec["school_ids"], rec["school_names"], strict=True):
                s = School(i, plain(name, 80))
                s.resolved, s.resolved_lines = resolved.get((rec["recipient"], i), (0, []))
                s.findings = to_correct.get((rec["recipient"], i), [])
                d.resolved += s.resolved
                for key, (n, shown, new, week, sts) in blocks.get((rec["recipient"], i), {}).items():
                    s.counts[key], s.shown[key] = n, shown
                    s.lines[key] = lines.get((rec["recipient"], i, key), [])
                    d.new, d.act_now = d.new + new, d.act_now + week
                    for st, k in zip(DIGEST_STATUSES, sts, strict=True):
                        d.by_status[st] += k
                d.schools.append(s)
            if rec["recipient"] == FALLBACK:
                d.schools = [s for s in d.schools if any(s.counts.values()) or s.resolved or s.findings]
                if not d.schools:
                    continue
                d.to, d.name = [cfg.email.fallback_address], "special education office"
            else:
                d.to, d.name = [rec["email"]] if rec["email"] else [], rec["name"]
            if rec["recipient"] in csvs:
                d.attachments.append(Attachment(f"{d.file_stem}.csv", "text/csv",
                                                (",".join(CSV_COLUMNS) + "\r\n" + csvs[rec["recipient"]]).encode()))
            d.corrected = corrected.get(rec["recipient"])
            d.due = due.get(rec["recipient"], [])
            d.cancelled = cancelled.get(rec["recipient"], [])
            yield d


CALENDAR_EPOCH = date(2000, 1, 1)   # an event's SEQUENCE: the days from this to the night


def calendar(d: Digest, events: list[tuple], cancelled: list[tuple] = ()) -> bytes:
    """A digest's calendar, as a feed of its open items: one all-day event per item due in the
    next 30 days, with what to do in its description, and every item of the last report's
    calendar that is no longer open, cancelled (STATUS:CANCELLED). An item's UID is stable across
    nights and its SEQUENCE grows with the night, so a calendar updates or cancels the event it
    has rather than adding another; the calendar's name is the same every night. No student
    names; the timestamp is the as-of date's midnight (UTC), never the wall clock. Each distinct
    event is written once per night (``_event``, cached): the same item is in the digest of every
    coordinator of its school."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", "-//iepwatch//IEP deadlines//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"IEP deadlines — {plain(d.district, 80)}")
    head, end = cal.to_ical().rsplit(b"END:VCALENDAR", 1)
    return b"".join([head, *(_event(d.as_of, *e) for e in events),
                     *(_event(d.as_of, *e, cancelled=True) for e in cancelled), b"END:VCALENDAR", end])


@functools.lru_cache(maxsize=20_000)
def _event(as_of: date, due_date: date, rule_id: str, student_id: str, meeting_key: str, status: str, rule: str,
           school: str, action: str = "", cancelled: bool = False) -> bytes:
    """One all-day VEVENT, written here: the bytes icalendar's ``Event.to_ical()`` writes for it (a
    test compares the two on many values), at a small part of the cost: serialising through the
    library was most of the rendering of a night's mail at state scale."""
    uid = hashlib.sha256("\x00".join((rule_id, student_id, meeting_key)).encode()).hexdigest()[:32] + "@iepwatch"
    summary = f"{'Resolved' if cancelled else 'IEP due'}: {rule} — student {student_id}, {plain(school, 80)}"
    todo = "no longer open: nothing to do" if cancelled else f"{action or rule} by {due_date.isoformat()}"
    description = f"{todo}. Student {student_id}, {plain(school, 80)}; as of {as_of.isoformat()} (iepwatch)."
    return b"".join([b"BEGIN:VEVENT\r\n", _fold("SUMMARY:" + _ical_text(summary)),
                     b"DTSTART;VALUE=DATE:", _ical_date(due_date), b"\r\n",
                     b"DTSTAMP:", _ical_date(as_of), b"T000000Z\r\n",
                     _fold("UID:" + uid), b"SEQUENCE:", str((as_of - CALENDAR_EPOCH).days).encode(), b"\r\n",
                     _fold("DESCRIPTION:" + _ical_text(description)),
                     b"STATUS:CANCELLED\r\n" if cancelled else b"", b"END:VEVENT\r\n"])


def _ical_date(d: date) -> bytes:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}".encode()


def _ical_text(text: str) -> str:
    """An iCalendar TEXT value escaped (RFC 5545 3.3.11) as icalendar escapes it, in its order."""
    return (text.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> bytes:
    """A content line folded as icalendar folds it (RFC 5545 3.1): pieces of at most 74 octets,
    never inside a UTF-8 character, and never ending in a backslash or caret (an escape stays
    whole), joined by CRLF and a space; CRLF at the end."""
    b, out, start = line.encode(), [], 0
    while len(b) - start > 74:
        end = start + 74
        while b[end] & 0xC0 == 0x80:   # a continuation byte: cut before its character
            end -= 1
        if end - start > 1 and b[end - 1] in b"\\^":
            end -= 1
        out.append(b[start:end])
        start = end
    out.append(b[start:])
    return b"\r\n ".join(out) + b"\r\n"


@functools.cache
def _env(templates_dir: Path | None, html: bool):
    """The Jinja environment (compiled templates are cached in it: built once per process)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    dirs = [str(templates_dir)] if templates_dir else []
    return Environment(loader=ChoiceLoader([FileSystemLoader(d) for d in [*dirs, str(TEMPLATES)]]),
                       autoescape=html, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(digest: Digest, cfg: Config) -> dict:
    """Subject, plain text and HTML of a digest (its CSS inlined for mail clients, which drop or
    ignore <style>), its attachments (the CSV of a long digest, the calendar of its open items
    due within 30 days), and a sha256 digest of them all. Pure: no I/O, so it can run in a
    worker process (``renderer.Renderer``) while the previous digest is on the wire."""
    attachments = list(digest.attachments)
    if digest.due or digest.cancelled:
        attachments.append(Attachment(f"{digest.file_stem}-due.ics", "text/calendar; method=PUBLISH",
                                      calendar(digest, digest.due, digest.cancelled)))
    ctx = {"d": digest, "sections": SECTIONS, "labels": statuses.LABELS}
    subject = plain(" ".join(_env(cfg.email.templates_dir, False).get_template("subject.txt.j2").render(**ctx).split()),
                    SUBJECT_MAX)
    text = _env(cfg.email.templates_dir, False).get_template("digest.txt.j2").render(**ctx)
    html = _inliner().inline(_env(cfg.email.templates_dir, True).get_template("digest.html.j2").render(**ctx))
    sha = hashlib.sha256()
    for part in (subject, text, html, *(f"{a.filename}\x00{a.mime}" for a in attachments)):
        sha.update(part.encode() + b"\x00")
    for a in attachments:
        sha.update(a.data)
    return {"subject": subject, "text": text, "html": html, "attachments": attachments, "sha256": sha.hexdigest()}


@functools.cache
def _inliner():
    """css-inline (Rust): the <style> rules written onto each element, the way mail clients need."""
    import css_inline

    return css_inline.CSSInliner(load_remote_stylesheets=False)
