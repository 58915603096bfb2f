"""The one way to open the DuckDB warehouse, run a transaction, and render SQL.

DuckDB allows one writing process per file. Every task opens, works and closes; tasks run in
a one-slot pool in deployments, and when another process still holds the file (a night run
by hand beside a scheduled one) ``connect`` waits for it instead of failing deep inside
DuckDB.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from iepwatch.config import Config
from iepwatch.district import load_config
from iepwatch.errors import WarehouseBusy
from iepwatch.rules import statuses

SCHEMAS = ("staging", "quarantine", "core", "facts", "compliance", "reporting", "ops", "corrections")
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
LOCK_WAIT_SECONDS = 600
# Strings are written without DuckDB's FSST compressions: a faster night for a larger file and
# a higher peak memory (docs/decisions.md).
WRITE_SETTINGS = ("SET disabled_compression_methods = 'fsst,dict_fsst'",)
log = logging.getLogger(__name__)


def _open(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline, said = time.monotonic() + wait, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"the warehouse {path} is in use by another process "
                                    f"(another night is running); waited {wait:.0f} s") from None
            if not said:
                log.warning("the warehouse %s is in use by another process (another night?); waiting", path)
                said = True
            time.sleep(0.5)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's schemas and own tables, where missing (``include/sql/warehouse_schema.sql``)."""
    con.execute(sql("warehouse_schema", schemas=SCHEMAS))


@contextmanager
def connect(cfg: Config, read_only: bool = False,
            wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    con = _open(cfg.warehouse, read_only, wait)
    try:
        if not read_only:
            for setting in WRITE_SETTINGS:
                con.execute(setting)
            create_schema(con)
            log.info("warehouse %s open for writing", cfg.warehouse)   # this task now holds its one writer
        yield con
    finally:
        con.close()


@contextmanager
def session(cfg: Config | None = None, read_only: bool = False) -> Iterator[tuple[Config, duckdb.DuckDBPyConnection]]:
    """``with session() as (cfg, con):`` the configuration and an open warehouse connection."""
    cfg = cfg or load_config()
    with connect(cfg, read_only) as con:
        yield cfg, con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def exists(con, schema: str, name: str) -> bool:
    """Whether a table or view exists (for what an earlier night may not have made yet)."""
    return con.execute("""SELECT (SELECT count(*) FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2)
                               + (SELECT count(*) FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2)""",
                       [schema, name]).fetchone()[0] > 0


def rows(con, query: str, params: list | None = None) -> list[dict]:
    """A query's rows as dicts (small results only)."""
    cur = con.execute(query, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def sql(name: str, **params) -> str:
    """Render ``include/sql/<name>.sql`` (Jinja) with the given parameters."""
    return _sql_env().get_template(f"{name}.sql").render(**params)


def sql_text(text: str, **params) -> str:
    """Render a SQL snippet held as data (a rule's detail in the rule catalog) like a file."""
    return _sql_env().from_string(text).render(**params)


_ENV = None


def _sql_env():
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        _ENV = Environment(loader=FileSystemLoader(SQL_DIR), undefined=StrictUndefined, keep_trailing_newline=True)
        _ENV.globals["statuses"] = statuses   # the one status list, for every template
        _ENV.globals["literal"] = _ENV.filters["literal"] = literal
    return _ENV


def quote(ident: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + ident.replace('"', '""') + '"'


def literal(value) -> str:
    """A SQL string literal (NULL for None), for values rendered into SQL text: names, codes, paths."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet reads as the start of a formula


def formula_guard_sql(v: str) -> str:
    """A value starting like a formula gets a leading quote (for files meant for spreadsheets)."""
    starts = ", ".join(literal(c) for c in FORMULA_START)
    return f"CASE WHEN left({v}, 1) IN ({starts}) THEN '''' || {v} ELSE {v} END"
