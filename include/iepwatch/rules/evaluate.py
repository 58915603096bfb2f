"""Evaluate every compliance rule as of the run's date and keep the exceptions.

What each rule is (id, citation, title, kind, settings, detail, summary columns) is its entry in
the rule catalog (``catalog.yaml``); its rows are its SQL (``include/sql/rules/<kind>/<ID>.sql``),
put together by ``include/sql/rules/facts_*.sql`` and ``rule_results.sql`` and rendered from the
configuration.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from iepwatch.config import Config
from iepwatch.files import write_json
from iepwatch.night import school_year_start
from iepwatch.rules import catalog as rule_catalog
from iepwatch.rules import packs
from iepwatch.warehouse import formula_guard_sql, literal, sql, sql_text, transaction
from iepwatch.warehouse import rows as dict_rows

EXCEPTION_COLUMNS = ("as_of", "rule_id", "status", "severity", "student_id", "meeting_id", "school_id",
                     "case_manager_staff_id", "due_date", "event_date", "days_overdue", "detail",
                     "first_detected_on")


def federal_catalog() -> dict[str, dict]:
    """The federal rules: rule_id -> {rule_id, citation, title, kind, action}, in the order of docs/rules.md."""
    return {k: r.entry() for k, r in rule_catalog.rules().items()}


def catalog(cfg: Config | None = None) -> dict[str, dict]:
    """Every rule's id, citation, title, kind and action: the federal rules, every built-in state pack's
    rules, and the rules of the district's own pack when ``cfg`` is given."""
    out = {**federal_catalog(), **packs.catalog_entries()}
    if cfg is not None:
        for p in cfg.pack.rules:
            out[p.rule_id] = packs.catalog_entry(p.rule_id, p.citation, p.title, p.measures)
    return out


def rules_in_force(cfg: Config) -> dict[str, dict]:
    """The rules evaluated under the configured pack: the federal ones it keeps, then the pack's own."""
    everything = catalog(cfg)
    return {**{k: v for k, v in federal_catalog().items() if k not in cfg.pack.replaces},
            **{p.rule_id: everything[p.rule_id] for p in cfg.pack.rules}}


def params(cfg: Config, as_of: date, src: str = "core", facts: str = "facts") -> dict:
    """What every rule and extract template is rendered with: the night, the window, the settings.

    ``src`` is the schema the night's tables are read from: ``core`` (the published night),
    ``pending`` (tonight's, until it is published) or ``backfill`` (an older night evaluated
    without replacing it). ``facts`` is the schema of its rule facts: ``facts`` (the published
    night's) or the one beside the night's load slot (``ingest.load.facts_schema``).
    """
    r = cfg.rules
    pack = cfg.pack
    in_force = rules_in_force(cfg)
    warn_days = {**{rule.rule_id: getattr(r, rule.rule_id).warn_days for rule in rule_catalog.of_kind("timeline")},
                 **{p.rule_id: p.warn_days for p in pack.rules}}
    federal = [rule for k, rule in rule_catalog.rules().items() if k in in_force]
    base = {"as_of": as_of.isoformat(), "src": src, "facts": facts, "meetings": f"{facts}.meetings",
            "transition_age": r.transition_age}
    team = rule_catalog.team_roles()
    return {
        **base,
        "pack": pack,
        "warn_days": warn_days,
        "window_start": school_year_start(as_of, r.school_year_start),
        "r": r,
        "exempt_reasons": ", ".join(literal(x) for x in r.EVAL_60_DAY.exempt_delay_reasons) or "NULL",   # packs too
        "timeline_rules": [k for k, v in in_force.items() if v["kind"] == "timeline"],
        "federal_timelines": [rule for rule in federal if rule.kind == "timeline"],
        "meeting_catalog": [rule for rule in federal if rule.kind == "meeting"],
        "plan_catalog": [rule for rule in federal if rule.kind == "plan"],
        "details": {rule.rule_id: sql_text(rule.detail, s=getattr(r, rule.rule_id), **base) for rule in federal},
        "team_rules": team,
        "roles": ["parent", *(role for _, role, _ in team)],
        "role_names": {"parent": "parent", **{role: name for _, role, name in team}},
    }


def evaluate(con, cfg: Config, as_of: date, src: str = "core", facts: str = "facts",
             ledger_rules: set[str] = frozenset()) -> dict[str, dict[str, int]]:
    """Build the rule facts (students, timelines, meetings, rule_results) in schema ``facts`` in
    one transaction; returns counts by rule and status. ``ledger_rules``: rules with a finding of
    the state, whose every timeline cycle is kept (timeline_cycles), not only the reporting window's."""
    p = params(cfg, as_of, src, facts) | {"ledger_rules": sorted(ledger_rules)}
    steps = ["facts_students", "facts_timelines"]
    if cfg.pack.rules:
        steps += ["facts_calendar", "facts_pack"]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {facts}")
    with transaction(con):
        for name in (*steps, "facts_meetings", "rule_results", "timeline_cycles"):
            con.execute(sql(f"rules/{name}", **p))
    counts: dict[str, dict[str, int]] = {}
    for rule, status, n in con.execute(f"SELECT rule_id, status, count(*) FROM {facts}.rule_results GROUP BY 1, 2"
                                       " ORDER BY 1, 2").fetchall():
        counts.setdefault(rule, {})[status] = n
    return counts


