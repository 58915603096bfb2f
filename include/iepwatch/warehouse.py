"""The one way to open the DuckDB warehouse.

DuckDB allows one writing process per file, so every task opens, works and
closes; tasks that write run in a one-slot pool in deployments (see README).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from iepwatch.config import Config

SCHEMAS = ("staging", "quarantine", "core", "facts", "compliance", "reporting", "ops")
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@contextmanager
def connect(cfg: Config, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(cfg.warehouse), read_only=read_only)
    try:
        if not read_only:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        yield con
    finally:
        con.close()


def sql(name: str, **params) -> str:
    """Render ``include/sql/<name>.sql`` (Jinja) with the given parameters."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(SQL_DIR), undefined=StrictUndefined,
                      keep_trailing_newline=True)
    return env.get_template(f"{name}.sql").render(**params)


def quote(ident: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + ident.replace('"', '""') + '"'


def literal(value) -> str:
    """A SQL string literal (NULL for None), for values rendered into SQL text: names, codes, paths."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"
