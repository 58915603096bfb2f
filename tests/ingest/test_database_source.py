"""The student system's database as the export's source: real PostgreSQL and MariaDB on 127.0.0.1,
seeded from the demo generator's export; the night read from either gives exactly the
exceptions of the night read from the files."""

from __future__ import annotations

import csv
import json
import uuid

import pytest
from builder import AS_OF
from helpers import run_night_in_process

from iepwatch.ingest.contract import DATE, TABLES
from tools.demo import postgres

STUDENTS = 200
PG = "host=127.0.0.1 user=postgres dbname=test"


@pytest.fixture(scope="module", autouse=True)
def servers():
    """PostgreSQL (5432) and MariaDB (3306) on 127.0.0.1, as on the development machines and in CI."""
    import socket

    for port, name in ((5432, "PostgreSQL"), (3306, "MariaDB")):
        with socket.socket() as s:
            s.settimeout(2)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                pytest.skip(f"{name} is not listening on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tools.demo import generate

    folder = tmp_path_factory.mktemp("demo-export")
    generate(folder, students=STUDENTS, as_of=AS_OF)
    return folder


def tables(folder):
    """(table, its columns as the file has them, their SQL definition, the file) of every file of the
    export: dates typed DATE, the rest TEXT (as demo.load_into_postgres does for PostgreSQL)."""
    for t in TABLES:
        path = folder / t.file
        if path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f))
            yield t.name, header, ", ".join(f"{c} {'DATE' if t.columns[c] == DATE else 'TEXT'}" for c in header), path


def seed_postgres(schema: str, folder) -> str:
    from tools.demo import load_into_postgres

    load_into_postgres(folder, PG, schema)
    return "postgresql://postgres@127.0.0.1:5432/test"


def seed_mariadb(database: str, folder) -> str:
    import pymysql

    m = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    try:
        cur = m.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        cur.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        for name, header, ddl, path in tables(folder):
            cur.execute(f"CREATE TABLE {database}.{name} ({ddl})")
            with path.open(newline="", encoding="utf-8") as f:
                rows = [[v if v != "" else None for v in r] for r in list(csv.reader(f))[1:]]
            cur.executemany(f"INSERT INTO {database}.{name} VALUES ({', '.join(['%s'] * len(header))})", rows)
    finally:
        m.close()
    return f"mysql://root@127.0.0.1:3306/{database}"


def drop(kind: str, name: str) -> None:
    if kind == "postgresql":
        with postgres(PG) as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    else:
        import pymysql

        m = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        m.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        m.close()


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_night_read_from_the_student_systems_database_equals_the_night_from_its_files(
        kind, demo, data_dir, settings, monkeypatch, tmp_path):
    name = f"sis_{uuid.uuid4().hex[:8]}"
    uri = seed_postgres(name, demo) if kind == "postgresql" else seed_mariadb(name, demo)
    try:
        run_night_in_process(demo, AS_OF)
        from_files = (data_dir / "runs" / str(AS_OF) / "exceptions.csv").read_bytes()
        other = tmp_path / "from-database"
        monkeypatch.setenv("IEPWATCH_DATA_DIR", str(other))
        monkeypatch.setenv("AIRFLOW_CONN_SIS", uri)
        settings({"export_source": {"kind": "database", "conn_id": "sis",
                                    **({"schema": name} if kind == "postgresql" else {})}})
        run_night_in_process(None, AS_OF)
        assert (other / "runs" / str(AS_OF) / "exceptions.csv").read_bytes() == from_files
        pulled = other / "exports" / str(AS_OF)
        marker = json.loads((pulled / "export_complete.json").read_text())
        assert marker["files"]["students.csv"]["rows"] == STUDENTS and marker["source"] == "database sis"
        archived = next((other / "landing" / str(AS_OF)).iterdir())   # kept as files, with their checksums
        assert (archived / "students.csv").read_bytes() == (pulled / "students.csv").read_bytes()
    finally:
        drop(kind, name)


def test_a_missing_table_or_connection_is_named(demo, data_dir, settings, monkeypatch):
    from iepwatch.district import load_config
    from iepwatch.errors import ConfigError, DataError
    from iepwatch.ingest.sources import pull_database

    name = f"sis_{uuid.uuid4().hex[:8]}"
    uri = seed_postgres(name, demo)
    try:
        with postgres(PG) as cur:
            cur.execute(f"DROP TABLE {name}.meetings")
        settings({"export_source": {"kind": "database", "conn_id": "sis_missing", "schema": name}})
        with pytest.raises(ConfigError, match="sis_missing"):
            pull_database(load_config(), AS_OF)
        monkeypatch.setenv("AIRFLOW_CONN_SIS_MISSING", uri)
        with pytest.raises(DataError, match=rf"no table {name}\.meetings"):
            pull_database(load_config(), AS_OF)
        assert not (data_dir / "exports").exists() or not list((data_dir / "exports").iterdir()), \
            "nothing half-written"
    finally:
        drop("postgresql", name)


def test_views_are_read_like_tables_and_every_file_matches_the_export(demo, data_dir, settings, monkeypatch):
    """A student system often exposes views: a view is read like a table. Each file PostgreSQL
    wrote holds the export's rows (the same set, with ISO dates and the contract's columns), and
    its checksum is the file's (hashed as it was written, a few chunks at a time here)."""
    from iepwatch.district import load_config
    from iepwatch.ingest import sources
    from iepwatch.ingest.sources import pull_database, sha256_file

    monkeypatch.setattr(sources, "PULL_CHUNKS", 3)

    name = f"sis_{uuid.uuid4().hex[:8]}"
    uri = seed_postgres(name, demo)
    try:
        with postgres(PG) as cur:
            cur.execute(f"ALTER TABLE {name}.students RENAME TO students_raw")
            cur.execute(f"CREATE VIEW {name}.students AS SELECT * FROM {name}.students_raw")
        monkeypatch.setenv("AIRFLOW_CONN_SIS", uri)
        settings({"export_source": {"kind": "database", "conn_id": "sis", "schema": name}})
        folder = pull_database(load_config(), AS_OF)
        marker = json.loads((folder / "export_complete.json").read_text())
        for _, _, _, path in tables(demo):
            with path.open(newline="") as f:
                expected = list(csv.reader(f))
            with (folder / path.name).open(newline="") as f:
                pulled = list(csv.reader(f))
            assert pulled[0] == expected[0], path.name
            assert sorted(pulled[1:]) == sorted(expected[1:]), path.name
            assert marker["files"][path.name]["rows"] == len(expected) - 1
            assert marker["files"][path.name]["sha256"] == sha256_file(folder / path.name), path.name
    finally:
        drop("postgresql", name)


def test_every_table_is_read_from_one_snapshot(demo, data_dir, settings, monkeypatch):
    """A student the student system adds while the night is being read is in no file: every table is
    read as of the moment the pull began (meetings and their participants are of one moment). The
    schools view waits on a lock the test holds; while it waits, a student is added and committed;
    the students view is read after that, and must not see it."""
    import threading

    from iepwatch.district import load_config
    from iepwatch.ingest import sources

    name = f"sis_{uuid.uuid4().hex[:8]}"
    uri = seed_postgres(name, demo)
    monkeypatch.setattr(sources, "PULL_THREADS", 1)   # one table at a time: views (no size) last, schools first
    try:
        with postgres(PG) as cur:
            for table in ("schools", "students"):
                cur.execute(f"ALTER TABLE {name}.{table} RENAME TO {table}_raw")
            cur.execute(f"CREATE VIEW {name}.schools AS SELECT s.* FROM {name}.schools_raw s, "
                        "(SELECT pg_advisory_xact_lock_shared(4242)) wait")
            cur.execute(f"CREATE VIEW {name}.students AS SELECT * FROM {name}.students_raw")
        monkeypatch.setenv("AIRFLOW_CONN_SIS", uri)
        settings({"export_source": {"kind": "database", "conn_id": "sis", "schema": name}})
        cfg, result = load_config(), {}
        with postgres(PG) as gate, postgres(PG) as sis:
            gate.execute("SELECT pg_advisory_lock(4242)")
            reader = threading.Thread(target=lambda: result.update(folder=sources.pull_database(cfg, AS_OF)))
            reader.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            for _ in range(500):   # until the schools view waits on the lock: the pull is under way
                sis.execute(waiting)
                if sis.fetchone()[0]:
                    break
                reader.join(0.02)
            else:
                pytest.fail("the pull never reached the schools view")
            sis.execute(f"INSERT INTO {name}.students_raw (student_id, school_id) VALUES ('S-LATE', "
                        f"(SELECT min(school_id) FROM {name}.schools_raw))")
            gate.execute("SELECT pg_advisory_unlock(4242)")
            reader.join(60)
        with (result["folder"] / "students.csv").open(newline="") as f:
            ids = [r["student_id"] for r in csv.DictReader(f)]
        assert len(ids) == STUDENTS and "S-LATE" not in ids
    finally:
        drop("postgresql", name)
