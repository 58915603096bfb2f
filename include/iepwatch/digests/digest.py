"""Build and render each recipient's nightly digest (no I/O besides the warehouse query)."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from iepwatch.config import Config
from iepwatch.contract import CONTROL_CHARS, DIRECTION_OVERRIDES
from iepwatch.rules import catalog
from iepwatch.warehouse import rows, sql, transaction

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTIONS = (  # (key, heading, statuses): every status a digest lists (statuses.OPEN + statuses.ONCE)
    ("overdue", "Overdue", ("overdue",)),
    ("due_soon", "Due soon", ("due_soon",)),
    ("new", "New since the last email: late and violations", ("late", "violation")),
    ("warnings", "Worth a look (warnings)", ("warning",)),
)
FALLBACK = "FALLBACK"


@dataclass
class School:
    school_id: str
    name: str
    sections: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k, _, _ in SECTIONS})

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.sections.items()}


@dataclass
class Digest:
    recipient: str            # coordinator staff_id, or FALLBACK
    to: list[str]
    name: str
    as_of: date
    schools: list[School]
    resolved: int
    district: str

    def total(self, key: str) -> int:
        return sum(s.counts[key] for s in self.schools)

    @property
    def actionable(self) -> bool:
        return any(self.total(k) for k, _, _ in SECTIONS)


_UNSAFE = re.compile(f"[{CONTROL_CHARS}{DIRECTION_OVERRIDES}]")
SUBJECT_MAX = 200    # characters: a header, whatever the school names hold


def plain(text: str | None, most: int = 500) -> str:
    """Free text from the export made safe for a mail: control characters and direction overrides
    become '?', and it is cut to ``most`` characters."""
    text = _UNSAFE.sub("?", text or "")
    return text if len(text) <= most else text[: most - 1] + "…"


def student_label(first: str | None, last: str | None, mode: str) -> str:
    first, last = plain(first, 80), plain(last, 80)
    if mode == "full":
        return " ".join(x for x in (first, last) if x)
    return "".join(f"{x.strip()[0].upper()}." for x in (first, last) if x and x.strip())


def ensure_send_log(con) -> None:
    """The send log: ``ops.email_sends``, one row per digest sent (as_of, staff_id, content sha256,
    Message-ID), and ``ops.email_items``, each exception a recipient was emailed about (what makes
    an item "new": never emailed to this recipient)."""
    con.execute("""CREATE TABLE IF NOT EXISTS ops.email_sends (
        as_of DATE, staff_id VARCHAR, digest VARCHAR, message_id VARCHAR, PRIMARY KEY (as_of, staff_id))""")
    con.execute("""CREATE TABLE IF NOT EXISTS ops.email_items (
        recipient VARCHAR, rule_id VARCHAR, student_id VARCHAR, meeting_key VARCHAR, status VARCHAR, as_of DATE)""")


def record_sent(con, d: Digest, sha256: str, message_id: str) -> None:
    """The digest and every item in it, recorded together right after the server accepted it."""
    import pyarrow as pa

    rows_ = [x for s in d.schools for section in s.sections.values() for x in section]
    items = pa.table({"recipient": [d.recipient] * len(rows_), "rule_id": [x["rule_id"] for x in rows_],
                      "student_id": [x["student_id"] for x in rows_],
                      "meeting_key": [x["meeting_id"] or "" for x in rows_], "status": [x["status"] for x in rows_],
                      "as_of": pa.array([d.as_of] * len(rows_), pa.date32())})
    con.register("_digest_items", items)
    try:
        with transaction(con):   # one statement for the items, not one per row
            con.execute("INSERT INTO ops.email_sends VALUES (?, ?, ?, ?)",
                        [d.as_of, d.recipient, sha256, message_id])
            con.execute("INSERT INTO ops.email_items SELECT * FROM _digest_items")
    finally:
        con.unregister("_digest_items")


def build(con, cfg: Config, as_of: date) -> list[Digest]:
    """One Digest per coordinator with assigned schools (and one for the fallback address).

    One query gives the rows of every recipient, one the recipients (``email_recipients.sql``
    defines both); the rows are grouped by recipient and school in one pass.
    """
    mode = cfg.email.email_student_names
    titles = {k: v["title"] for k, v in catalog(cfg).items()}
    section_of = {status: key for key, _, statuses in SECTIONS for status in statuses}
    ensure_send_log(con)
    by_recipient: dict[str, dict[str, dict[str, list[dict]]]] = {}
    for r in rows(con, sql("email_rows", as_of=as_of.isoformat())):
        by_recipient.setdefault(r["recipient"], {}).setdefault(r["school_id"], {k: [] for k, _, _ in SECTIONS})[
            section_of[r["status"]]].append({
                "student_id": r["student_id"],
                "student": student_label(r["first_name"], r["last_name"], mode),
                "rule": titles[r["rule_id"]], "rule_id": r["rule_id"], "status": r["status"],
                "due_date": r["due_date"], "days_overdue": r["days_overdue"], "event_date": r["event_date"],
                "detail": plain(r["detail"]), "new": r["is_new"], "meeting_id": r["meeting_id"]})
    resolved = dict(con.execute(sql("email_resolved", as_of=as_of.isoformat())).fetchall())
    digests = []
    for rec in rows(con, sql("email_recipient_list", as_of=as_of.isoformat())):
        mine = by_recipient.get(rec["recipient"], {})
        schools = [School(i, plain(n, 80), mine.get(i) or {k: [] for k, _, _ in SECTIONS})
                   for i, n in zip(rec["school_ids"], rec["school_names"], strict=True)]
        if rec["recipient"] == FALLBACK:
            schools = [s for s in schools if any(s.counts.values())]
            if not schools:
                continue
            to, name = [cfg.email.fallback_address], "special education office"
        else:
            to, name = [rec["email"]] if rec["email"] else [], rec["name"]
        digests.append(Digest(rec["recipient"], to, name, as_of, schools, resolved.get(rec["recipient"], 0),
                              cfg.district.name))
    return digests


@functools.cache
def _env(templates_dir: Path | None, html: bool):
    """The Jinja environment (compiled templates are cached in it: built once per process)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    dirs = [str(templates_dir)] if templates_dir else []
    return Environment(loader=ChoiceLoader([FileSystemLoader(d) for d in [*dirs, str(TEMPLATES)]]),
                       autoescape=html, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(digest: Digest, cfg: Config) -> dict[str, str]:
    """Subject, plain text and HTML of a digest, and a sha256 digest of the three."""
    ctx = {"d": digest, "sections": SECTIONS}
    subject = plain(" ".join(_env(cfg.email.templates_dir, False).get_template("subject.txt.j2").render(**ctx).split()),
                    SUBJECT_MAX)
    text = _env(cfg.email.templates_dir, False).get_template("digest.txt.j2").render(**ctx)
    html = _env(cfg.email.templates_dir, True).get_template("digest.html.j2").render(**ctx)
    sha = hashlib.sha256("\x00".join((subject, text, html)).encode()).hexdigest()
    return {"subject": subject, "text": text, "html": html, "sha256": sha}
