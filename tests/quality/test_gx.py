"""The lean GX subclasses (``iepwatch.quality.gx``) give exactly GX's own results: the same
suite run once as the night runs it and once with GX's own expectation classes, on a DuckDB
file holding the cases that decide a count (duplicates, a key with a null, rows with every key
null, a group of three)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from iepwatch.quality import gx

ROWS = [  # (a, b, c): duplicates of (a, b) count when a and b are both non-null
    ("1", "x", "p"), ("1", "x", "q"),                   # a duplicated pair: 2
    ("2", "y", "p"), ("2", "y", "p"), ("2", "y", "r"),  # a group of three: 3
    ("3", None, "p"), ("3", None, "q"),                 # b null: GX's join drops them
    (None, "z", "p"), (None, "z", "q"),                 # a null: dropped too
    (None, None, "p"), (None, None, "q"),               # every key null: ignored (ignore_row_if)
    ("4", "w", "p"),                                    # unique
]

SUITE = {
    "name": "test.t",
    "meta": {"iepwatch": {"table": "t", "query": "SELECT * FROM t"}},
    "expectations": [
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b"]}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "c"]}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b", "c"]}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "b"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "c", "mostly": 0.3}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "_line"}},
        {"type": "unexpected_rows_expectation",
         "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch} WHERE c = 'p'", "description": "no p"}},
        {"type": "unexpected_rows_expectation",
         "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch} WHERE c = 'none'", "description": "no none"}},
    ],
}


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (_line BIGINT, a VARCHAR, b VARCHAR, c VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i + 2, *r) for i, r in enumerate(ROWS)])
    return path


def _run(warehouse, tmp_path, name: str) -> list[dict]:
    return gx.run_suites(warehouse, [SUITE], tmp_path / name, "test-run")


def test_the_lean_expectations_give_gx_own_results(warehouse, tmp_path, monkeypatch):
    lean = _run(warehouse, tmp_path, "lean")
    assert {r["type"] for r in lean} == {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique",
                                         "unexpected_rows_expectation"}
    # in the suite's order, worked out by hand from ROWS (a single column's nulls never count;
    # c holds 7 p, 4 q and 1 r: 11 of 12 rows are duplicates, more than `mostly` allows)
    by_key = sorted(lean, key=lambda r: int(r["key"].split("#")[1]))
    assert [r["unexpected_count"] for r in by_key] == [5, 2, 2, 7, 7, 11, 0, 7, 0]
    assert [r["success"] for r in by_key] == [False, False, False, False, False, False, True, False, True]

    monkeypatch.setattr(gx, "_lean_types", dict)   # GX's own expectation classes
    assert _run(warehouse, tmp_path, "gx") == lean


def test_the_lean_uniqueness_counts_read_the_key_columns_only(warehouse, tmp_path):
    """GX's own queries join every column of every row back to the group counts, or count with
    a window over every row."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[str] = []

    def keep(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        _run(warehouse, tmp_path, "lean")
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    counting = [s for s in seen if "unexpected_count" in s or "count(*) AS n" in s]
    assert sum("count(*) AS n" in s for s in counting) == 7, "every uniqueness count by groups"
    assert not any("JOIN" in s or "OVER (PARTITION BY" in s for s in counting)


def test_gx_runs_without_loading_scipy_stats_until_it_is_used(warehouse, tmp_path):
    """GX's import of scipy.stats (a third of GX's import time) waits for its first use: a GX run
    of a suite leaves it unloaded, and the module still works when something uses it."""
    import subprocess
    import sys

    code = f"""
import sys
from pathlib import Path
from iepwatch.quality import gx
from tests.quality.test_gx import SUITE
results = gx.run_suites(Path({str(warehouse)!r}), [SUITE], Path({str(tmp_path / 'docs')!r}), "test-run")
assert len(results) == len(SUITE["expectations"]), results
assert "scipy.stats._stats_py" not in sys.modules, "scipy.stats was loaded by the GX run"
import scipy.stats
assert round(float(scipy.stats.entropy([0.5, 0.5], [0.5, 0.5])), 6) == 0.0
assert "scipy.stats._stats_py" in sys.modules
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
