"""Evaluate every compliance rule as of the run's date and keep the exceptions.

The rule catalog (ids, citations, plain-words titles) is the compliance suite
``expectations/compliance/rules.json``; conditions and thresholds live in
``include/sql/facts_*.sql`` and ``rule_results.sql``, rendered from the config.
"""

from __future__ import annotations

import json
import os
from datetime import date
from functools import cache
from pathlib import Path

from iepwatch.config import Config
from iepwatch.files import write_json
from iepwatch.night import school_year_start
from iepwatch.warehouse import formula_guard_sql, literal, sql, transaction
from iepwatch.warehouse import rows as dict_rows

SUITE = Path(__file__).resolve().parents[2] / "expectations" / "compliance" / "rules.json"
TEAM_ROLES = {  # role -> (rule, plain words)
    "general_education_teacher": ("TEAM_GENERAL_ED_TEACHER", "general education teacher"),
    "special_education_teacher": ("TEAM_SPECIAL_ED_TEACHER", "special education teacher"),
    "lea_representative": ("TEAM_LEA_REPRESENTATIVE", "LEA representative"),
    "evaluation_interpreter": ("TEAM_EVALUATION_INTERPRETER", "person who can interpret evaluation results"),
}
ROLE_NAMES = {"parent": "parent", **{role: name for role, (_, name) in TEAM_ROLES.items()}}
EXCEPTION_COLUMNS = ("as_of", "rule_id", "status", "severity", "student_id", "meeting_id", "school_id",
                     "case_manager_staff_id", "due_date", "event_date", "days_overdue", "detail",
                     "first_detected_on")


@cache
def json_catalog() -> dict[str, dict]:
    """The federal rules: rule_id -> {citation, title, kind}, in the order of docs/rules.md."""
    suite = json.loads(SUITE.read_text(encoding="utf-8"))
    return {e["meta"]["iepwatch"]["rule_id"]: e["meta"]["iepwatch"] for e in suite["expectations"]}


def catalog(cfg: Config | None = None) -> dict[str, dict]:
    """Every rule's id, citation, title and kind: the federal rules, every built-in state pack's
    rules, and the rules of the district's own pack when ``cfg`` is given."""
    from iepwatch import packs

    out = {**json_catalog(), **packs.catalog_entries()}
    if cfg is not None:
        for p in cfg.pack.rules:
            out[p.rule_id] = packs.catalog_entry(p.rule_id, p.citation, p.title)
    return out


def rules_in_force(cfg: Config) -> dict[str, dict]:
    """The rules evaluated under the configured pack: the federal ones it keeps, then the pack's own."""
    everything = catalog(cfg)
    return {**{k: v for k, v in json_catalog().items() if k not in cfg.pack.replaces},
            **{p.rule_id: everything[p.rule_id] for p in cfg.pack.rules}}


def params(cfg: Config, as_of: date, src: str = "core") -> dict:
    """What every rule and extract template is rendered with: the night, the window, the settings.

    ``src`` is the schema the night's tables are read from: ``core`` (the published night) or
    ``backfill`` (an older night evaluated without replacing it).
    """
    r = cfg.rules
    pack = cfg.pack
    in_force = rules_in_force(cfg)
    warn_days = {**{k: getattr(r, k).warn_days for k, v in json_catalog().items() if v["kind"] == "timeline"},
                 **{p.rule_id: p.warn_days for p in pack.rules}}
    return {
        "as_of": as_of.isoformat(),
        "src": src,
        "pack": pack,
        "warn_days": warn_days,
        "window_start": school_year_start(as_of, r.school_year_start),
        "transition_age": r.transition_age,
        "r": r,
        "exempt_reasons": ", ".join(literal(x) for x in r.EVAL_60_DAY.exempt_delay_reasons) or "NULL",
        "timeline_rules": [k for k, v in in_force.items() if v["kind"] == "timeline"],
        "meeting_rules": [k for k, v in in_force.items() if v["kind"] == "meeting"],
        "team_rules": [(rule, role, name) for role, (rule, name) in TEAM_ROLES.items()],
        "roles": ["parent", *TEAM_ROLES],
        "role_names": ROLE_NAMES,
    }


def evaluate(con, cfg: Config, as_of: date, src: str = "core") -> dict[str, dict[str, int]]:
    """Build facts.* and facts.rule_results in one transaction; returns counts by rule and status."""
    p = params(cfg, as_of, src)
    steps = ["facts_students", "facts_timelines"]
    if cfg.pack.rules:
        steps += ["facts_calendar", "facts_pack"]
    with transaction(con):
        for name in (*steps, "facts_meetings", "rule_results"):
            con.execute(sql(name, **p))
    counts: dict[str, dict[str, int]] = {}
    for rule, status, n in con.execute("SELECT rule_id, status, count(*) FROM facts.rule_results GROUP BY 1, 2"
                                       " ORDER BY 1, 2").fetchall():
        counts.setdefault(rule, {})[status] = n
    return counts


