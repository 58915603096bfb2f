"""The quarantine gate: whole-file problems fail the load, bad rows are set aside with their reason.

Rows are keyed by the load slot that ``load.load_staging`` picked and the night carries, so
re-checking a night never changes what filters the published slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iepwatch.errors import DataError, lines_phrase
from iepwatch.ingest.contract import TABLES
from iepwatch.quality.compile import failing_lines_sql, may_fail_sql
from iepwatch.quality.suites import meta, staged, suite_key
from iepwatch.warehouse import exists, literal, quote


def check_keys(con, suites: dict[str, dict]) -> None:
    """Whole-file failures (duplicate primary keys) found in staging: fail the load."""
    problems = []
    for t in TABLES:
        for exp in suites[t.name]["expectations"]:
            if meta(exp).get("on_fail") != "fail_load":
                continue
            q = failing_lines_sql(exp, staged(t.name))
            probe = may_fail_sql(exp, staged(t.name))
            if q is None or (probe and con.execute(probe).fetchone() is None):
                continue
            lines = [r[0] for r in con.execute(f"SELECT _line FROM ({q}) ORDER BY 1").fetchall()]
            if lines:
                cols = exp["kwargs"].get("column_list") or [exp["kwargs"].get("column")]
                where = f" in column {', '.join(cols)}" if cols[0] else ""
                problems.append(f"{t.file}: {meta(exp)['reason']}{where} on {lines_phrase(lines)} "
                                f"({len(lines)} rows)")
    problems += calendar_gaps(con)
    if problems:
        raise DataError("Export rejected: " + "; ".join(problems))


def calendar_gaps(con) -> list[str]:
    """Each calendar with a missing date inside its span: which calendar, and its first missing date."""
    gaps = con.execute("""
        SELECT coalesce(school_id, ''), min(prev + 1), min(_line)
        FROM (SELECT school_id, calendar_date, _line,
                     lag(calendar_date) OVER (PARTITION BY coalesce(school_id, '') ORDER BY calendar_date) AS prev
              FROM staging.school_calendar WHERE calendar_date IS NOT NULL)
        WHERE calendar_date - prev > 1 GROUP BY 1 ORDER BY 1""").fetchall()
    return [f"school_calendar.csv: the {'calendar of school ' + cal if cal else 'district calendar'} misses "
            f"{first} (a calendar lists every date from its first to its last; next listed date on line {line})"
            for cal, first, line in gaps]


@dataclass(frozen=True)
class QuarantineSummary:
    rows: dict[str, int]          # staged rows per table
    quarantined: dict[str, int]   # quarantined rows per table
    reasons: dict[str, dict[str, int]]

    def as_dict(self) -> dict:
        return {"rows": self.rows, "quarantined": self.quarantined, "reasons": self.reasons}


def quarantine(con, suites: dict[str, dict], slot: str, as_of: date, threshold_pct: float,
               threshold_min_rows: int = 0) -> QuarantineSummary:
    """Set aside every row a quarantine expectation rejects, cascade to child rows, apply the threshold:
    a table fails the load when more than ``threshold_pct`` of its rows are its own bad rows, and
    there are more than ``threshold_min_rows`` of them (in a table of ten schools, one bad row
    is not a tenth of the district gone wrong)."""
    con.execute("DELETE FROM quarantine.rows WHERE slot = ?", [slot])
    head = f"SELECT '{slot}', DATE '{as_of.isoformat()}', '{{table}}'"
    mine = f"q.slot = '{slot}'"
    for t in TABLES:
        parts = []
        for i, exp in enumerate(suites[t.name]["expectations"]):
            if meta(exp).get("on_fail") != "quarantine":
                continue
            q = failing_lines_sql(exp, staged(t.name))
            parts.append(f"{head.format(table=t.name)}, _line, {literal(meta(exp)['reason'])}, "
                         f"'{suite_key(t.name, i)}' FROM ({q})")
        if parts:
            con.execute(f"INSERT INTO quarantine.rows {' UNION ALL '.join(parts)}")
        # Children of a quarantined parent row cannot be published either.
        for exp in suites[t.name]["expectations"]:
            fk = meta(exp).get("foreign_key")
            if not fk or not fk["cascade"]:
                continue
            c, p, pc = quote(fk["column"]), fk["parent"], quote(fk["parent_column"])
            con.execute(f"""
                INSERT INTO quarantine.rows
                {head.format(table=t.name)}, ch._line, 'parent row quarantined: {p}.csv', 'cascade'
                FROM {staged(t.name)} ch
                WHERE ch.{c} IN (SELECT pa.{pc} FROM {staged(p)} pa
                                 JOIN quarantine.rows q ON {mine} AND q.table_name = '{p}' AND q.line = pa._line)
                  AND ch._line NOT IN (SELECT line FROM quarantine.rows q
                                       WHERE {mine} AND q.table_name = '{t.name}')""")
    rows = {t.name: con.execute(f"SELECT count(*) FROM {staged(t.name)}").fetchone()[0] for t in TABLES}
    counts = con.execute("""SELECT table_name, count(DISTINCT line),
                                   count(DISTINCT line) FILTER (WHERE expectation <> 'cascade')
                            FROM quarantine.rows WHERE slot = ? GROUP BY 1""", [slot]).fetchall()
    quarantined = {t: n for t, n, _ in counts}
    # The threshold counts a table's own bad rows; rows set aside only because their
    # parent was are already counted in the parent's table.
    own = {t: n for t, _, n in counts}
    reasons: dict[str, dict[str, int]] = {}
    for table, reason, n in con.execute("""SELECT table_name, reason, count(*) FROM quarantine.rows
                                           WHERE slot = ? GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2""",
                                        [slot]).fetchall():
        reasons.setdefault(table, {})[reason] = n
    summary = QuarantineSummary(rows, {t: quarantined.get(t, 0) for t in rows}, reasons)
    over = [t for t in TABLES if own.get(t.name, 0) > threshold_min_rows
            and 100.0 * own[t.name] / rows[t.name] > threshold_pct]
    if over:
        msgs = []
        for t in over:
            detail = []
            for reason, n in reasons[t.name].items():
                lines = [r[0] for r in con.execute(
                    "SELECT line FROM quarantine.rows WHERE slot = ? AND table_name = ? AND reason = ?"
                    " ORDER BY line LIMIT 11", [slot, t.name, reason]).fetchall()]
                detail.append(f"{reason} ({n} rows: {lines_phrase(lines, n)})")
            share = 100.0 * own[t.name] / rows[t.name]
            msgs.append(f"{t.file}: {own[t.name]} of {rows[t.name]} rows quarantined "
                        f"({share:.1f}%, threshold {threshold_pct:g}% once more than {threshold_min_rows}): "
                        + "; ".join(detail))
        raise DataError("Too many bad rows, nothing published: " + " | ".join(msgs))
    return summary


def check_shrink(con, summary: QuarantineSummary, max_shrink_pct: float, min_rows: int, allowed: bool) -> list[str]:
    """Tables that lost more than ``max_shrink_pct`` of their rows against the published night.

    A table cut short (the student system still writing when the night started) loads without
    a single bad row; only its size gives it away. Fails the gate with the counts unless the run
    says the drop is expected (``allowed``), in which case the drops are returned for the log.
    """
    previous = con.execute("""SELECT p.as_of, p.table_name, p.rows FROM ops.published p
                              JOIN ops.slots s ON s.published AND s.as_of = p.as_of""").fetchall() \
        if exists(con, "ops", "published") else []
    drops = []
    for as_of, table, before in previous:
        now = summary.rows.get(table, 0) - summary.quarantined.get(table, 0)
        if before >= max(min_rows, 1) and 100.0 * (before - now) / before > max_shrink_pct:
            drops.append(f"{table}.csv: {now:,} rows tonight against {before:,} in the published night of "
                         f"{as_of} (-{100.0 * (before - now) / before:.0f}%)")
    if drops and not allowed:
        raise DataError("A table shrank more than quality.max_table_shrink_pct "
                        f"({max_shrink_pct:g}%), nothing published: " + "; ".join(drops)
                        + ". If the drop is real, run the night again with the param allow_shrink=true "
                        "(make nightly ... ALLOW_SHRINK=1)")
    return drops


def write_quarantine_report(con, slot: str, path: Path) -> None:
    """File, line and reason of every row quarantined in the slot (no values: they may be PII)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT table_name || '.csv' AS file, line, reason FROM quarantine.rows
                          WHERE slot = {literal(slot)} ORDER BY 1, 2, 3)
                    TO {literal(path)} (HEADER)""")
