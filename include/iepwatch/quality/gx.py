"""Great Expectations: the Data Docs of the night's one validation (``render``), and GX's own
evaluation of the suites on DuckDB (``run_suites``), to which the tests hold that validation."""

from __future__ import annotations

import functools
import logging
from datetime import date
from pathlib import Path
from typing import ClassVar

from iepwatch.quality import offline
from iepwatch.quality.suites import batch_query, meta, suite_key


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


def _patch_gx_kwargs() -> None:
    """GX reads an expectation's kwargs through ``Expectation.configuration``, a property that
    serialises the whole expectation (pydantic ``dict()``) and is read again for every domain,
    success and runtime key, several times per expectation: a fifth of GX's time on a small
    district, and after the domain and success keys were read once, the runtime keys were still
    a fifth of a run's validation. Read once per call instead; the values are GX's own (the
    property is a function of the unchanged expectation, and each key's fallback is GX's:
    ``_get_default_value`` for domain and success keys, the field's default for runtime keys)."""
    from great_expectations.expectations import expectation as gx_expectation

    Expectation = gx_expectation.Expectation

    def _domain(self, kwargs: dict) -> dict:
        return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}

    def _success(self, kwargs: dict) -> dict:
        return {**{key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys},
                **_domain(self, kwargs)}

    def _one(self, kwargs: dict, key: str, default=None):
        """GX's ``_get_success_kwarg`` on kwargs read once."""
        if key in kwargs:
            return kwargs[key]
        field = self.__fields__.get(key)
        if field is not None:
            return field.default if not field.required else default
        gx_expectation.logger.warning(f'_get_success_kwarg called with key "{key}", '
                                      f"but it is not a known field of {type(self).__name__}")
        return default

    def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
        runtime_configuration, kwargs = runtime_configuration or {}, self.configuration.kwargs
        runtime = {key: runtime_configuration.get(key, _one(self, kwargs, key)) for key in self.runtime_keys}
        runtime.update(_success(self, kwargs))
        runtime["result_format"] = gx_expectation.parse_result_format(runtime["result_format"])
        return runtime

    Expectation._get_domain_kwargs = lambda self: _domain(self, self.configuration.kwargs)
    Expectation._get_success_kwargs = lambda self: _success(self, self.configuration.kwargs)
    Expectation._get_success_kwarg = lambda self, key, default=None: _one(self, self.configuration.kwargs, key,
                                                                          default)
    Expectation._get_runtime_kwargs = _get_runtime_kwargs


def _defer_scipy_stats() -> None:
    """GX imports ``scipy.stats`` when it is imported (a third of GX's import) for its
    distribution expectations, which no iepwatch suite uses; each process
    that runs GX paid it. The module is registered to load on its first use instead
    (``importlib.util.LazyLoader``): a suite that uses those expectations still gets it.
    (altair, the other import of those expectations, cannot wait: ``import altair`` reads the
    module at once.)"""
    import importlib.util
    import sys

    if "scipy.stats" in sys.modules or importlib.util.find_spec("scipy") is None:
        return
    spec = importlib.util.find_spec("scipy.stats")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scipy.stats"] = module
    spec.loader.exec_module(module)
    sys.modules["scipy"].stats = module


