"""Build and render each recipient's nightly digest (no I/O besides the warehouse query)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from markupsafe import Markup

from iepwatch.config import Config
from iepwatch.contract import CONTROL_CHARS, DIRECTION_OVERRIDES
from iepwatch.rules import catalog
from iepwatch.warehouse import literal, rows, sql, transaction

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
    """One school of a digest: per section, its number of items and its lines (written in DuckDB)."""
    school_id: str
    name: str
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _, _ in SECTIONS})
    html: dict[str, Markup] = field(default_factory=lambda: {k: Markup("") for k, _, _ in SECTIONS})
    text: dict[str, str] = field(default_factory=lambda: {k: "" for k, _, _ in SECTIONS})


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


_UNSAFE_CLASS = f"[{CONTROL_CHARS}{DIRECTION_OVERRIDES}]"
_UNSAFE = re.compile(_UNSAFE_CLASS)
SUBJECT_MAX = 200    # characters: a header, whatever the school names hold


def plain(text: str | None, most: int = 500) -> str:
    """Free text from the export made safe for a mail: control characters and direction overrides
    become '?', and it is cut to ``most`` characters (email_rows.sql does the same in DuckDB)."""
    text = _UNSAFE.sub("?", text or "")
    return text if len(text) <= most else text[: most - 1] + "…"


def ensure_send_log(con) -> None:
    """The send log: ``ops.email_sends``, one row per digest sent (as_of, staff_id, content sha256,
    Message-ID); ``ops.digest_lines``, the exceptions each night's digest of a recipient lists,
    written once before the sending; and the view ``ops.email_items``, the lines of the digests
    that were sent: each exception a recipient was emailed about (what makes an item "new":
    never emailed to this recipient). Recording a digest as sent is then one row, whatever the
    number of its lines. (A warehouse from before keeps its items: they move to digest_lines.)"""
    con.execute("""CREATE TABLE IF NOT EXISTS ops.email_sends (
        as_of DATE, staff_id VARCHAR, digest VARCHAR, message_id VARCHAR, PRIMARY KEY (as_of, staff_id))""")
    con.execute("""CREATE TABLE IF NOT EXISTS ops.digest_lines (
        recipient VARCHAR, rule_id VARCHAR, student_id VARCHAR, meeting_key VARCHAR, status VARCHAR, as_of DATE)""")
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'ops' "
                       "AND table_name = 'email_items'").fetchone()
    if kind and kind[0] == "BASE TABLE":
        with transaction(con):
            con.execute("INSERT INTO ops.digest_lines SELECT * FROM ops.email_items")
            con.execute("DROP TABLE ops.email_items")
    con.execute("""CREATE VIEW IF NOT EXISTS ops.email_items AS
        SELECT l.* FROM ops.digest_lines l JOIN ops.email_sends s ON s.as_of = l.as_of AND s.staff_id = l.recipient""")


def record_sent(con, d: Digest, sha256: str, message_id: str) -> None:
    """The digest recorded sent, right after the server accepted it: its lines (written by
    ``build``) count as emailed from then on."""
    con.execute("INSERT INTO ops.email_sends VALUES (?, ?, ?, ?)", [d.as_of, d.recipient, sha256, message_id])


BATCH = 100   # recipients whose lines are in memory at once


def build(con, cfg: Config, as_of: date) -> Iterator[Digest]:
    """One Digest per coordinator with assigned schools (and one for the fallback address), in
    recipient order, ``BATCH`` recipients' lines in memory at a time.

    ``email_rows.sql`` selects and writes every line of the night in one pass (into the
    connection's temporary ``digest_rows``); here they are only joined per school and section.
    """
    titles = {k: v["title"] for k, v in catalog(cfg).items()}
    ensure_send_log(con)
    con.execute("CREATE OR REPLACE TEMP TABLE digest_rows AS "
                + sql("email_rows", as_of=as_of.isoformat(), titles=titles, sections=SECTIONS,
                      unsafe=literal(_UNSAFE_CLASS), names=cfg.email.email_student_names))
    with transaction(con):   # tonight's lines of every recipient not sent yet (a sent digest keeps its own)
        unsent = "recipient NOT IN (SELECT staff_id FROM ops.email_sends WHERE as_of = ?)"
        con.execute(f"DELETE FROM ops.digest_lines WHERE as_of = ? AND {unsent}", [as_of, as_of])
        con.execute(f"""INSERT INTO ops.digest_lines SELECT recipient, rule_id, student_id, coalesce(meeting_id, ''),
                        status, ? FROM digest_rows WHERE {unsent}""", [as_of, as_of])
    resolved = dict(con.execute(sql("email_resolved", as_of=as_of.isoformat())).fetchall())
    recipients = rows(con, sql("email_recipient_list", as_of=as_of.isoformat()))
    for start in range(0, len(recipients), BATCH):
        batch = recipients[start:start + BATCH]
        blocks: dict[tuple[str, str], dict[str, tuple[int, str, str]]] = {}
        for rec, school, section, n, html, text in con.execute(
                """SELECT recipient, school_id, section, count(*), string_agg(html, '' ORDER BY rn),
                          string_agg(text, '' ORDER BY rn)
                   FROM digest_rows WHERE recipient IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL""",
                [[r["recipient"] for r in batch]]).fetchall():
            blocks.setdefault((rec, school), {})[section] = (n, html, text)
        for rec in batch:
            schools = []
            for i, name in zip(rec["school_ids"], rec["school_names"], strict=True):
                s = School(i, plain(name, 80))
                for key, (n, html, text) in blocks.get((rec["recipient"], i), {}).items():
                    s.counts[key], s.html[key], s.text[key] = n, Markup(html), text
                schools.append(s)
            if rec["recipient"] == FALLBACK:
                schools = [s for s in schools if any(s.counts.values())]
                if not schools:
                    continue
                to, name = [cfg.email.fallback_address], "special education office"
            else:
                to, name = [rec["email"]] if rec["email"] else [], rec["name"]
            yield Digest(rec["recipient"], to, name, as_of, schools, resolved.get(rec["recipient"], 0),
                         cfg.district.name)


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
