"""Find the night's export, check that it is complete, and keep it unchanged in the landing archive.

The archive is ``landing/<as-of>/<export_id>/`` where export_id is derived from the files'
checksums: re-running a night with the same files re-uses the folder (after checking that
the archived copy still matches its checksums), a changed export gets a new one, and
nothing is ever overwritten. Everything downstream reads the archived copy, so what was
loaded is what was kept.

**Completion marker.** The student system may write ``export_complete.json`` *last*,
listing every file with its number of data rows and, optionally, its sha256::

    {"files": {"students.csv": {"rows": 2000, "sha256": "9f2c..."}, ...}}

When it is present, a file missing from the folder or from the list, or a checksum that
differs, fails the night (a data error), and ``load_staging`` checks each file's row count.
With ``quality.require_completion_marker`` a folder without it is not started: the task
fails and is retried, since the student system may still be writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iepwatch import run_record
from iepwatch.config import Config
from iepwatch.errors import ConfigError, DataError, ExportNotReady, HostError
from iepwatch.files import each_file, replace_folder, write_json
from iepwatch.ingest.contract import TABLES
from iepwatch.warehouse import literal

MANIFEST = "manifest.json"          # written by the archive
MARKER = "export_complete.json"     # written by the student system, last


@dataclass(frozen=True)
class Archived:
    export_id: str
    path: Path
    reused: bool


def check_folders(cfg: Config, export_root: bool = True) -> None:
    """The data folder can be written and the export root exists: a CONFIG ERROR naming the setting
    (and the environment variable that set it), not a traceback or an export "not there yet"."""
    env = " (set by IEPWATCH_DATA_DIR)" if os.environ.get("IEPWATCH_DATA_DIR") else ""
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=cfg.data_dir, prefix=".write-check-")
        probe.close()
    except OSError as e:
        raise ConfigError(f"paths.data_dir {cfg.data_dir}{env} cannot be written: "
                          f"{e.strerror or type(e).__name__}") from None
    if export_root and cfg.export_source.kind == "files" and not cfg.paths.export_root.is_dir():
        by = (" (set by IEPWATCH_EXPORT_ROOT)" if os.environ.get("IEPWATCH_EXPORT_ROOT")
              else " (IEPWATCH_DATA_DIR sets it to <data_dir>/exports)" if env else "")
        raise ConfigError(f"paths.export_root {cfg.paths.export_root}{by} does not exist: the folder the student "
                          "system drops each night's <YYYY-MM-DD>/ export into")


def find_export(cfg: Config, as_of: date, export_dir: str | None = None) -> Path:
    """The export folder: the ``export_dir`` param if given, else ``export_root/<as-of>``."""
    check_folders(cfg, export_root=not export_dir)
    folder = Path(export_dir) if export_dir else cfg.paths.export_root / as_of.isoformat()
    if not folder.is_dir():
        raise DataError(f"No export for {as_of}: folder {folder} does not exist")
    if not any(folder.glob("*.csv")):
        raise DataError(f"No export for {as_of}: folder {folder} holds no .csv files")
    if cfg.quality.require_completion_marker and not (folder / MARKER).is_file():
        raise ExportNotReady(f"the export {folder} has no {MARKER} yet (quality.require_completion_marker): "
                             "the student system has not finished writing it")
    return folder


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_marker(folder: Path) -> dict | None:
    """The completion marker's file list (``{name: {"rows": n, "sha256": ...}}``), or None without one."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        for name, spec in files.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("rows"), int) or spec["rows"] < 0:
                raise ValueError(name)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{MARKER}: not a valid completion marker (expected "
                        '{"files": {"<name>.csv": {"rows": <n>, "sha256": "<optional>"}}}; problem near '
                        f"{str(e)[:80]!r})") from None
    return files


def check_marker(marker: dict, sums: dict[str, dict]) -> None:
    """Every file listed and present, and each listed checksum equal: else the export is incomplete."""
    problems = [f"{n}: in the folder but not in {MARKER}" for n in sorted(set(sums) - set(marker))]
    problems += [f"{n}: listed in {MARKER} but missing from the folder" for n in sorted(set(marker) - set(sums))]
    problems += [f"{n}: sha256 differs from {MARKER} (the file is not the one the student system finished)"
                 for n, spec in sorted(marker.items()) if n in sums and spec.get("sha256")
                 and spec["sha256"].lower() != sums[n]["sha256"]]
    if problems:
        raise DataError("Export incomplete, nothing loaded: " + "; ".join(problems))