def calendar_gaps(con, facts: str = "facts") -> list[str]:
    """After ``evaluate``: each school calendar that lacks dates a reported due date needs, with its
    span, how many due dates and the dates they need (for the night's warnings; no student named)."""
    calendar_read = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'calendar' AND temporary"
    if not con.execute(calendar_read).fetchone()[0]:
        return []   # a pack counted in calendar days only, or the federal rules: no calendar read
    rows = con.execute(f"""
        WITH g AS (
            SELECT t.gap_calendar, t.gap_date
            FROM temp.timelines t
            JOIN (SELECT rule_id, student_id, item_id FROM {facts}.rule_results
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


def build_exceptions(con, cfg: Config, as_of: date, facts: str = "facts") -> dict[str, int]:
    """The night's compliance.exceptions (delete-then-insert: idempotent), then the history of this
    night and every later one (first_detected_on, compliance.resolved), all in one transaction."""
    earliest_due = ", ".join(literal(p.rule_id) for p in cfg.pack.rules) or "NULL"
    with transaction(con):
        con.execute(sql("rules/exceptions", as_of=as_of.isoformat(), earliest_due=earliest_due, facts=facts))
        con.execute(sql("rules/exceptions_history", since=as_of.isoformat()))
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


def refresh_summary(con, as_of: date, path: Path) -> Path | None:
    """A later night's summary after a backfill changed its history: its counts and resolutions
    recomputed from the stored nights (what an in-order run gives), the rest as it was written
    (its look-ahead and names came from that night's data, which the warehouse no longer holds)."""
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    names = {c["school_id"]: c["school_name"] for c in summary.get("counts", [])}
    rows = con.execute("""SELECT school_id, rule_id, status, count(*) FROM compliance.exceptions
                          WHERE as_of = ? GROUP BY ALL ORDER BY ALL""", [as_of]).fetchall()
    resolved = con.execute("SELECT school_id, count(*) FROM compliance.resolved WHERE as_of = ? GROUP BY ALL "
                           "ORDER BY ALL", [as_of]).fetchall()
    summary["counts"] = [{"school_id": r[0], "school_name": names.get(r[0], r[0]), "rule_id": r[1], "status": r[2],
                          "n": r[3]} for r in rows]
    summary["resolved"] = [{"school_id": r[0], "n": r[1]} for r in resolved]
    return write_json(path, summary)


def write_summary(con, as_of: date, path: Path, warnings: list[str], src: str = "core",
                  facts: str = "facts") -> Path:
    """What the data team's page shows of a night (counts, no student data), written atomically:
    exceptions by school, rule and status; the exceptions resolved tonight; open deadlines due in
    the next 30/60/90 days by school and case manager."""
    rows = con.execute(f"""SELECT e.school_id, s.school_name, e.rule_id, e.status, count(*)
                          FROM compliance.exceptions e LEFT JOIN {src}.schools s USING (school_id)
                          WHERE e.as_of = ? GROUP BY ALL ORDER BY ALL""", [as_of]).fetchall()
    resolved = con.execute("SELECT school_id, count(*) FROM compliance.resolved WHERE as_of = ? GROUP BY ALL "
                           "ORDER BY ALL", [as_of]).fetchall()
    managers = con.execute(f"""SELECT e.case_manager_staff_id,
                                      nullif(trim(concat_ws(' ', any_value(s.first_name), any_value(s.last_name))), '')
                               FROM compliance.exceptions e
                               LEFT JOIN {src}.staff s ON s.staff_id = e.case_manager_staff_id
                               WHERE e.as_of = ? AND e.case_manager_staff_id IS NOT NULL GROUP BY 1 ORDER BY 1""",
                           [as_of]).fetchall()
    summary = {"as_of": as_of.isoformat(),
               "warnings": warnings,
               "counts": [{"school_id": r[0], "school_name": r[1], "rule_id": r[2], "status": r[3], "n": r[4]}
                          for r in rows],
               "resolved": [{"school_id": r[0], "n": r[1]} for r in resolved],
               "case_managers": {m[0]: m[1] or m[0] for m in managers},   # staff, named once (the drill-down)
               "lookahead": dict_rows(con, sql("rules/summary_lookahead", as_of=as_of.isoformat(), src=src, facts=facts,
                                               windows=LOOKAHEAD_DAYS))}
    return write_json(path, summary)
