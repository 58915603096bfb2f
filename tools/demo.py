"""Generate a synthetic district export in the contract's format.

    python -m tools.demo --out data/exports/2026-11-27 --students 2000

All work happens in DuckDB (``tools/demo_generate.sql``), so a million
students take about a minute. Names are synthetic; nothing comes from real people.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from iepwatch.ingest.contract import TABLES
from iepwatch.warehouse import literal

GENERATOR = Path(__file__).resolve().with_name("demo_generate.sql")   # the generator's SQL, beside it

DEMO_AS_OF = date(2026, 11, 27)
# Identifiers shaped like each state's (district code, digits a school adds to it, student id
# digits), so that a format's length checks are tried on the ids of the districts it serves.
STATE_IDS = {
    "california": {"district": "1964733", "school_base": 6000000, "school_digits": 7, "ssid": 10},   # CDS, SSID
    "texas": {"district": "101912", "school_base": 0, "school_digits": 3, "ssid": 11},
    "illinois": {"district": "150162990", "school_base": 0, "school_digits": 4, "ssid": 9},
    "pennsylvania": {"district": "126515001", "school_base": 0, "school_digits": 4, "ssid": 10},
}


def demo_schools(students: int) -> int:
    """The demo district's schools: one per 250 students, at least 8 (a coordinator has two)."""
    return max(8, math.ceil(students / 250))


def _generator_sql(**params) -> str:
    from jinja2 import StrictUndefined, Template

    return Template(GENERATOR.read_text(encoding="utf-8"), undefined=StrictUndefined,
                    keep_trailing_newline=True).render(**params)


def generate(out: Path, students: int = 2000, as_of: date = DEMO_AS_OF, seed: int = 7,
             schools: int | None = None, transition_age: int = 16,
             email_domain: str = "example.org", state: str = "california", team_extra: int = 0) -> dict[str, int]:
    """Write one CSV per contract table into ``out``; returns row counts. Staff addresses are in
    ``email_domain`` (a deployment's demo districts each have their own); identifiers are shaped
    like ``state``'s (``STATE_IDS``; California's for any other name). ``team_extra`` more members
    join each meeting's team (related services, agencies, advocates: the bench's larger teams)."""
    import re

    if not re.fullmatch(r"[a-z0-9]+([.-][a-z0-9]+)*", email_domain):
        raise ValueError(f"not a domain name: {email_domain!r}")
    import duckdb

    schools = schools or demo_schools(students)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(_generator_sql(students=students, schools=schools, as_of=as_of.isoformat(),
                        seed=seed, transition_age=transition_age, email_domain=email_domain,
                        ids=STATE_IDS.get(state, STATE_IDS["california"]), team_extra=team_extra))
        counts = {}
        for t in TABLES:
            cols = ", ".join(t.columns)
            order = ", ".join(t.primary_key)
            con.execute(f"COPY (SELECT {cols} FROM {t.name} ORDER BY {order}) TO {literal(out / t.file)} "
                        "(HEADER, DELIMITER ',', DATEFORMAT '%Y-%m-%d')")
            counts[t.name] = con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
        return counts
    finally:
        con.close()


@contextmanager
def postgres(dsn: str) -> Iterator:
    """An autocommit psycopg2 cursor on ``dsn``, its connection closed after: the student system's
    database of the demo, the bench and the tests (the night itself reads it with asyncpg)."""
    import psycopg2

    con = psycopg2.connect(dsn)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            yield cur
    finally:
        con.close()


def load_into_postgres(export: Path, dsn: str, schema: str) -> None:
    """A student system's database for the demo, the tests and the bench: every file of the export
    as a table of ``schema`` (dates typed DATE, the rest TEXT), loaded with COPY."""
    import csv

    from iepwatch.ingest.contract import DATE

    with postgres(dsn) as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cur.execute(f"CREATE SCHEMA {schema}")
        for t in TABLES:
            path = export / t.file
            if not path.exists():
                continue
            with path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f))
            ddl = ", ".join(f"{col} {'DATE' if t.columns[col] == DATE else 'TEXT'}" for col in header)
            cur.execute(f"CREATE TABLE {schema}.{t.name} ({ddl})")
            with path.open("rb") as f:
                cur.copy_expert(f"COPY {schema}.{t.name} FROM STDIN (FORMAT csv, HEADER true)", f, size=1 << 20)


def findings(export: Path, out: Path, as_of: date = DEMO_AS_OF, cases: int = 12) -> dict[str, int]:
    """The demo district's findings folder (docs/corrections.md), worked out from its export: a B11
    finding (EVAL_60_DAY, issued eight weeks before ``as_of``) naming initial evaluations that
    were late or overdue on its issued date, and a meeting-rule finding (NOTICE_LEAD_TIME,
    issued ten weeks before) naming meetings of the school year whose first notice went out
    less than 10 days ahead. At most ``cases`` instances each; the federal timelines' numbers."""
    import duckdb

    b11_issued, notice_issued = as_of - timedelta(days=57), as_of - timedelta(days=73)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    b11 = con.execute(f"""
        SELECT student_id, consent_received_date + 60 AS due_date
        FROM read_csv('{export / "evaluations.csv"}', header = true, all_varchar = false)
        WHERE evaluation_type = 'initial' AND consent_received_date IS NOT NULL
          AND consent_received_date + 60 < DATE '{b11_issued}'
          AND (evaluation_completed_date IS NULL OR evaluation_completed_date > consent_received_date + 60)
          AND delay_reason_code IS NULL
        QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY consent_received_date DESC) = 1
        ORDER BY due_date, student_id LIMIT {cases}""").fetchall()
    year_start = date(as_of.year if as_of.month >= 7 else as_of.year - 1, 7, 1)
    notice = con.execute(f"""
        SELECT m.student_id, m.meeting_id
        FROM read_csv('{export / "meetings.csv"}', header = true) m
        JOIN (SELECT meeting_id, min(sent_date) AS first_sent, bool_or(parent_waived_notice_period = 'Y') AS waived
              FROM read_csv('{export / "meeting_notices.csv"}', header = true) GROUP BY 1) n USING (meeting_id)
        WHERE m.status = 'held' AND m.held_date >= DATE '{year_start}' AND m.held_date < DATE '{notice_issued}'
          AND n.first_sent <= m.held_date AND m.held_date - n.first_sent < 10 AND NOT n.waived
        ORDER BY m.held_date, m.meeting_id LIMIT {cases}""").fetchall()
    with (out / "findings.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["finding_id", "issued_date", "requirement", "citation", "scope_school_ids", "note"])
        w.writerow(["F-B11-1", b11_issued.isoformat(), "EVAL_60_DAY", "34 CFR 300.301(c)(1)", "",
                    "Indicator B11: initial evaluations beyond the 60-day timeline (demo)"])
        w.writerow(["F-NOTICE-1", notice_issued.isoformat(), "NOTICE_LEAD_TIME", "34 CFR 300.322(a)(1)", "",
                    "File review: meeting notices sent too late (demo)"])
    with (out / "finding_instances.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["finding_id", "student_id", "meeting_id", "due_date"])
        w.writerows(["F-B11-1", s, "", d.isoformat()] for s, d in b11)
        w.writerows(["F-NOTICE-1", s, m, ""] for s, m in notice)
    return {"findings": 2, "instances": len(b11) + len(notice)}


def many_findings(export: Path, out: Path, as_of: date = DEMO_AS_OF, n: int = 1000, cases: int = 50,
                  seed: int = 7) -> dict[str, int]:
    """``n`` findings of ``cases`` cases each over the export (the bench's scale: 1,000 of 50 at
    1,000,000 students): a third each of a timeline (EVAL_60_DAY, its cases the export's initial
    evaluations by due date), a meeting rule (NOTICE_LEAD_TIME, held meetings) and a plan rule
    (TRANSITION_PLAN, students); issued over the past year; one in ten district-wide, the rest
    scoped to one school. Deterministic for a seed."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    kinds = ("EVAL_60_DAY", "NOTICE_LEAD_TIME", "TRANSITION_PLAN")
    con.execute(f"""CREATE TABLE f AS
        SELECT i AS k, printf('BENCH-%05d', i) AS finding_id,
               DATE '{as_of}' - CAST(20 + (i * 7919) % 330 AS INTEGER) AS issued,
               {list(kinds)}[1 + i % 3] AS requirement,
               CASE WHEN i % 10 = 0 THEN '' ELSE s.school_id END AS scope
        FROM range({n}) t(i)
        JOIN (SELECT school_id, row_number() OVER (ORDER BY school_id) - 1 AS r, count(*) OVER () AS m
              FROM read_csv('{export / "schools.csv"}', header = true)) s ON s.r = i % s.m""")
    pools = {
        "EVAL_60_DAY": f"""SELECT e.student_id, '' AS meeting_id,
                               CAST(e.consent_received_date + 60 AS VARCHAR) AS due_date, st.school_id
                           FROM read_csv('{export / "evaluations.csv"}', header = true) e
                           JOIN read_csv('{export / "students.csv"}', header = true) st USING (student_id)
                           WHERE e.evaluation_type = 'initial' AND e.consent_received_date IS NOT NULL""",
        "NOTICE_LEAD_TIME": f"""SELECT m.student_id, m.meeting_id, '' AS due_date, st.school_id
                                FROM read_csv('{export / "meetings.csv"}', header = true) m
                                JOIN read_csv('{export / "students.csv"}', header = true) st USING (student_id)
                                WHERE m.status = 'held'""",
        "TRANSITION_PLAN": f"""SELECT student_id, '' AS meeting_id, '' AS due_date, school_id
                               FROM read_csv('{export / "students.csv"}', header = true)"""}
    parts = []
    for requirement, pool in pools.items():
        con.execute(f"CREATE TABLE pool AS SELECT *, hash(student_id || meeting_id || {seed}) AS h FROM ({pool})")
        parts.append(f"""SELECT finding_id, student_id, meeting_id, due_date FROM (
            SELECT f.finding_id, p.student_id, p.meeting_id, p.due_date,
                   row_number() OVER (PARTITION BY f.finding_id ORDER BY p.h) AS r
            FROM f JOIN pool_{requirement} p ON f.scope = '' OR p.school_id = f.scope
            WHERE f.requirement = '{requirement}') WHERE r <= {cases}""")
        con.execute(f"ALTER TABLE pool RENAME TO pool_{requirement}")
    con.execute(f"""COPY (SELECT finding_id, issued AS issued_date, requirement, 'bench' AS citation,
                                 scope AS scope_school_ids, '' AS note FROM f ORDER BY k)
                    TO '{out / "findings.csv"}' (HEADER)""")
    con.execute(f"COPY ({' UNION ALL '.join(parts)} ORDER BY ALL) TO '{out / 'finding_instances.csv'}' (HEADER)")
    return {"findings": n, "instances": con.execute(f"SELECT count(*) FROM read_csv('{out / 'finding_instances.csv'}')"
                                                    ).fetchall()[0][0]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--as-of", type=date.fromisoformat, default=DEMO_AS_OF)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--email-domain", default="example.org", help="the staff's email domain")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    counts = generate(args.out, args.students, args.as_of, args.seed, email_domain=args.email_domain)
    print(f"wrote {sum(counts.values()):,} rows in {len(counts)} files to {args.out} "
          f"in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