def check_rows(marker: dict | None, loaded: dict[str, int]) -> None:
    """Each table's loaded records against the marker's count (a file cut short at a line boundary)."""
    if marker is None:
        return
    problems = [f"{t}.csv: {n:,} rows read, {marker[t + '.csv']['rows']:,} in {MARKER}"
                for t, n in loaded.items() if t + ".csv" in marker and marker[t + ".csv"]["rows"] != n]
    if problems:
        raise DataError("Export incomplete, nothing published: " + "; ".join(problems))


def verify_archive(folder: Path, source: dict[str, dict]) -> None:
    """An archived folder still holds exactly the source's files, byte for byte: checked against the
    checksums just computed from the source (whose hash names the folder), never against the
    archive's own manifest alone, which whoever changed a file could have changed too."""
    manifest = json.loads((folder / MANIFEST).read_text())["files"]
    present = {p.name for p in folder.iterdir() if p.name != MANIFEST}
    problems = [f"{n}: not in the export" for n in sorted(present - set(source))]
    problems += [f"{n}: missing from the archive" for n in sorted(set(source) - present)]
    sums = each_file(sha256_file, [folder / n for n in sorted(set(source) & present)])
    problems += [f"{p.name}: sha256 differs from the export's (the archived copy was changed)"
                 for p, sha in sorted(sums.items()) if sha != source[p.name]["sha256"]]
    if not problems and {n: v["sha256"] for n, v in manifest.items()} != {n: v["sha256"] for n, v in source.items()}:
        problems.append(f"{MANIFEST}: differs from the export's checksums (the manifest was changed)")
    if problems:
        raise DataError(f"The archived export {folder} was tampered with: " + "; ".join(problems))


def same_as_previous_night(cfg: Config, as_of: date, export_id: str) -> date | None:
    """The latest earlier night whose archived export had the very same files, if the latest one did."""
    earlier = sorted(p for p in cfg.paths.landing_dir.glob("????-??-??") if p.name < as_of.isoformat())
    if earlier and (earlier[-1] / export_id / MANIFEST).exists():
        return date.fromisoformat(earlier[-1].name)
    return None


def archive(cfg: Config, as_of: date, source: Path) -> Archived:
    """Copy every CSV of the export (and its completion marker) into the landing archive with checksums."""
    files = sorted(p for p in source.iterdir() if p.is_file() and (p.suffix == ".csv" or p.name == MARKER))
    sums = {p.name: {"sha256": sha, "bytes": p.stat().st_size}
            for p, sha in sorted(each_file(sha256_file, files).items())}
    marker = read_marker(source)
    if marker is not None:
        check_marker(marker, {n: v for n, v in sums.items() if n != MARKER})
    export_id = hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()[:16]
    night = cfg.paths.landing_dir / as_of.isoformat()
    target = night / export_id
    if (target / MANIFEST).exists():
        verify_archive(target, sums)
        return Archived(export_id, target, reused=True)
    night.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=night))
    try:
        def keep(p: Path) -> str:   # the copy hashed again: the file may change while it is copied
            shutil.copy2(p, tmp / p.name)
            return sha256_file(tmp / p.name)

        for p, sha in sorted(each_file(keep, files).items()):
            if sha != sums[p.name]["sha256"]:
                raise OSError(f"{p.name} changed while it was being archived")
        manifest = {"as_of": as_of.isoformat(), "export_id": export_id,
                    "source": str(source), "files": sums}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for p in tmp.iterdir():
            p.chmod(0o444)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Archived(export_id, target, reused=False)


# What a night writes to the data folder, as a multiple of its export's CSV bytes: the archive
# copy, the load slot, rule facts and history in the warehouse, the run's files, the Data Docs and
# the extracts. Measured at its peak: 5.1x at 5,000 students (the Data Docs' fixed size weighs
# most), 4.1x at 40,000 (docs/decisions.md); quality.min_free_disk_mb is the margin on top.
SPACE_FACTOR = 5


def space_needed(cfg, export_dir) -> int:
    """Bytes a night needs free in the data folder: ``SPACE_FACTOR`` x the export, plus the margin."""
    return SPACE_FACTOR * sum(p.stat().st_size for p in export_dir.glob("*.csv")) \
        + cfg.quality.min_free_disk_mb * 2**20


