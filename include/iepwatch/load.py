"""Load the archived export into DuckDB ``staging`` and publish it as ``core``.

Staging keeps each file as text (with its line number) so that a bad value is
quarantined with its line instead of failing the whole read; flags are
normalised to upper case. Publishing casts to the contract's types and swaps
all core tables in one transaction: a failed night leaves the last good data.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from iepwatch.contract import DATE, FLAG, TABLES, Table
from iepwatch.errors import DataError, lines_phrase
from iepwatch.warehouse import quote


def read_header(path: Path, table: Table) -> tuple[list[str], list[str]]:
    """The file's header and its extra columns; DataError on a missing/empty/undecodable file."""
    if not path.exists():
        raise DataError(f"{table.file}: required file is missing from the export")
    with path.open("rb") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{table.file}: empty file without a header row "
                        "(an empty table is a file with only the header)")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{table.file}: line 1 (header) is not valid UTF-8 (byte {e.start})") from None
    header = next(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DataError(f"{table.file}: column {', '.join(dup)} appears more than once in the header")
    missing = [c for c in table.columns if c not in header]
    if missing:
        raise DataError(f"{table.file}: missing required column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}")
    return header, [h for h in header if h not in table.columns]


def load_table(con, folder: Path, table: Table) -> dict:
    """Read one CSV with DuckDB's reader into ``staging.<table>``; structural errors fail the load."""
    path = folder / table.file
    header, extra = read_header(path, table)
    columns = "{" + ", ".join(f"'{h.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for h in header) + "}"
    select = ", ".join(
        f"upper(trim({quote(c)})) AS {quote(c)}" if kind == FLAG else quote(c)
        for c, kind in table.columns.items())
    path_sql = str(path).replace("'", "''")
    con.execute(f"""
        CREATE OR REPLACE TABLE staging.{table.name} AS
        SELECT row_number() OVER () + 1 AS _line, {select}
        FROM read_csv('{path_sql}', header = true, columns = {columns}, auto_detect = false,
                      delim = ',', quote = '"', escape = '"', encoding = 'utf-8',
                      store_rejects = true, rejects_table = 'rejects_{table.name}',
                      rejects_scan = 'rejects_scan_{table.name}')""")
    rejects = con.execute(f"""SELECT line, error_type, column_name FROM rejects_{table.name}
                              ORDER BY line""").fetchall()
    if rejects:
        kinds = sorted({r[1].lower() for r in rejects})
        lines = sorted({r[0] for r in rejects})
        cols = sorted({r[2] for r in rejects if r[2]})
        where = f" in column {', '.join(cols)}" if cols else ""
        raise DataError(f"{table.file}: cannot read {' / '.join(kinds)}{where} on {lines_phrase(lines)}")
    rows = con.execute(f"SELECT count(*) FROM staging.{table.name}").fetchone()[0]
    return {"rows": rows, "extra_columns": extra}


def load_staging(con, folder: Path) -> dict[str, dict]:
    """Every table of the contract into staging. Raises DataError on whole-file problems."""
    # Check every header first, so one run reports all missing files/columns at once.
    problems = []
    for t in TABLES:
        try:
            read_header(folder / t.file, t)
        except DataError as e:
            problems.append(str(e))
    if problems:
        raise DataError("Export rejected: " + "; ".join(problems))
    return {t.name: load_table(con, folder, t) for t in TABLES}


def _typed_select(table: Table) -> str:
    return ", ".join(f"CAST({quote(c)} AS DATE) AS {quote(c)}" if kind == DATE else quote(c)
                     for c, kind in table.columns.items())


def publish(con, as_of: date, export_id: str) -> dict[str, int]:
    """Swap the checked rows into ``core`` in one transaction (all tables or none)."""
    d = f"DATE '{as_of.isoformat()}'"
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for t in TABLES:
            con.execute(f"""
                CREATE OR REPLACE TABLE core.{t.name} AS
                SELECT {_typed_select(t)} FROM staging.{t.name}
                WHERE _line NOT IN (SELECT line FROM quarantine.rows
                                    WHERE as_of = {d} AND table_name = '{t.name}')
                ORDER BY _line""")
            counts[t.name] = con.execute(f"SELECT count(*) FROM core.{t.name}").fetchone()[0]
        con.execute("""CREATE TABLE IF NOT EXISTS ops.published (
            as_of DATE, export_id VARCHAR, table_name VARCHAR, rows BIGINT)""")
        con.execute("DELETE FROM ops.published WHERE as_of = ?", [as_of])
        con.executemany("INSERT INTO ops.published VALUES (?, ?, ?, ?)",
                        [(as_of, export_id, k, v) for k, v in counts.items()])
        con.execute("CREATE OR REPLACE TABLE core.export AS SELECT ? AS as_of, ? AS export_id",
                    [as_of, export_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts
