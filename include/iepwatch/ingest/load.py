"""Load the archived export into a DuckDB load slot and publish it as ``core``.

Two slots (schemas ``slot_a`` / ``slot_b``) alternate: a night loads into the slot that
is not published, ``staging.*`` views show it to the quality gate, ``pending.*`` views
(without the quarantined rows) to the rules, whose facts go beside the slot
(``<slot>_facts``); publishing swaps the ``core.*`` and ``facts.*`` views to them in one
transaction once the night is whole. A failed night never touches the published slot, and
nothing is copied twice.

Each slot table keeps its file order, so ``rowid + 2`` is the file's line number
(header = line 1). Dates are typed on load (``YYYY-MM-DD`` only); a date that does not
parse becomes NULL with a ``<column>__unparseable`` flag, so the gate can quarantine the
row with its line instead of failing the whole read. Flags are upper-cased.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from iepwatch import warehouse
from iepwatch.errors import DataError, lines_phrase
from iepwatch.files import each_file
from iepwatch.ingest.contract import DATE, FLAG, TABLES, Table
from iepwatch.warehouse import exists, literal, quote, transaction

SLOTS = ("slot_a", "slot_b")
BACKFILL = "backfill"   # schema of a backfilled night's tables (never the published ones)
PENDING = "pending"     # schema of the night's tables until it is published
UNPARSEABLE = "__unparseable"


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
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)))]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DataError(f"{table.file}: column {', '.join(dup)} appears more than once in the header")
    missing = [c for c in table.required_columns if c not in header]
    if missing:
        raise DataError(f"{table.file}: missing required column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}")
    return header, [h for h in header if h not in table.columns]


def _slot_select(table: Table, header: list[str]) -> str:
    cols = []
    for c, kind in table.columns.items():
        q = quote(c)
        if c not in header:   # an optional column the file does not have
            cols.append(f"NULL::{'DATE' if kind == DATE else 'VARCHAR'} AS {q}")
            if kind == DATE:
                cols.append(f"false AS {quote(c + UNPARSEABLE)}")
            continue
        if kind == FLAG:
            cols.append(f"upper(trim({q})) AS {q}")
        elif kind == DATE:
            # strict YYYY-MM-DD: the text must be exactly what the parsed date prints as
            cast = f"TRY_CAST({q} AS DATE)"
            parsed = f"CASE WHEN length({q}) = 10 AND strftime({cast}, '%Y-%m-%d') = {q} THEN {cast} END"
            cols.append(f"{parsed} AS {q}")
            cols.append(f"({q} IS NOT NULL AND {parsed} IS NULL) AS {quote(c + UNPARSEABLE)}")
        else:
            cols.append(q)
    return ", ".join(cols)


def load_table(con, folder: Path, table: Table, slot: str) -> dict:
    """Read one CSV with DuckDB's reader into ``<slot>.<table>``; structural errors fail the load.

    An optional file that the export does not have becomes an empty table of the contract's shape.
    """
    path = folder / table.file
    present = not (table.optional_file and not path.exists())
    if present:
        extra = _read_into(con, path, table, slot)
    else:
        extra = []
        con.execute(f"CREATE OR REPLACE TABLE {slot}.{table.name} AS SELECT {_slot_select(table, [])} LIMIT 0")
    rows = con.execute(f"SELECT count(*) FROM {slot}.{table.name}").fetchone()[0]
    lines = lines_table(slot, table.name)
    con.execute(f"DROP TABLE IF EXISTS {lines}")
    if present and _newlines(path) > rows + 1:   # a quoted field spans lines: records and lines part
        _map_lines(con, path, read_header(path, table)[0], lines)
        con.execute(f"CREATE OR REPLACE VIEW staging.{table.name} AS "
                    f"SELECT m.line AS _line, s.* FROM {slot}.{table.name} s POSITIONAL JOIN {lines} m")
    else:
        con.execute(f"CREATE OR REPLACE VIEW staging.{table.name} AS "
                    f"SELECT rowid + 2 AS _line, * FROM {slot}.{table.name}")
    return {"rows": rows, "extra_columns": extra, "present": present}


def lines_table(slot: str, table: str) -> str:
    """The record-to-line map of a slot table whose file has quoted line breaks (none otherwise)."""
    return f"{slot}.{table}__lines"


def _newlines(path: Path) -> int:
    """The file's line breaks (a header and a record each end with one; a quoted field may hold more)."""
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def _csv_reader(path: Path, header: list[str], options: str = "") -> str:
    """DuckDB's reader of a contract CSV: every column of its header as text, the contract's dialect."""
    columns = "{" + ", ".join(f"'{h.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for h in header) + "}"
    return (f"read_csv({literal(path)}, header = true, columns = {columns}, auto_detect = false, "
            f"""delim = ',', quote = '"', escape = '"', encoding = 'utf-8'{options})""")


