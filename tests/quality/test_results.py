"""The night's validation is evaluated once (``iepwatch.quality.results``: the gate's and the
rules' own counts) and GX renders it as the Data Docs. These tests hold it to GX's own
evaluation of the same suites on the same tables: every expectation's count, missing rows and
success agree, and the pages show the gate's numbers."""

from __future__ import annotations

import duckdb
from builder import AS_OF
from helpers import NEXT, rows, run_night_in_process, set_value

from iepwatch.quality import gx, results
from iepwatch.quality.suites import load_suites

EXACT, IF_GX_HAS = ("unexpected_count", "success", "observed"), ("element_count", "missing_count")


def _line(folder, table: str, predicate) -> int:
    data = rows(folder / f"{table}.csv")
    return next(n for n, r in enumerate(data[1:], start=2) if predicate(dict(zip(data[0], r, strict=True))))


def _agree(ours: list[dict], theirs: list[dict]) -> None:
    gx_by_key = {(r["suite"], r["key"]): r for r in theirs}
    assert len(gx_by_key) == len(ours)
    for r in ours:
        g = gx_by_key[(r["suite"], r["key"])]
        keys = [*EXACT, *(k for k in IF_GX_HAS if g[k] is not None)]
        assert {k: r[k] for k in keys} == {k: g[k] for k in keys}, (r["key"], r["type"], r["description"], g)


def test_the_gate_s_results_are_gx_own_on_a_night_with_every_kind_of_bad_row(after_good_night, data_dir,
                                                                              tmp_path):
    from iepwatch.tasks import iep_nightly

    export = after_good_night
    set_value(export, "students", 3, "birth_date", "")                       # not null
    set_value(export, "students", 4, "gender", "Q")                          # in set
    set_value(export, "meetings", 2, "status", "postponed-ish")              # in set
    n = _line(export, "evaluations", lambda r: r["evaluation_completed_date"] != "")
    set_value(export, "evaluations", n, "consent_received_date", "2099-01-01")   # a pair
    n = _line(export, "meeting_participants", lambda r: r["attendance"] not in ("attended", ""))
    set_value(export, "meeting_participants", n, "attendance_mode", "in_person")  # report only
    night = run_night_in_process(export, NEXT)
    docs = iep_nightly.build_data_docs(night)

    ingest_suites = load_suites("ingest", NEXT)
    compliance = load_suites("compliance", NEXT)["rule_results"]
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        ours = results.ingest(con, ingest_suites, night.slot)
        rules = results.compliance(con, compliance)
        recorded = con.execute("""SELECT suite, expectation, success, unexpected_count FROM ops.quality_results
                                  WHERE as_of = ? ORDER BY ALL""", [NEXT]).fetchall()
    assert docs["expectations"] == len(ours) + len(rules)
    assert recorded == sorted((r["suite"], r["type"], r["success"], r["unexpected_count"]) for r in ours + rules)
    failing = {(r["type"], r["column"] or r["description"]): r["unexpected_count"] for r in ours
               if r["unexpected_count"]}
    assert failing[("expect_column_values_to_not_be_null", "birth_date")] == 1
    assert failing[("expect_column_values_to_be_in_set", "gender")] == 1
    assert failing[("expect_column_values_to_be_in_set", "status")] == 1
    assert failing[("expect_column_pair_values_a_to_be_greater_than_b", "evaluation_completed_date")] == 1
    assert failing[("unexpected_rows_expectation", "attendance_mode is given only for attended members")] == 1
    assert sum(r["unexpected_count"] for r in rules) > 0, "the demo district has items not compliant"

    # GX's own evaluation of the same suites on the same tables (its engine, its SQL): the same results
    theirs = gx.run_suites(data_dir / "warehouse.duckdb", [*ingest_suites.values(), compliance], tmp_path / "gx",
                           "cross-check")
    _agree(ours + rules, theirs)

    # the pages GX rendered say the gate's numbers: the students suite failed, its bad birth_date counted
    site = data_dir / "datadocs"
    page = next(p for p in (site / "validations" / "ingest" / "students").rglob("*.html")
                if f"nightly-{NEXT}" in str(p))
    assert "birth_date" in page.read_text() and "1 unexpected value" in page.read_text()
    after = (site / "index.html").read_text().split(str(page.relative_to(site)), 1)[1][:80]
    assert "'_validation_success_text': 'Failed'" in after


def test_an_extract_s_checks_are_gx_own(published_night, tmp_path, monkeypatch):
    """The extract checks' results (what the extracts' Data Docs show) equal GX's validation of
    the same suite on the built table, a row-count and a code-set expectation among them."""
    import shutil

    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    data = tmp_path / "data"
    shutil.copytree(published_night, data)
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(data))
    cfg = load_config()
    suites, ours = [], []
    with duckdb.connect(str(cfg.warehouse)) as con:
        for name in ("compliance_student_list", "indicator_b13_detail"):
            d = engine.definitions(cfg)[name]
            s = engine.suite(d, AS_OF, engine.build(con, cfg, AS_OF, d))
            suites.append(s)
            ours += engine.check(con, d, s)
    assert {r["type"] for r in ours} >= {"expect_table_row_count_to_equal", "expect_column_values_to_be_in_set",
                                         "expect_column_values_to_not_be_null", "unexpected_rows_expectation"}
    _agree(ours, gx.run_suites(cfg.warehouse, suites, tmp_path / "gx", "cross-check"))