def check_free_space(cfg, export_dir) -> None:
    """Room for everything the night writes (``space_needed``), checked before it writes anything."""
    import shutil

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    need = space_needed(cfg, export_dir)
    free = shutil.disk_usage(cfg.data_dir).free
    if free < need:
        raise HostError(f"not enough disk space in {cfg.data_dir}: {free / 2**20:,.0f} MB free, the night needs "
                        f"about {need / 2**20:,.0f} MB ({SPACE_FACTOR} x the export + quality.min_free_disk_mb); "
                        "nothing was changed")


def disk_full(cfg, export_dir: Path | None) -> HostError:
    """The error of a write that found the disk full part-way through a night: the folder, what is
    free, what the night needs (when its export is known); the published night is unchanged."""
    import shutil

    free = shutil.disk_usage(cfg.data_dir).free if cfg.data_dir.exists() else 0
    need = (f", the night needs about {space_needed(cfg, export_dir) / 2**20:,.0f} MB"
            if export_dir is not None and export_dir.is_dir() else "")
    return HostError(f"disk full: no space left in the data folder {cfg.data_dir} ({free / 2**20:,.0f} MB free"
                     f"{need}); the night stopped unpublished, the last published night is unchanged. Free space "
                     "there (or move paths.data_dir) and run the night again")


def warnings_file(cfg: Config, as_of: date) -> Path:
    """``runs/<as-of>/warnings.txt``: what a night warns about (shown in the summary, the CLI and the page)."""
    return cfg.run_dir(as_of) / run_record.WARNINGS


def night_warnings(cfg: Config, as_of: date) -> list[str]:
    path = warnings_file(cfg, as_of)
    return path.read_text().splitlines() if path.exists() else []


def add_warning(cfg: Config, as_of: date, message: str) -> None:
    """Record a warning about the night once (a re-run does not repeat it)."""
    if message in night_warnings(cfg, as_of):
        return
    path = warnings_file(cfg, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(message + "\n")


def database_uri(conn_id: str) -> str:
    """The connection URI of the student system's database from an Airflow connection: a
    PostgreSQL one (postgres/postgresql) or a MariaDB/MySQL one (mysql/mariadb)."""
    from urllib.parse import quote

    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigError(f"the database connection '{conn_id}' (export_source.conn_id) is not defined: set "
                          f"AIRFLOW_CONN_{conn_id.upper()}='postgresql://USER:PASSWORD@HOST:5432/DB'") from None
    scheme = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}.get(
        (conn.conn_type or "").lower())
    if scheme is None or not conn.host:
        raise ConfigError(f"the connection '{conn_id}' (export_source.conn_id) must be a PostgreSQL or MariaDB/MySQL "
                          f"connection with a host, not {conn.conn_type!r}")
    auth = quote(conn.login or "", safe="") + (":" + quote(conn.password, safe="") if conn.password else "")
    port = conn.port or (5432 if scheme == "postgresql" else 3306)
    return f"{scheme}://{auth}{'@' if auth else ''}{conn.host}:{port}/{conn.schema or ''}"


PULL_THREADS = 3   # tables read at a time: the database, the writing and the hashing overlap
PULL_CHUNKS = 128  # asyncpg's chunks of COPY data (about 8 KB each) written and hashed at a time


def _pull_postgres(uri: str, schema: str, wanted: list, tmp: Path) -> dict:
    """Every table from one consistent snapshot (exported by a lead transaction and imported by
    each reader, as ``pg_dump -j`` does: meetings and their participants are of one moment),
    PostgreSQL writing the CSV itself (``COPY ... TO STDOUT``), the largest tables first so that
    the longest copy does not start last. asyncpg hands the stream on in large chunks, each
    written and hashed in a thread (psycopg2 called Python once per row, and the file was read
    again to hash it)."""
    import asyncio
    import hashlib

    import asyncpg

    async def connect():
        # dates as the contract's; no named prepared statements (a connection pooler may sit in between)
        con = await asyncpg.connect(uri, server_settings={"DateStyle": "ISO, YMD"}, statement_cache_size=0)
        return con, con.transaction(isolation="repeatable_read", readonly=True)

    async def pull() -> dict:
        lead, snap = await connect()   # its transaction stays open until every reader has taken the snapshot
        try:
            await snap.start()
            snapshot = await lead.fetchval("SELECT pg_export_snapshot()")
            size = dict(await lead.fetch("SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                                         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1", schema))
            slots = asyncio.Semaphore(PULL_THREADS)
            loop = asyncio.get_running_loop()

            async def copy(t, cols) -> tuple[str, dict]:
                sha, held = hashlib.sha256(), []
                async with slots:
                    con, tx = await connect()
                    try:
                        with (tmp / t.file).open("wb") as f:
                            def keep(chunks: list[bytes]) -> None:
                                data = b"".join(chunks)
                                f.write(data)
                                sha.update(data)

                            async def sink(chunk: bytes) -> None:
                                held.append(chunk)
                                if len(held) >= PULL_CHUNKS:
                                    await loop.run_in_executor(None, keep, held[:])
                                    held.clear()

                            async with tx:
                                await con.execute(f"SET TRANSACTION SNAPSHOT {literal(snapshot)}")
                                status = await con.copy_from_query(f"SELECT {', '.join(cols)} FROM {schema}.{t.name}",
                                                                   output=sink, format="csv", header=True)
                            keep(held)
                    finally:
                        await con.close()
                return t.file, {"rows": int(status.split()[-1]), "sha256": sha.hexdigest()}

            largest_first = sorted(wanted, key=lambda w: -size.get(w[0].name, 0))
            return dict(await asyncio.gather(*(copy(*w) for w in largest_first)))
        finally:
            await lead.close()

    return asyncio.run(pull())


