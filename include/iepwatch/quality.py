"""The quality gate: Great Expectations suites on staging, quarantine, Data Docs.

The suites in ``expectations/ingest/*.json`` are the one definition of what a
good row is. Each expectation's ``meta.iepwatch.on_fail`` says what a failure
does: ``fail_load`` (whole-file problems), ``quarantine`` (the row is set
aside with the reason) or ``report`` (shown in Data Docs only).

Two engines run the same definitions: GX validates every suite on DuckDB
(results and Data Docs for the data team), and the quarantine step compiles
each row-level expectation to one DuckDB query to get the failing line numbers
(GX can return ids too, but at 10-50x the cost at state scale).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iepwatch.contract import TABLES
from iepwatch.errors import DataError, lines_phrase
from iepwatch.warehouse import literal, quote

log = logging.getLogger(__name__)
SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"


def load_suites(kind: str, as_of: date) -> dict[str, dict]:
    """Suite JSON by table, with ``$AS_OF`` bound to the run's date."""
    out = {}
    for path in sorted((SUITES_DIR / kind).glob("*.json")):
        text = path.read_text(encoding="utf-8").replace("$AS_OF", f"DATE '{as_of.isoformat()}'")
        suite = json.loads(text)
        out[suite["meta"]["iepwatch"]["table"]] = suite
    return out


def suite_key(table: str, index: int) -> str:
    """Identifies one expectation of an ingest suite: ``students#4``."""
    return f"{table}#{index}"


def _meta(exp: dict) -> dict:
    return exp.get("meta", {}).get("iepwatch", {})


def staged(table: str) -> str:
    """The staging view of a table (it carries the file line number as ``_line``)."""
    return f"staging.{table}"


def failing_lines_sql(exp: dict, source: str) -> str | None:
    """SELECT _line of the rows an expectation rejects (None for table-level ones)."""
    kw, t = exp["kwargs"], exp["type"]
    if t == "expect_column_values_to_not_be_null":
        return f"SELECT _line FROM {source} WHERE {quote(kw['column'])} IS NULL"
    if t == "expect_column_values_to_be_in_set":
        c = quote(kw["column"])
        values = ", ".join(literal(v) for v in kw["value_set"])
        return f"SELECT _line FROM {source} WHERE {c} IS NOT NULL AND {c} NOT IN ({values})"
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = (quote(kw[k]) for k in ("column_A", "column_B"))
        op = "<" if kw.get("or_equal") else "<="
        return f"SELECT _line FROM {source} WHERE {a} {op} {b}"
    if t == "unexpected_rows_expectation":
        return f"SELECT _line FROM ({kw['unexpected_rows_query'].format(batch=source)})"
    if t in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        cols = kw.get("column_list") or [kw["column"]]
        part = ", ".join(quote(c) for c in cols)
        nonnull = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols[:1])
        return (f"SELECT _line FROM {source} WHERE {nonnull} "
                f"QUALIFY count(*) OVER (PARTITION BY {part}) > 1")
    return None


def check_keys(con, suites: dict[str, dict]) -> None:
    """Whole-file failures (duplicate primary keys) found in staging: fail the load."""
    problems = []
    for t in TABLES:
        for exp in suites[t.name]["expectations"]:
            if _meta(exp).get("on_fail") != "fail_load":
                continue
            q = failing_lines_sql(exp, staged(t.name))
            if q is None:
                continue
            lines = [r[0] for r in con.execute(f"SELECT _line FROM ({q}) ORDER BY 1").fetchall()]
            if lines:
                cols = exp["kwargs"].get("column_list") or [exp["kwargs"]["column"]]
                problems.append(f"{t.file}: {_meta(exp)['reason']} in column {', '.join(cols)} "
                                f"on {lines_phrase(lines)} ({len(lines)} rows)")
    if problems:
        raise DataError("Export rejected: " + "; ".join(problems))


@dataclass(frozen=True)
class QuarantineSummary:
    rows: dict[str, int]          # staged rows per table
    quarantined: dict[str, int]   # quarantined rows per table
    reasons: dict[str, dict[str, int]]

    def as_dict(self) -> dict:
        return {"rows": self.rows, "quarantined": self.quarantined, "reasons": self.reasons}


