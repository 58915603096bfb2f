"""Expectations compiled to DuckDB (``iepwatch.quality.compile``): the gate's shortcut for keys
that must be unique says "may fail" exactly when the exact query finds duplicate lines, on the
cases that decide a count (nulls in a key, every key null, a group of three, none at all)."""

from __future__ import annotations

import duckdb
import pytest

from iepwatch.quality.compile import failing_lines_sql, may_fail_sql
from tests.quality.test_gx import ROWS

KEYS = [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": c}} for c in "abc"] + [
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": cols}}
    for cols in (["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"])]


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], ROWS[5:9], ROWS[7:], ROWS[::2], ROWS[2:5], []],
                         ids=["all", "one", "nulls-in-b-and-a", "a-null", "every-other", "three", "empty"])
def test_the_uniqueness_shortcut_agrees_with_the_exact_query(rows):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (_line BIGINT, a VARCHAR, b VARCHAR, c VARCHAR)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i + 2, *r) for i, r in enumerate(rows)])
    for exp in KEYS:
        duplicates = con.execute(failing_lines_sql(exp, "t")).fetchall()
        may_fail = con.execute(may_fail_sql(exp, "t")).fetchall()
        assert bool(may_fail) == bool(duplicates), (exp["kwargs"], rows)


def test_only_keys_have_a_shortcut():
    assert may_fail_sql({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}, "t") is None