def _pull_mysql(uri: str, schema: str, wanted: list, tmp: Path) -> dict:
    """MariaDB/MySQL: each table read with connectorx into Arrow, written by DuckDB's CSV writer."""
    import connectorx
    import duckdb

    def pull(t, cols) -> tuple[str, dict]:
        rows = connectorx.read_sql(uri, f"SELECT {', '.join(cols)} FROM {schema}.{t.name}", return_type="arrow")
        with duckdb.connect() as con:
            con.register("pulled", rows)
            con.execute(f"COPY (SELECT * FROM pulled) TO {literal(tmp / t.file)} (HEADER, DELIMITER ',')")
        return t.file, {"rows": rows.num_rows, "sha256": sha256_file(tmp / t.file)}

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=PULL_THREADS) as pool:
        return dict(pool.map(lambda w: pull(*w), wanted))


def pull_database(cfg: Config, as_of: date) -> Path:
    """Read every table of the export contract from the student system's database in bulk,
    as the export's CSV files into ``export_root/<as-of>/``, and the completion marker last, with
    each file's rows and sha256. PostgreSQL writes the CSV itself (``COPY ... TO STDOUT``,
    handed on by asyncpg in large chunks); MariaDB/MySQL is read with connectorx into Arrow and written
    by DuckDB's CSV writer. Neither is a Python loop over rows. From there the night is an
    ordinary one: archived, gated and loaded like files the student system dropped, so it is
    reproducible from the landing archive. Optional tables and columns may be missing; a
    missing required one is a data error naming it."""
    import connectorx

    src = cfg.export_source
    if not src.conn_id:
        raise ConfigError("export_source.kind is database but export_source.conn_id is not set")
    uri = database_uri(src.conn_id)
    mysql = uri.startswith("mysql")
    schema = src.schema or (uri.rsplit("/", 1)[-1] if mysql else "public")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):   # it reaches the SQL: a plain name only
        raise ConfigError(f"the student system's schema {schema[:64]!r} is not a plain name (export_source.schema)")
    have = connectorx.read_sql(uri, "SELECT table_name, column_name FROM information_schema.columns "
                                    f"WHERE table_schema = '{schema}'", return_type="arrow")
    columns: dict[str, set[str]] = {}
    for table, column in zip(have.column(0).to_pylist(), have.column(1).to_pylist(), strict=True):
        columns.setdefault(table.lower(), set()).add(column.lower())
    wanted = []
    for t in TABLES:
        present = columns.get(t.name)
        if present is None:
            if t.optional_file:
                continue
            raise DataError(f"the student system's database has no table {schema}.{t.name} (export_source)")
        missing = [c for c in t.required_columns if c not in present]
        if missing:
            raise DataError(f"table {schema}.{t.name} of the student system's database has no column "
                            f"{', '.join(missing)}")
        wanted.append((t, [c for c in t.columns if c in present]))

    folder = cfg.paths.export_root / as_of.isoformat()
    tmp = folder.with_name(f".{folder.name}.pulling")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    try:   # a fault leaves nothing behind: the folder appears whole, marker last, or not at all
        marker = (_pull_mysql if mysql else _pull_postgres)(uri, schema, wanted, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_json(tmp / MARKER, {"files": marker, "source": f"database {src.conn_id}"})   # last: the export is whole
    return replace_folder(tmp, folder)