def quarantine(con, suites: dict[str, dict], as_of: date, threshold_pct: float) -> QuarantineSummary:
    """Set aside every row a quarantine expectation rejects, cascade to child rows, apply the threshold.

    Rows are keyed by the load slot (see load.py), so re-checking a night never changes
    what filters the published slot.
    """
    from iepwatch.load import staging_slot

    slot = staging_slot(con)
    con.execute("""CREATE TABLE IF NOT EXISTS quarantine.rows (
        slot VARCHAR, as_of DATE, table_name VARCHAR, line BIGINT, reason VARCHAR, expectation VARCHAR)""")
    con.execute("DELETE FROM quarantine.rows WHERE slot = ?", [slot])
    head = f"SELECT '{slot}', DATE '{as_of.isoformat()}', '{{table}}'"
    mine = f"q.slot = '{slot}'"
    for t in TABLES:
        parts = []
        for i, exp in enumerate(suites[t.name]["expectations"]):
            if _meta(exp).get("on_fail") != "quarantine":
                continue
            q = failing_lines_sql(exp, staged(t.name))
            parts.append(f"{head.format(table=t.name)}, _line, {literal(_meta(exp)['reason'])}, "
                         f"'{suite_key(t.name, i)}' FROM ({q})")
        if parts:
            con.execute(f"INSERT INTO quarantine.rows {' UNION ALL '.join(parts)}")
        # Children of a quarantined parent row cannot be published either.
        for exp in suites[t.name]["expectations"]:
            fk = _meta(exp).get("foreign_key")
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
    over = [t for t in TABLES if rows[t.name] and 100.0 * own.get(t.name, 0) / rows[t.name] > threshold_pct]
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
                        f"({share:.1f}%, threshold {threshold_pct:g}%): " + "; ".join(detail))
        raise DataError("Too many bad rows, nothing published: " + " | ".join(msgs))
    return summary


def write_quarantine_report(con, path: Path) -> None:
    """File, line and reason of every row quarantined in the staging slot (no values: they may be PII)."""
    from iepwatch.load import staging_slot

    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT table_name || '.csv' AS file, line, reason FROM quarantine.rows
                          WHERE slot = '{staging_slot(con)}' ORDER BY 1, 2, 3)
                    TO {literal(path)} (HEADER)""")


def record_results(con, as_of: date, kind: str, results: list[dict]) -> None:
    """Keep each night's GX results in ``ops.quality_results`` (idempotent per night and kind)."""
    con.execute("""CREATE TABLE IF NOT EXISTS ops.quality_results (
        as_of DATE, kind VARCHAR, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
        description VARCHAR, success BOOLEAN, unexpected_count BIGINT)""")
    con.execute("DELETE FROM ops.quality_results WHERE as_of = ? AND kind = ?", [as_of, kind])
    con.executemany("INSERT INTO ops.quality_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(as_of, kind, r["suite"], r["type"], r["column"], r["description"], r["success"],
                      r["unexpected_count"]) for r in results])


def disagreements(con, results: list[dict], slot: str) -> list[str]:
    """Expectations whose GX count differs from the gate's count in ``slot``.

    The gate runs the suites compiled to DuckDB; GX runs them itself. Any difference is a
    bug in the compiler (or in GX), never a data problem, and must not pass silently.
    """
    gate = dict(con.execute("SELECT expectation, count(*) FROM quarantine.rows WHERE slot = ? GROUP BY 1",
                            [slot]).fetchall())
    out = []
    for r in results:
        if r["error"]:
            out.append(f"{r['key']} ({r['type']}): GX could not evaluate it")
        elif r["on_fail"] == "quarantine" and (r["unexpected_count"] or 0) != gate.get(r["key"], 0):
            out.append(f"{r['key']} ({r['type']}): GX {r['unexpected_count']} rows, gate {gate.get(r['key'], 0)}")
    return out


def _patch_gx_for_duckdb() -> None:
    """GX reads results after closing pooled connections, which DuckDB's driver loses
    ('list index out of range', GX issues #11579/#10738). GX already keeps one persistent
    connection for sqlite/mssql/bigquery/databricks; add duckdb to that list."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as see

    class _Dialect(str):
        @property
        def value(self) -> str:
            return str(self)

    if "duckdb" not in [str(d.value) for d in see._PERSISTED_CONNECTION_DIALECTS]:
        see._PERSISTED_CONNECTION_DIALECTS = (*see._PERSISTED_CONNECTION_DIALECTS, _Dialect("duckdb"))


def batch_query(suite: dict) -> str:
    """The SQL that selects a suite's batch: ``meta.iepwatch.query`` or the staging table."""
    meta = suite["meta"]["iepwatch"]
    return meta.get("query") or f"SELECT * FROM staging.{meta['table']}"