@functools.cache
def _lean_types() -> dict[str, str]:
    """The suites' expectation types that GX runs as a subclass of its own, computing the same
    result with less work (suite type -> the subclass's type). Results and the Data Docs keep the
    suite's type name; the subclasses' results equal GX's own (tests/test_gx.py).

    - ``unexpected_rows_expectation`` counts the rows only. GX's own also fetches them (a second
      run of the query) for a result format that lists them, which the night never asks for
      (SUMMARY): half of GX's SQL time at state scale.
    - ``expect_compound_columns_to_be_unique`` and ``expect_column_values_to_be_unique`` count
      the duplicated rows from the key's group counts. GX's own joins every row, with every
      column, back to those counts (the largest query of a state-scale night), or counts with a
      window over every row."""
    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations.core.expect_column_values_to_be_unique import ExpectColumnValuesToBeUnique
    from great_expectations.expectations.core.expect_compound_columns_to_be_unique import (
        ExpectCompoundColumnsToBeUnique,
    )
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
    from great_expectations.expectations.metrics.metric_provider import MetricProvider, metric_value
    from great_expectations.util import get_sqlalchemy_selectable
    from great_expectations.validator.metric_configuration import MetricConfiguration

    class UnexpectedRowCountExpectation(UnexpectedRowsExpectation):
        __doc__ = UnexpectedRowsExpectation.__doc__
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    class DuplicateRows(MetricProvider):
        """Rows whose key (a column, or a compound key), all non-null, occurs more than once:
        the rows GX's ``column_values.unique`` / ``compound_columns.unique`` conditions reject
        (the first requires a non-null value; the second's inner join on ``=`` drops a key with
        a null), counted over the same domain records (``row_condition``, ``ignore_row_if``)."""

        metric_name = "iepwatch.duplicate_rows"
        domain_keys = ("batch_id", "table", "column", "column_list", "row_condition", "condition_parser",
                       "ignore_row_if")

        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics,
                        runtime_configuration):
            rows = get_sqlalchemy_selectable(execution_engine.get_domain_records(domain_kwargs=metric_domain_kwargs))
            keys = [sa.column(c) for c in metric_domain_kwargs.get("column_list") or [metric_domain_kwargs["column"]]]
            groups = (sa.select(sa.func.count().label("n")).select_from(rows)
                      .where(sa.and_(*(k.isnot(None) for k in keys))).group_by(*keys)
                      .having(sa.func.count() >= 2).subquery())   # noqa: PLR2004 - "more than once"
            return int(execution_engine.execute_query(sa.select(sa.func.coalesce(sa.func.sum(groups.c.n), 0)))
                       .scalar())

    class CountedByGroups:
        """A uniqueness expectation whose unexpected count is ``DuplicateRows`` (the rest as GX's)."""

        def get_validation_dependencies(self, execution_engine=None, runtime_configuration=None):
            deps = super().get_validation_dependencies(execution_engine=execution_engine,
                                                       runtime_configuration=runtime_configuration)
            name = f"{self.map_metric}.unexpected_count"
            deps.set_metric_configuration(name, MetricConfiguration(
                DuplicateRows.metric_name, deps.get_metric_configuration(name).metric_domain_kwargs))
            return deps

    class CompoundColumnsUniqueByGroups(CountedByGroups, ExpectCompoundColumnsToBeUnique):
        __doc__ = ExpectCompoundColumnsToBeUnique.__doc__

    class ColumnValuesUniqueByGroups(CountedByGroups, ExpectColumnValuesToBeUnique):
        __doc__ = ExpectColumnValuesToBeUnique.__doc__

    return {"unexpected_rows_expectation": UnexpectedRowCountExpectation.expectation_type,
            "expect_compound_columns_to_be_unique": CompoundColumnsUniqueByGroups.expectation_type,
            "expect_column_values_to_be_unique": ColumnValuesUniqueByGroups.expectation_type}


def _suite_type(gx_type: str) -> str:
    """The suite's type name of an expectation GX ran (the inverse of ``_lean_types``)."""
    return next((t for t, lean in _lean_types().items() if lean == gx_type), gx_type)


def preload() -> None:
    """GX imported (scipy.stats deferred) and patched, as a run does first: a Celery worker does
    it once at its start, so its tasks, forked from it, do not (``deployment.worker``)."""
    for name in ("great_expectations", "tqdm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _defer_scipy_stats()
    import great_expectations  # noqa: F401

    _patch_gx_for_duckdb()
    _patch_gx_kwargs()


def _context(docs_dir: Path):
    """An ephemeral GX context whose Data Docs site is ``docs_dir``; GX imported and patched."""
    preload()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(site_name="iepwatch", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    return ctx


def render(suites: list[dict], results: list[dict], docs_dir: Path, run_name: str) -> None:
    """The Data Docs of a validation already made (``quality.results``: the gate's and the rules'
    own counts), rendered by GX: each suite's page shows every expectation with its result, and
    the index lists the run. GX evaluates nothing here; what the pages say is what decided the night."""
    ctx = _context(docs_dir)   # first: it defers scipy.stats before GX is imported
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name)
    by_key = {(r["suite"], r["key"]): r for r in results}
    for suite_json in suites:
        configs = _configurations(suite_json)
        ctx.suites.add(gx.ExpectationSuite(name=suite_json["name"], meta=suite_json["meta"], expectations=configs))
        evrs = []
        for cfg in configs:
            r = by_key[(suite_json["name"], cfg.meta["iepwatch"]["key"])]
            evrs.append(ExpectationValidationResult(success=r["success"], expectation_config=cfg,
                                                    result=_gx_result(r)))
        good = sum(e.success for e in evrs)
        batch_id = f"warehouse-{suite_json['name']}"
        validation = ExpectationSuiteValidationResult(
            success=good == len(evrs), results=evrs, suite_name=suite_json["name"],
            statistics={"evaluated_expectations": len(evrs), "successful_expectations": good,
                        "unsuccessful_expectations": len(evrs) - good,
                        "success_percent": 100.0 * good / len(evrs) if evrs else None},
            meta={"great_expectations_version": gx.__version__, "run_id": run_id,
                  "validation_time": run_id.run_time, "batch_markers": {},
                  "batch_spec": {"query": batch_query(suite_json)},
                  "active_batch_definition": {"datasource_name": "warehouse", "data_connector_name": "fluent",
                                              "data_asset_name": suite_json["name"], "batch_identifiers": {}}},
            batch_id=batch_id)
        ctx.validation_results_store.set(ValidationResultIdentifier(
            ExpectationSuiteIdentifier(name=suite_json["name"]), run_id, batch_id), validation)
    ctx.build_data_docs(site_names=["iepwatch"])
    offline.localize(docs_dir)


def _configurations(suite_json: dict, types: dict[str, str] | None = None) -> list:
    """A suite's expectations as GX configurations, each keyed ``<table>#<index>`` in its meta;
    ``types`` maps a suite type to the type GX runs it as (``_lean_types``)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    table = suite_json["meta"]["iepwatch"]["table"]
    return [ExpectationConfiguration(type=(types or {}).get(e["type"], e["type"]), kwargs=e["kwargs"],
                                     meta={"iepwatch": {**meta(e), "key": suite_key(table, i)}})
            for i, e in enumerate(suite_json["expectations"])]


def _gx_result(r: dict) -> dict:
    """A result in GX's SUMMARY shape (what its renderers read)."""
    if r["unexpected_count"] is None or r["type"] == "unexpected_rows_expectation":
        return {"observed_value": r["observed"] if r["unexpected_count"] is None else r["unexpected_count"]}
    n, bad, missing = r["element_count"], r["unexpected_count"], r["missing_count"]
    present = n - missing
    out = {"element_count": n, "unexpected_count": bad,
           "unexpected_percent": 100.0 * bad / present if present else None,
           "partial_unexpected_list": []}
    if r["type"] != "expect_column_values_to_not_be_null":
        out |= {"missing_count": missing, "missing_percent": 100.0 * missing / n if n else None,
                "unexpected_percent_total": 100.0 * bad / n if n else None,
                "unexpected_percent_nonmissing": 100.0 * bad / present if present else None}
    return out


def run_suites(warehouse: Path, suites: list[dict], docs_dir: Path, run_name: str) -> list[dict]:
    """Validate each suite with GX's own engine against DuckDB and rebuild the Data Docs site: the
    reference the night's validation (``quality.results``) is tested against. GX opens the
    warehouse with a connection of its own (duckdb_engine, with a configuration DuckDB will not
    share with ours in one process), so the caller must hold no connection to it meanwhile.

    Returns one summary per expectation (suite, type, column, success, unexpected count).
    """
    ctx = _context(docs_dir)   # first: it defers scipy.stats before GX is imported
    import great_expectations as gx

    ds = ctx.data_sources.add_sql(name="warehouse", connection_string=f"duckdb:///{warehouse}")
    out = []
    try:
        for suite_json in suites:
            asset = ds.add_query_asset(name=suite_json["name"], query=batch_query(suite_json))
            batch = asset.add_batch_definition_whole_table("night")
            # Passed to the constructor, not added one by one: add_expectation upserts by domain and
            # would keep only the last of several unexpected_rows expectations on one table.
            suite = ctx.suites.add(gx.ExpectationSuite(
                name=suite_json["name"], meta=suite_json["meta"],
                expectations=_configurations(suite_json, _lean_types())))
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
                    if _suite_type(cfg.type) == "unexpected_rows_expectation":   # its count is its observed value
                        count = res.get("observed_value")
                    out.append({"suite": suite_json["name"], "key": cfg.meta["iepwatch"]["key"],
                                "on_fail": cfg.meta["iepwatch"].get("on_fail"),
                                "type": _suite_type(cfg.type),
                                "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_A"),
                                "rule_id": cfg.meta["iepwatch"].get("rule_id"),
                                "element_count": res.get("element_count"), "missing_count": res.get("missing_count"),
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
        offline.localize(docs_dir)   # no CDN: the pages load the site's own copies
    finally:   # every connection GX opened is closed, so that the task can open the warehouse again
        ee = ds.get_execution_engine()
        ee.close()
        for engine in {id(e): e for e in (ee.engine, ds.get_engine())}.values():
            engine.dispose()
    return out


def record_results(con, as_of: date, kind: str, results: list[dict]) -> None:
    """Keep each night's GX results in ``ops.quality_results`` (idempotent per night and kind)."""
    con.execute("DELETE FROM ops.quality_results WHERE as_of = ? AND kind = ?", [as_of, kind])
    con.executemany("INSERT INTO ops.quality_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(as_of, kind, r["suite"], r["type"], r["column"], r["description"], r["success"],
                      r["unexpected_count"]) for r in results])
