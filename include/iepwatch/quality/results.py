"""Each expectation's result, evaluated once: the gate's own counts are the night's validation.

The gate runs every ingest expectation compiled to DuckDB (``compile``) and keeps each rejected
line in ``quarantine.rows`` under the expectation's key; the compliance rules keep each item's
status in ``facts.rule_results``. The results here are read from those records (plus the batch's
size and null counts, and the few ``report`` expectations no gate runs), in GX's result shape,
so that GX renders the Data Docs from the very validation that decided the night
(``gx.render``) instead of evaluating every expectation a second time.
"""

from __future__ import annotations

from iepwatch.ingest.contract import TABLES
from iepwatch.quality.compile import UNIQUENESS, failing_lines_sql, may_fail_sql
from iepwatch.quality.suites import meta, staged, suite_key
from iepwatch.warehouse import quote

COLUMN_MAP = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set",
              "expect_column_pair_values_a_to_be_greater_than_b", *UNIQUENESS)


def ingest(con, suites: dict[str, dict], slot: str, passed: bool = True) -> list[dict]:
    """The ingest suites' results for the load ``slot`` (the staging views). ``passed``: the gate
    let the night through, so its record holds the night's counts (no whole-file expectation
    failed, every rejected row is in ``quarantine.rows``). A rejected night's expectations are
    each counted here by their compiled queries instead (only for its Data Docs: the gate
    stopped part way, so its record is not whole)."""
    rejected = dict(con.execute("SELECT expectation, count(*) FROM quarantine.rows WHERE slot = ? GROUP BY 1",
                                [slot]).fetchall()) if passed else {}
    out = []
    for t in TABLES:
        counts = {}
        for i, exp in enumerate(suites[t.name]["expectations"]):
            on_fail = meta(exp).get("on_fail")
            if passed and on_fail == "quarantine":
                counts[i] = rejected.get(suite_key(t.name, i), 0)
            elif passed and on_fail == "fail_load":
                counts[i] = 0
            # else: a report-only expectation (no gate runs it), or any of a rejected night: counted below
        out += suite_results(con, suites[t.name], staged(t.name), counts)
    return out


def suite_results(con, suite: dict, source: str, counts: dict[int, int]) -> list[dict]:
    """A suite's results over ``source`` from the rows each expectation rejected (``counts``, by
    its index; one not there is counted by its compiled query). Table-level expectations are
    read off the table: its columns (checked by the load before any row; the batch's, sorted, as
    GX reports them), its rows."""
    table, exps = suite["meta"]["iepwatch"]["table"], suite["expectations"]
    size, nulls = _shape(con, source, exps)
    out = []
    for i, exp in enumerate(exps):
        key, t = suite_key(table, i), exp["type"]
        if t == "expect_table_columns_to_match_set":
            observed = sorted(c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE {source})").fetchall())
            want = set(exp["kwargs"]["column_set"])
            out.append(_result(suite, exp, key, size, observed=observed, success=want <= set(observed) if
                               exp["kwargs"].get("exact_match") is False else want == set(observed)))
        elif t == "expect_table_row_count_to_equal":
            out.append(_result(suite, exp, key, size, observed=size, success=size == exp["kwargs"]["value"]))
        else:
            count = counts[i] if i in counts else _count(con, exp, source)
            out.append(_result(suite, exp, key, size, count, nulls.get(i, 0)))
    return out


def compliance(con, suite: dict, source: str = "facts.rule_results") -> list[dict]:
    """The compliance suite's results: per rule, its items and those not compliant (the statuses
    the rules stage wrote)."""
    by_status: dict[str, dict[str | None, int]] = {}
    for rule, status, n in con.execute(f"SELECT rule_id, status, count(*) FROM {source} GROUP BY ALL").fetchall():
        by_status.setdefault(rule, {})[status] = n
    out = []
    for i, exp in enumerate(suite["expectations"]):
        counts, expected = by_status.get(meta(exp)["rule_id"], {}), set(exp["kwargs"]["value_set"])
        missing = counts.get(None, 0)
        bad = sum(n for status, n in counts.items() if status is not None and status not in expected)
        out.append(_result(suite, exp, suite_key("rule_results", i), sum(counts.values()), bad, missing))
    return out


def _shape(con, source: str, exps: list[dict]) -> tuple[int, dict[int, int]]:
    """The batch's rows, and for each column expectation the rows GX counts as missing (in one scan)."""
    missing = {i: _missing(e) for i, e in enumerate(exps) if e["type"] in COLUMN_MAP[1:]}
    cols = [f"count(*) FILTER (WHERE {cond})" for cond in missing.values()]
    row = con.execute(f"SELECT {', '.join(['count(*)', *cols])} FROM {source}").fetchone()
    return row[0], dict(zip(missing, row[1:], strict=True))


def _missing(exp: dict) -> str:
    """GX's missing rows of a column expectation: a null value; for a pair or a compound key, as
    its ``ignore_row_if`` says (GX's defaults: both values, every value)."""
    kw = exp["kwargs"]
    if "column" in kw:
        return f"{quote(kw['column'])} IS NULL"
    cols = kw.get("column_list") or [kw["column_A"], kw["column_B"]]
    ignore = kw.get("ignore_row_if") or ("all_values_are_missing" if "column_list" in kw else "both_values_are_missing")
    if ignore in ("never", "neither"):
        return "false"
    joint = " OR " if ignore in ("either_value_is_missing", "any_value_is_missing") else " AND "
    return "(" + joint.join(f"{quote(c)} IS NULL" for c in cols) + ")"


def _count(con, exp: dict, source: str) -> int:
    """Rows of ``source`` that ``exp`` rejects, by its compiled query (the shortcut first for a key)."""
    probe = may_fail_sql(exp, source)
    if probe and con.execute(probe).fetchone() is None:
        return 0
    return con.execute(f"SELECT count(*) FROM ({failing_lines_sql(exp, source)})").fetchone()[0]


def _result(suite: dict, exp: dict, key: str, size: int, count: int | None = None, missing: int = 0,
            observed=None, success: bool | None = None) -> dict:
    """One expectation's result, as ``gx.render`` and ``ops.quality_results`` take it."""
    kw, m = exp["kwargs"], meta(exp)
    if success is None:
        success = count == 0 if exp["type"] not in COLUMN_MAP else \
            count <= (1 - kw.get("mostly", 1.0)) * (size - missing) + 1e-9
    return {"suite": suite["name"], "key": key, "on_fail": m.get("on_fail"), "type": exp["type"],
            "column": kw.get("column") or kw.get("column_A"), "rule_id": m.get("rule_id"),
            "element_count": size, "missing_count": missing, "description": kw.get("description"),
            "success": bool(success), "unexpected_count": count, "observed": observed, "error": False}