def validate(warehouse: Path, kinds: list[str], as_of: date, docs_dir: Path,
             extra_suites: list[dict] | None = None) -> list[dict]:
    """Run the suites of ``kinds`` (and ``extra_suites``) with GX in a child process; per-expectation results.

    A child process keeps GX's own DuckDB connection (opened by duckdb_engine with a
    configuration of its own) and GX's memory out of the task; the caller must hold no
    connection to the warehouse meanwhile. All suites run in one GX context so the Data Docs
    index lists every suite of the run.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out, extra = Path(tmp) / "results.json", Path(tmp) / "suites.json"
        extra.write_text(json.dumps(extra_suites or []))
        proc = subprocess.run(
            [sys.executable, "-m", "iepwatch.quality", str(warehouse), ",".join(kinds), as_of.isoformat(),
             str(docs_dir), str(out), str(extra)], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"Great Expectations validation failed:\n{tail}")
        return json.loads(out.read_text())


def run_suites(warehouse: Path, suites: list[dict], docs_dir: Path, run_name: str) -> list[dict]:
    """Validate each suite with GX against DuckDB and rebuild the Data Docs site.

    Returns one summary per expectation (suite, type, column, success, unexpected count).
    """
    for name in ("great_expectations", "tqdm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    _patch_gx_for_duckdb()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(site_name="iepwatch", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    ds = ctx.data_sources.add_sql(name="warehouse", connection_string=f"duckdb:///{warehouse}")
    out = []
    try:
        for suite_json in suites:
            table = suite_json["meta"]["iepwatch"]["table"]
            asset = ds.add_query_asset(name=suite_json["name"], query=batch_query(suite_json))
            batch = asset.add_batch_definition_whole_table("night")
            # Passed to the constructor, not added one by one: add_expectation upserts by domain and
            # would keep only the last of several unexpected_rows expectations on one table.
            suite = ctx.suites.add(gx.ExpectationSuite(
                name=suite_json["name"], meta=suite_json["meta"],
                expectations=[ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"],
                                                       meta={"iepwatch": {**_meta(e), "key": suite_key(table, i)}})
                              for i, e in enumerate(suite_json["expectations"])]))
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=f"{suite_json['name']}:{run_name}", data=batch, suite=suite))
            checkpoint = ctx.checkpoints.add(gx.Checkpoint(
                name=f"{suite_json['name']}:{run_name}", validation_definitions=[vd],
                actions=[], result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0}))
            result = checkpoint.run(run_id=gx.core.run_identifier.RunIdentifier(run_name=run_name))
            for vr in result.run_results.values():
                for r in vr.results:
                    cfg = r.expectation_config
                    res = r.result or {}
                    count = res.get("unexpected_count")
                    if count is None and isinstance(res.get("observed_value"), int | float):
                        count = res["observed_value"]
                    out.append({"suite": suite_json["name"], "key": cfg.meta["iepwatch"]["key"],
                                "on_fail": cfg.meta["iepwatch"].get("on_fail"), "type": cfg.type,
                                "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_A"),
                                "rule_id": cfg.meta["iepwatch"].get("rule_id"),
                                "element_count": res.get("element_count"),
                                "description": cfg.kwargs.get("description") or cfg.description,
                                "success": bool(r.success), "unexpected_count": count,
                                "observed": res.get("observed_value") if count is None else None,
                                "error": bool(r.exception_info and r.exception_info.get("raised_exception"))})
        for suite_json in suites:
            got = sum(r["suite"] == suite_json["name"] for r in out)
            if got != len(suite_json["expectations"]):
                raise RuntimeError(f"GX evaluated {got} of the {len(suite_json['expectations'])} expectations "
                                   f"of suite {suite_json['name']}")
        ctx.build_data_docs(site_names=["iepwatch"])
    finally:
        ds.get_execution_engine().close()
    return out


def _main(argv: list[str]) -> None:
    warehouse, kinds, as_of, docs_dir, out, extra = argv
    day = date.fromisoformat(as_of)
    suites = [s for kind in kinds.split(",") if kind for s in load_suites(kind, day).values()]
    suites += json.loads(Path(extra).read_text())
    results = run_suites(Path(warehouse), suites, Path(docs_dir), f"nightly-{as_of}")
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.WARNING)
    _main(sys.argv[1:])
