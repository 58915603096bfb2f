"""Great Expectations runs the suites itself on DuckDB: per-expectation results and the Data Docs."""

from __future__ import annotations

import functools
import logging
from datetime import date
from pathlib import Path
from typing import ClassVar

from iepwatch.quality.suites import batch_query, load_suites, meta, suite_key


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


UNEXPECTED_ROWS = "unexpected_rows_expectation"


@functools.cache
def _unexpected_rows_type() -> str:
    """GX's type for the suites' ``unexpected_rows_expectation``: the same expectation, counting the
    rows only. GX's own also fetches them (a second run of the query) for a result format that
    lists them, which the night never asks for (SUMMARY): half of GX's SQL time at state scale."""
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

    class UnexpectedRowCountExpectation(UnexpectedRowsExpectation):
        __doc__ = UnexpectedRowsExpectation.__doc__
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    return UnexpectedRowCountExpectation.expectation_type


def validate(warehouse: Path, kinds: list[str], as_of: date, docs_dir: Path,
             extra_suites: list[dict] | None = None) -> list[dict]:
    """Run the suites of ``kinds`` (and ``extra_suites``) with GX; per-expectation results.

    GX opens the warehouse with a connection of its own (duckdb_engine, with a configuration
    DuckDB will not share with ours in one process), so the caller must hold no connection to it
    meanwhile. All suites run in one GX context, so the Data Docs index lists every suite of the
    run and GX's fixed cost (about 6 s of imports here) is paid once per process.
    """
    suites = [s for kind in kinds for s in load_suites(kind, as_of).values()] + list(extra_suites or [])
    return run_suites(warehouse, suites, docs_dir, f"nightly-{as_of.isoformat()}")


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
                expectations=[ExpectationConfiguration(type=_unexpected_rows_type() if e["type"] == UNEXPECTED_ROWS
                                                       else e["type"], kwargs=e["kwargs"],
                                                       meta={"iepwatch": {**meta(e), "key": suite_key(table, i)}})
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
                                "on_fail": cfg.meta["iepwatch"].get("on_fail"),
                                "type": UNEXPECTED_ROWS if cfg.type == _unexpected_rows_type() else cfg.type,
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
        from iepwatch.quality import offline

        offline.localize(docs_dir)   # no CDN: the pages load the site's own copies
    finally:   # every connection GX opened is closed, so that the task can open the warehouse again
        ee = ds.get_execution_engine()
        ee.close()
        for engine in {id(e): e for e in (ee.engine, ds.get_engine())}.values():
            engine.dispose()
    return out


def record_results(con, as_of: date, kind: str, results: list[dict]) -> None:
    """Keep each night's GX results in ``ops.quality_results`` (idempotent per night and kind)."""
    con.execute("""CREATE TABLE IF NOT EXISTS ops.quality_results (
        as_of DATE, kind VARCHAR, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
        description VARCHAR, success BOOLEAN, unexpected_count BIGINT)""")
    con.execute("DELETE FROM ops.quality_results WHERE as_of = ? AND kind = ?", [as_of, kind])
    con.executemany("INSERT INTO ops.quality_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(as_of, kind, r["suite"], r["type"], r["column"], r["description"], r["success"],
                      r["unexpected_count"]) for r in results])
