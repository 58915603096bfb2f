"""Build and render each recipient's nightly digest (no I/O besides the warehouse query)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from iepwatch.config import Config
from iepwatch.rules import catalog
from iepwatch.warehouse import sql

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTIONS = (  # (key, heading, statuses)
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


def student_label(first: str | None, last: str | None, mode: str) -> str:
    if mode == "full":
        return " ".join(x for x in (first, last) if x)
    return "".join(f"{x.strip()[0].upper()}." for x in (first, last) if x and x.strip())


def ensure_send_log(con) -> None:
    """``ops.email_sends``: one row per digest sent (as_of, staff_id, content sha256, Message-ID)."""
    con.execute("""CREATE TABLE IF NOT EXISTS ops.email_sends (
        as_of DATE, staff_id VARCHAR, digest VARCHAR, message_id VARCHAR, PRIMARY KEY (as_of, staff_id))""")


def build(con, cfg: Config, as_of: date) -> list[Digest]:
    """One Digest per coordinator with assigned schools (and one for the fallback address)."""
    mode = cfg.email.get("email_student_names", "initials")
    titles = {k: v["title"] for k, v in catalog().items()}
    ensure_send_log(con)
    cur = con.execute(sql("email_rows", as_of=as_of.isoformat()))
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    coordinators = con.execute("""
        SELECT a.staff_id, s.email, trim(coalesce(s.first_name, '') || ' ' || coalesce(s.last_name, '')),
               list(a.school_id ORDER BY a.school_id), list(sc.school_name ORDER BY a.school_id)
        FROM core.coordinator_assignments a JOIN core.staff s USING (staff_id) JOIN core.schools sc USING (school_id)
        GROUP BY 1, 2, 3 ORDER BY 1""").fetchall()
    uncovered = con.execute("""SELECT school_id, school_name FROM core.schools WHERE school_id NOT IN
                               (SELECT school_id FROM core.coordinator_assignments) ORDER BY 1""").fetchall()
    resolved = dict(con.execute(sql("email_resolved", as_of=as_of.isoformat())).fetchall())

    def schools_of(recipient: str, ids: list[str], names: list[str]) -> list[School]:
        schools = {i: School(i, n) for i, n in zip(ids, names, strict=True)}
        for r in rows:
            if r["recipient"] != recipient or r["school_id"] not in schools:
                continue
            key = next(k for k, _, statuses in SECTIONS if r["status"] in statuses)
            schools[r["school_id"]].sections[key].append({
                "student_id": r["student_id"], "student": student_label(r["first_name"], r["last_name"], mode),
                "rule": titles[r["rule_id"]], "rule_id": r["rule_id"], "status": r["status"],
                "due_date": r["due_date"], "days_overdue": r["days_overdue"], "event_date": r["event_date"],
                "detail": r["detail"], "new": r["is_new"], "meeting_id": r["meeting_id"]})
        return list(schools.values())

    digests = [Digest(staff_id, [email] if email else [], name, as_of, schools_of(staff_id, ids, names),
                      resolved.get(staff_id, 0), cfg.district_name)
               for staff_id, email, name, ids, names in coordinators]
    if uncovered:
        schools = [s for s in schools_of(FALLBACK, [u[0] for u in uncovered], [u[1] for u in uncovered])
                   if any(s.counts.values())]
        if schools:
            digests.append(Digest(FALLBACK, [cfg.email["fallback_address"]], "special education office", as_of,
                                  schools, resolved.get(FALLBACK, 0), cfg.district_name))
    return digests


def _env(cfg: Config, html: bool):
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    dirs = [cfg.email["templates_dir"]] if cfg.email.get("templates_dir") else []
    return Environment(loader=ChoiceLoader([FileSystemLoader(d) for d in [*dirs, str(TEMPLATES)]]),
                       autoescape=html, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(digest: Digest, cfg: Config) -> dict[str, str]:
    """Subject, plain text and HTML of a digest, and a sha256 digest of the three."""
    ctx = {"d": digest, "sections": SECTIONS}
    subject = " ".join(_env(cfg, False).get_template("subject.txt.j2").render(**ctx).split())
    text = _env(cfg, False).get_template("digest.txt.j2").render(**ctx)
    html = _env(cfg, True).get_template("digest.html.j2").render(**ctx)
    sha = hashlib.sha256("\x00".join((subject, text, html)).encode()).hexdigest()
    return {"subject": subject, "text": text, "html": html, "sha256": sha}