def _map_lines(con, path: Path, header: list[str], lines: str) -> None:
    """Each record's first physical line, for a file whose quoted fields hold line breaks: the file
    read again as text, each record's line breaks counted and summed over the records before it."""
    joined = " || ".join(f"coalesce({quote(h)}, '')" for h in header)
    con.execute(f"""
        CREATE TABLE {lines} AS
        WITH r AS (SELECT row_number() OVER () - 1 AS rid,
                          length({joined}) - length(replace({joined}, chr(10), '')) AS nl
                   FROM {_csv_reader(path, header)})
        SELECT rid, 2 + rid + coalesce(sum(nl) OVER (ORDER BY rid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                                      0) AS line
        FROM r ORDER BY rid""")


def _read_into(con, path: Path, table: Table, slot: str) -> list[str]:
    """The CSV into ``<slot>.<table>`` with DuckDB's reader; returns the file's extra columns."""
    header, extra = read_header(path, table)
    rejects = (f", store_rejects = true, rejects_table = 'rejects_{table.name}', "
               f"rejects_scan = 'rejects_scan_{table.name}'")
    con.execute(f"""
        CREATE OR REPLACE TABLE {slot}.{table.name} AS
        SELECT {_slot_select(table, header)}
        FROM {_csv_reader(path, header, rejects)}""")
    rejects = con.execute(f"SELECT line, error_type, column_name FROM rejects_{table.name} ORDER BY line").fetchall()
    if rejects:
        kinds = sorted({r[1].lower() for r in rejects})
        lines = sorted({r[0] for r in rejects})
        cols = sorted({r[2] for r in rejects if r[2]})
        where = f" in column {', '.join(cols)}" if cols else ""
        raise DataError(f"{table.file}: cannot read {' / '.join(kinds)}{where} on {lines_phrase(lines)}")
    return extra


def published_slot(con) -> str | None:
    row = con.execute("SELECT slot FROM ops.slots WHERE published").fetchone()
    return row[0] if row else None


def free_slot(con) -> str:
    """The slot a new night loads into: never the published one."""
    return SLOTS[1] if published_slot(con) == SLOTS[0] else SLOTS[0]


def check_slot(con, slot: str, as_of: date, export_id: str) -> None:
    """The slot still holds this night's export (another night run at the same time may have reloaded it)."""
    held = con.execute("SELECT as_of, export_id FROM ops.slots WHERE slot = ?", [slot]).fetchone()
    if held != (as_of, export_id):
        other = f"the export {held[1]} of {held[0]}" if held else "nothing"
        raise RuntimeError(f"load slot {slot} now holds {other}, not the export {export_id} of {as_of}: "
                           "another night was loaded while this one ran; run this night again")


