"""The findings ledger of a night (docs/corrections.md): the findings folder read and checked,
tonight's checks of prong 1 and prong 2 (``corrections/checks.sql``), the ledger of tonight and
every later night rebuilt (``corrections/ledger.sql``), all in one transaction; and what the
data team is told about it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

from iepwatch import run_record
from iepwatch.config import Config
from iepwatch.corrections import findings
from iepwatch.files import write_json
from iepwatch.rules import catalog as rule_catalog
from iepwatch.rules.evaluate import params as rule_params
from iepwatch.rules.evaluate import rules_in_force
from iepwatch.warehouse import formula_guard_sql, literal, sql, transaction

ALERT_DAYS = (90, 30)   # an open finding this many days before its deadline: the data team is told


@dataclass(frozen=True)
class Update:
    findings: int                  # in effect tonight
    by_status: dict[str, int]      # findings by status
    alerts: list[str]              # for the data team (no student named)


def transition_rules() -> list[str]:
    """The meeting rules that judge transition meetings only (their catalog params)."""
    return [r.rule_id for r in rule_catalog.rules().values() if r.params.get("transition_meetings")]


def update(con, cfg: Config, as_of: date, export_id: str, src: str = "core", facts: str = "facts") -> Update:
    """Read the findings folder (a DataError leaves the ledger as it was), check tonight, rebuild
    the ledger of tonight and the later nights."""
    findings.read(con, cfg.corrections.folder, rules_in_force(cfg))
    with transaction(con):
        con.execute(meeting_fails(con, cfg, as_of, src, facts))
        con.execute(sql("corrections/checks", as_of=as_of.isoformat(), src=src, facts=facts, export_id=export_id,
                        prong2_records=cfg.corrections.prong2_records, transition_rules=transition_rules()))
        con.execute(sql("corrections/ledger", since=as_of.isoformat()))
    by_status = dict(con.execute("SELECT status, count(*) FROM corrections.ledger_findings WHERE as_of = ? "
                                 "GROUP BY 1 ORDER BY 1", [as_of]).fetchall())
    return Update(sum(by_status.values()), by_status, alerts(con, as_of))


def meeting_fails(con, cfg: Config, as_of: date, src: str, facts: str) -> str:
    """The SQL of ``temp.meeting_fails``: each meeting rule with a finding judges the meetings the
    ledger reads, before the reporting window too (``corrections/meeting_fails.sql``)."""
    named = {r for (r,) in con.execute("SELECT DISTINCT requirement FROM temp.findings_in WHERE kind = 'meeting'"
                                       ).fetchall()}
    p = rule_params(cfg, as_of, src, facts)
    return sql("corrections/meeting_fails", **p,
               meeting_rules=[rule for rule in p["meeting_catalog"] if rule.rule_id in named])


def alerts(con, as_of: date) -> list[str]:
    """What the data team hears tonight, each once: an open finding reaching 90 and 30 days before
    its deadline, a finding becoming overdue, an instance becoming unmatched (compared with the
    ledger's previous night; the first night compares with nothing)."""
    prev = con.execute("SELECT max(as_of) FROM corrections.nights WHERE as_of < ?", [as_of]).fetchone()[0]
    out = []
    for fid, requirement, deadline, status, days_left, was_status, was_left in con.execute(
            """SELECT f.finding_id, f.requirement, f.deadline, f.status, f.days_left, p.status, p.days_left
               FROM corrections.ledger_findings f
               LEFT JOIN corrections.ledger_findings p ON p.finding_id = f.finding_id AND p.as_of = ?
               WHERE f.as_of = ? ORDER BY f.deadline, f.finding_id""", [prev, as_of]).fetchall():
        if status == "overdue" and was_status != "overdue":
            out.append(f"finding {fid} ({requirement}) is overdue: its deadline was {deadline} and it is not corrected")
        for days in ALERT_DAYS:
            if status == "open" and days_left <= days and (was_left is None or was_left > days) and \
                    not any(days_left <= d < days for d in ALERT_DAYS):
                out.append(f"finding {fid} ({requirement}): {days_left} days left to correct it "
                           f"(deadline {deadline}; {days}-day notice)")
    for fid, n in con.execute(
            """SELECT i.finding_id, count(*) FROM corrections.ledger_instances i
               LEFT JOIN corrections.ledger_instances p
                      ON p.as_of = ? AND p.finding_id = i.finding_id AND p.student_id = i.student_id
                     AND p.meeting_key = i.meeting_key AND p.due_date IS NOT DISTINCT FROM i.due_date
               WHERE i.as_of = ? AND i.status = 'unmatched' AND p.status IS DISTINCT FROM 'unmatched'
               GROUP BY 1 ORDER BY 1""", [prev, as_of]).fetchall():
        out.append(f"finding {fid}: {n} instance{'s' if n != 1 else ''} unmatched in tonight's data (the student, "
                   "meeting or timeline is not there: a corrected date moves a due date, for instance); the data "
                   "team must look (the iepwatch page lists them)")
    return out


def write_record(con, cfg: Config, as_of: date) -> None:
    """The night's ledger for the page (which never reads the warehouse): ``findings.json``,
    counts only, and ``finding_cases.csv``, each instance and prong-2 record (student-level)."""
    cur = con.execute("SELECT * FROM corrections.ledger_findings WHERE as_of = ? ORDER BY deadline, finding_id",
                      [as_of])
    cols = [c[0] for c in cur.description]
    found = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(cols, r, strict=True)}
             for r in cur.fetchall()]
    folder = cfg.run_dir(as_of)
    write_json(folder / run_record.FINDINGS, {"as_of": as_of.isoformat(),
                                              "prong2_required": cfg.corrections.prong2_records,
                                              "findings": found})
    tmp = folder / f".{run_record.FINDING_CASES}.tmp"
    con.execute(f"""COPY (
        SELECT 'instance' AS kind, finding_id, {formula_guard_sql('student_id')} AS student_id, school_id,
               {formula_guard_sql("nullif(meeting_key, '')")} AS meeting_id, due_date AS date, status, corrected_on,
               evidence_as_of, evidence_export_id, evidence_event_date, evidence_meeting_id, NULL::BIGINT AS seq
        FROM corrections.ledger_instances WHERE as_of = DATE '{as_of.isoformat()}'
        UNION ALL
        SELECT 'review', finding_id, {formula_guard_sql('student_id')}, school_id,
               {formula_guard_sql("nullif(meeting_key, '')")}, record_date,
               CASE WHEN evidence THEN 'evidence' ELSE 'progress' END, NULL, NULL, NULL, NULL, NULL, seq
        FROM corrections.ledger_review WHERE as_of = DATE '{as_of.isoformat()}'
        ORDER BY finding_id, kind, seq, student_id, meeting_id, date)
        TO {literal(tmp)} (HEADER, DATEFORMAT '%Y-%m-%d')""")
    os.replace(tmp, folder / run_record.FINDING_CASES)


def later_nights(con, as_of: date) -> list[date]:
    """The ledger's nights after ``as_of`` (rebuilt when ``as_of`` is backfilled)."""
    return [r[0] for r in con.execute("SELECT as_of FROM corrections.nights WHERE as_of > ? ORDER BY 1",
                                      [as_of]).fetchall()]


def latest(con, as_of: date) -> date | None:
    """The ledger's night shown for ``as_of``: tonight's, or the last good one before it (a broken
    findings folder leaves the last good ledger published)."""
    return con.execute(f"SELECT {sql('corrections/ledger_night', as_of=as_of.isoformat())}").fetchone()[0]