def calendar_gaps(con) -> list[str]:
    """After ``evaluate``: each school calendar that lacks dates a reported due date needs, with its
    span, how many due dates and the dates they need (for the night's warnings; no student named)."""
    calendar_read = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'calendar' AND temporary"
    if not con.execute(calendar_read).fetchone()[0]:
        return []   # a pack counted in calendar days only, or the federal rules: no calendar read
    rows = con.execute("""
        WITH g AS (
            SELECT t.gap_calendar, t.gap_date
            FROM temp.timelines t
            JOIN (SELECT rule_id, student_id, item_id FROM facts.rule_results
                  WHERE status = 'warning' AND due_date IS NULL) r USING (rule_id, student_id, item_id)
            WHERE t.gap_calendar IS NOT NULL),
        span AS (
            SELECT sc.cal_name, min(c.d) AS first_date, max(c.d) AS last_date
            FROM (SELECT DISTINCT cal, cal_name FROM temp.student_calendar) sc JOIN temp.calendar c USING (cal)
            GROUP BY ALL)
        SELECT g.gap_calendar, s.first_date, s.last_date, count(*),
               min(g.gap_date) FILTER (WHERE g.gap_date < s.first_date OR s.first_date IS NULL),
               max(g.gap_date) FILTER (WHERE g.gap_date > s.last_date),
               count(*) FILTER (WHERE g.gap_date BETWEEN s.first_date AND s.last_date)
        FROM g LEFT JOIN span s ON s.cal_name = g.gap_calendar
        GROUP BY ALL ORDER BY 1""").fetchall()
    out = []
    for name, first, last, n, before, after, inside in rows:
        if first is None:
            out.append(f"calendar gap: {n} due date{'s' if n != 1 else ''} cannot be computed: no {name} in the "
                       "export (school_calendar.csv)")
            continue
        lacks = [f"dates before {first} (back to {before})"] if before else []
        lacks += [f"dates after {last} (up to {after})"] if after else []
        lacks += [f"the end of a school year it stops inside ({inside})"] if inside else []
        out.append(f"calendar gap: {n} due date{'s' if n != 1 else ''} cannot be computed from the {name} "
                   f"({first}..{last}): it lacks {'; '.join(lacks)}. Those rows are warnings with an empty due "
                   "date until the calendar is extended")
    return out


def build_exceptions(con, cfg: Config, as_of: date) -> dict[str, int]:
    """The night's compliance.exceptions (delete-then-insert: idempotent), then the history of this
    night and every later one (first_detected_on, compliance.resolved), all in one transaction."""
    earliest_due = ", ".join(literal(p.rule_id) for p in cfg.pack.rules) or "NULL"
    with transaction(con):
        con.execute(sql("exceptions", as_of=as_of.isoformat(), earliest_due=earliest_due))
        con.execute(sql("exceptions_history", since=as_of.isoformat()))
    counts = dict(con.execute("SELECT status, count(*) FROM compliance.exceptions WHERE as_of = ? GROUP BY 1",
                              [as_of]).fetchall())
    counts["resolved"] = con.execute("SELECT count(*) FROM compliance.resolved WHERE as_of = ?",
                                     [as_of]).fetchone()[0]
    return counts


def write_exceptions_csv(con, as_of: date, path: Path) -> Path:
    """exceptions.csv for the night: header, ISO dates, sorted, spreadsheet formulas guarded; written to a
    temp name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    guarded = ("student_id", "meeting_id", "school_id", "case_manager_staff_id", "detail")   # text from the export
    cols = ", ".join(f"{formula_guard_sql(c)} AS {c}" if c in guarded else c for c in EXCEPTION_COLUMNS)
    con.execute(f"""COPY (SELECT {cols} FROM compliance.exceptions
                          WHERE as_of = DATE '{as_of.isoformat()}'
                          ORDER BY rule_id, student_id, meeting_id NULLS FIRST, status)
                    TO {literal(tmp)} (HEADER, DATEFORMAT '%Y-%m-%d')""")
    os.replace(tmp, path)
    return path


def later_nights(con, as_of: date) -> list[date]:
    """Evaluated nights after ``as_of`` (their history changes when ``as_of`` is backfilled)."""
    return [r[0] for r in con.execute("SELECT as_of FROM compliance.nights WHERE as_of > ? ORDER BY 1",
                                      [as_of]).fetchall()]


LOOKAHEAD_DAYS = (30, 60, 90)


def write_summary(con, as_of: date, path: Path, warnings: list[str], src: str = "core") -> Path:
    """What the data team's page shows of a night (counts, no student data), written atomically:
    exceptions by school, rule and status; the exceptions resolved tonight; open deadlines due in
    the next 30/60/90 days by school and case manager."""
    rows = con.execute(f"""SELECT e.school_id, s.school_name, e.rule_id, e.status, count(*)
                          FROM compliance.exceptions e LEFT JOIN {src}.schools s USING (school_id)
                          WHERE e.as_of = ? GROUP BY ALL ORDER BY ALL""", [as_of]).fetchall()
    resolved = con.execute("SELECT school_id, count(*) FROM compliance.resolved WHERE as_of = ? GROUP BY ALL "
                           "ORDER BY ALL", [as_of]).fetchall()
    summary = {"as_of": as_of.isoformat(),
               "warnings": warnings,
               "counts": [{"school_id": r[0], "school_name": r[1], "rule_id": r[2], "status": r[3], "n": r[4]}
                          for r in rows],
               "resolved": [{"school_id": r[0], "n": r[1]} for r in resolved],
               "lookahead": dict_rows(con, sql("summary_lookahead", as_of=as_of.isoformat(), src=src,
                                               windows=LOOKAHEAD_DAYS))}
    return write_json(path, summary)