def load_staging(con, folder: Path, as_of: date, export_id: str,
                 needed: frozenset[str] = frozenset()) -> tuple[str, dict[str, dict]]:
    """Every table of the contract into the free slot; returns the slot and per-table row counts.

    ``needed`` names the optional files the configuration requires (the state pack's calendar).
    Raises DataError on whole-file problems (all files' headers are checked first, so one
    run reports every missing file or column at once).
    """
    problems = []
    for t in TABLES:
        if t.optional_file and not (folder / t.file).exists():
            if t.name in needed:
                problems.append(f"{t.file}: required by the configured state pack (rules.state_pack) but missing "
                                "from the export")
            continue
        try:
            read_header(folder / t.file, t)
        except DataError as e:
            problems.append(str(e))
    if problems:
        raise DataError("Export rejected: " + "; ".join(problems))
    slot = free_slot(con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {slot}")
    loaded = _load_tables(con, folder, slot)
    con.execute("INSERT OR REPLACE INTO ops.slots VALUES (?, ?, ?, false)", [slot, as_of, export_id])
    return slot, loaded


def _load_tables(con, folder: Path, slot: str) -> dict[str, dict]:
    """Every table into the slot, two files at a time, the largest first: one file read into
    the warehouse file leaves a core idle a third of the time. Each table is one query on a
    cursor of its own (DuckDB runs them side by side), so its rows keep their file order. Every
    table that cannot be read is named, in the contract's order."""
    tables = {folder / t.file: t for t in TABLES}

    def one(path: Path) -> dict | DataError:
        cur = con.cursor()
        try:
            return load_table(cur, folder, tables[path], slot)
        except DataError as e:
            return e
        finally:
            cur.close()

    done = each_file(one, list(tables))
    results = {t.name: done[path] for path, t in tables.items()}
    errors = [str(r) for r in results.values() if isinstance(r, DataError)]
    if errors:
        raise DataError("; ".join(errors))
    return results


def published_night(con) -> date | None:
    """The as-of date of the published night (None before the first); works on a read-only connection."""
    if not exists(con, "ops", "slots"):
        return None
    row = con.execute("SELECT as_of FROM ops.slots WHERE published").fetchone()
    return row[0] if row else None


def published_export(con, as_of: date) -> str | None:
    """The export last published for the night ``as_of`` (None: the night was never published)."""
    row = con.execute("SELECT any_value(export_id) FROM ops.published WHERE as_of = ?", [as_of]).fetchone()
    return row[0] if row else None


def published_night_of(cfg) -> date | None:
    """The published night's as-of date, read without taking the warehouse's write lock."""
    if not cfg.warehouse.exists():
        return None
    with warehouse.connect(cfg, read_only=True) as con:
        return published_night(con)


def facts_schema(slot: str) -> str:
    """Where a night's rule facts are written: beside its load slot, published with it."""
    return f"{slot}_facts"


def night_views(con, slot: str, schema: str) -> dict[str, int]:
    """``<schema>.<table>`` views of the slot's tables without their quarantined rows; returns row counts.

    A table with no quarantined row gets no filter: every reader of the night scans these
    views, and would pay the filter on every scan. The views follow the slot's gate as checked.
    """
    quarantined = {r[0] for r in con.execute("SELECT DISTINCT table_name FROM quarantine.rows WHERE slot = ?",
                                             [slot]).fetchall()}
    mapped = {r[0].removesuffix("__lines") for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND suffix(table_name, '__lines')",
        [slot]).fetchall()}
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    counts = {}
    for t in TABLES:
        cols = ", ".join(quote(c) for c in t.columns)
        lines = f"""SELECT line FROM quarantine.rows WHERE slot = '{slot}' AND table_name = '{t.name}'"""
        where = (f"WHERE rowid NOT IN (SELECT rid FROM {lines_table(slot, t.name)} WHERE line IN ({lines}))"
                 if t.name in mapped else f"WHERE rowid + 2 NOT IN ({lines})")
        con.execute(f"""
            CREATE OR REPLACE VIEW {schema}.{t.name} AS
            SELECT {cols} FROM {slot}.{t.name}
            {where if t.name in quarantined else ""}""")
        counts[t.name] = con.execute(f"SELECT count(*) FROM {schema}.{t.name}").fetchone()[0]
    return counts


def stage(con, slot: str, as_of: date, export_id: str, backfill: bool = False) -> dict[str, int]:
    """After the gate: the night's tables as views the rules read (schema ``pending``, or ``backfill``
    for an older night; the rules make the facts schema beside the slot). Nothing published changes."""
    check_slot(con, slot, as_of, export_id)
    with transaction(con):
        return night_views(con, slot, BACKFILL if backfill else PENDING)


def facts_views(con, slot: str) -> None:
    """``facts.*`` views on the slot's rule facts (inside the caller's transaction)."""
    facts = facts_schema(slot)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1",
                                        [facts]).fetchall()]
    for name, kind in con.execute("""SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = 'facts'
                                     UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views()
                                     WHERE schema_name = 'facts' AND NOT internal""").fetchall():
        if kind == "TABLE" or name not in tables:   # a table of an older version, or a fact this night lacks
            con.execute(f"DROP {kind} facts.{quote(name)}")
    for name in tables:
        con.execute(f"CREATE OR REPLACE VIEW facts.{quote(name)} AS SELECT * FROM {facts}.{quote(name)}")


def check_turn(con, as_of: date) -> None:
    """A night publishes only if no newer night was published while it ran (a night run by hand
    beside a scheduled one, or an orphan of a killed run): it would put the data back in time."""
    published = published_night(con)
    if published is not None and published > as_of:
        raise DataError(f"the night of {published} was published while the night of {as_of} ran: {as_of} is not "
                        "published over it (run it again with backfill=true to add it to the history)")


def publish(con, slot: str, as_of: date, export_id: str) -> dict[str, int]:
    """The whole night becomes the published one in one transaction: the ``core`` views on its slot,
    the ``facts`` views on its rule facts, and the record of what is published. Until this commits
    every reader sees the previous night, whole; the history tables (compliance, corrections) are
    keyed by night and read for a published night only."""
    check_slot(con, slot, as_of, export_id)
    check_turn(con, as_of)
    with transaction(con):
        counts = night_views(con, slot, "core")
        facts_views(con, slot)
        con.execute("UPDATE ops.slots SET published = (slot = ?)", [slot])
        con.execute("DELETE FROM ops.published WHERE as_of = ?", [as_of])
        con.executemany("INSERT INTO ops.published VALUES (?, ?, ?, ?)",
                        [(as_of, export_id, k, v) for k, v in counts.items()])
        con.execute(f"CREATE OR REPLACE VIEW core.export AS SELECT as_of, export_id FROM ops.slots "
                    f"WHERE slot = '{slot}'")
    return counts
