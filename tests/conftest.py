"""Shared test set-up: a private local Airflow (the CLI's settings, SQLite), a data folder per test,
a real SMTP server, and the helpers every test module imports from here.

Tiers (markers, added from the fixtures a test uses, so they cannot be forgotten):
- ``dag_run``         runs a real DAG with ``dag.test()`` (tens of seconds);
- ``airflow_server``  starts ``airflow standalone`` and talks to its REST API (minutes);
- ``browser``         drives headless Chromium;
- ``cluster``         starts the Celery deployment;
- ``bench``           runs the benchmark on a small district (every task in its own process).
``make test-fast`` runs the rest in seconds; ``make test`` (and CI) runs everything.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))

from iepwatch import airflow_env  # noqa: E402  (light: no Airflow import)

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="iepwatch-airflow-"))
os.environ.update({
    **airflow_env.settings(AIRFLOW_HOME),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "IEPWATCH_DISABLE_DEADLINE": "1",   # dag.test() cannot run DAGs with a DeadlineAlert (see iepwatch.alerts)
})
logging.getLogger("great_expectations").setLevel(logging.WARNING)

from builder import AS_OF, Export  # noqa: E402

from iepwatch.mailcatcher import MailCatcher, free_port  # noqa: E402,F401  (free_port: for the tests)

TIER_FIXTURES = {"airflow_db": "dag_run", "standalone": "airflow_server", "chromium": "browser"}


def pytest_configure(config):
    for marker, what in (("dag_run", "runs a real DAG with dag.test()"),
                         ("airflow_server", "starts airflow standalone"),
                         ("browser", "drives headless Chromium"),
                         ("cluster", "starts the Celery deployment"),
                         ("bench", "runs the benchmark on a small district")):
        config.addinivalue_line("markers", f"{marker}: {what}")


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in TIER_FIXTURES.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)


def smtp_url(port: int) -> str:
    """The Airflow connection URI of a local SMTP server without TLS."""
    from iepwatch.mailcatcher import connection_uri

    return connection_uri(port)


@pytest.fixture(scope="session", autouse=True)
def session_mail_server(tmp_path_factory):
    """Every DAG run sends its coordinator emails to a real SMTP server on 127.0.0.1."""
    with MailCatcher(tmp_path_factory.mktemp("session-outbox")) as catcher:
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_url(catcher.port)
        yield catcher


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The migrated metadata database with the district's pool (as the CLI sets it up)."""
    airflow_env.set_up(dict(os.environ))
    return AIRFLOW_HOME


@pytest.fixture
def chromium():
    import shutil

    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return shutil.which("chromium")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(d))
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    monkeypatch.delenv("IEPWATCH_CONFIG", raising=False)
    return d


@pytest.fixture
def settings(tmp_path, monkeypatch, data_dir):
    """``settings({...})`` writes a district configuration over the project's and points IEPWATCH_CONFIG at it."""
    counter = iter(range(1000))

    def _write(overrides: dict) -> Path:
        path = tmp_path / f"iepwatch-{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(overrides))
        monkeypatch.setenv("IEPWATCH_CONFIG", str(path))
        return path

    return _write


@pytest.fixture
def cfg(data_dir):
    from iepwatch.district import load_config

    return load_config()


@pytest.fixture
def district() -> Export:
    return Export.district()


def logical_date(as_of: date):
    from iepwatch.district import load_config
    from iepwatch.night import logical_date as ld

    return ld(as_of, load_config().district.timezone)


def run_dag(dag_id: str, as_of: date, conf: dict | None = None):
    """Run a DAG of ``dags/`` once with dag.test(); returns (state, {task_id: (state, try_number)}), a mapped
    task's instances also as ``task_id[map_index]``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    dr = bag.dags[dag_id].test(logical_date=logical_date(as_of), run_conf=conf or {})
    tis = {ti.task_id: (ti.state, ti.try_number) for ti in dr.get_task_instances()}
    tis.update({f"{ti.task_id}[{ti.map_index}]": (ti.state, ti.try_number) for ti in dr.get_task_instances()
                if ti.map_index >= 0})
    return dr.state, tis


class Night:
    """The outcome of one evaluated night: rule results and exceptions as dicts."""

    def __init__(self, results: list[dict], exceptions: list[dict], resolved: list[dict]):
        self.results, self.exceptions, self.resolved = results, exceptions, resolved

    def statuses(self, rule: str, student: str | None = None, meeting: str | None = None) -> set[str]:
        """Statuses of the night's exceptions for a rule (optionally one student / meeting)."""
        return {e["status"] for e in self.exceptions if e["rule_id"] == rule
                and (student is None or e["student_id"] == student)
                and (meeting is None or e["meeting_id"] == meeting)}

    def exception(self, rule: str, student: str | None = None, status: str | None = None) -> dict:
        found = [e for e in self.exceptions if e["rule_id"] == rule and (student is None or e["student_id"] == student)
                 and (status is None or e["status"] == status)]
        assert len(found) == 1, (rule, student, status, found)
        return found[0]

    def evaluated(self, rule: str, student: str | None = None) -> list[dict]:
        return [r for r in self.results if r["rule_id"] == rule and (student is None or r["student_id"] == student)]


INGEST_AND_RULES = ("archive_export", "load_staging", "validate_export", "publish_core", "evaluate_rules",
                    "build_exceptions")


def run_night_in_process(folder: Path | None, as_of: date, emails: bool = False, **params):
    """The night's task bodies, called in order as the DAG wires them (no Airflow): up to the
    exceptions, and the coordinator emails with ``emails``. ``params`` are the run's params."""
    from iepwatch.tasks import iep_nightly as t

    params = {**({"export_dir": str(folder)} if folder else {}), **params}   # no folder: export_source decides
    night = t.find_export(params=params, logical_date=logical_date(as_of))
    for name in INGEST_AND_RULES:
        night = getattr(t, name)(night, params=params) if name == "validate_export" else getattr(t, name)(night)
    if emails:
        t.send_coordinator_emails(night)
    return night


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    """A mail catcher of this test's own, with smtp_default pointing at it; ``smtp.messages()`` reads it."""
    import email
    import email.policy

    outbox = tmp_path / "outbox"

    class Server:
        def __init__(self):
            self.port, self.outbox = free_port(), outbox
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_url(self.port))

        def start(self, fail_after=None):
            self.catcher = MailCatcher(outbox, self.port, fail_after=fail_after).__enter__()
            return self

        def stop(self):
            self.catcher.__exit__(None, None, None)

        def messages(self) -> list:
            return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                    for p in sorted(outbox.glob("*.eml"))]

    server = Server().start()
    yield server
    try:
        server.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass


@pytest.fixture
def evaluate(data_dir, tmp_path, settings):
    """Run a night through the real task bodies (real DuckDB, real SQL), without Airflow's scheduler."""
    from iepwatch import warehouse
    from iepwatch.district import load_config

    counter = iter(range(1000))

    def _eval(export: Export, as_of: date = AS_OF, rule_settings: dict | None = None) -> Night:
        settings({"quality": {"quarantine_threshold_pct": 100}, "rules": rule_settings or {}})
        run = run_night_in_process(export.write(tmp_path / f"export-{next(counter)}"), as_of)
        with warehouse.connect(load_config(), read_only=True) as con:
            bad = con.execute("SELECT table_name, reason, count(*) FROM quarantine.rows WHERE slot = ? GROUP BY ALL",
                              [run.slot]).fetchall()
            assert not bad, f"test export has bad rows: {bad}"
            return Night(warehouse.rows(con, "SELECT * FROM facts.rule_results"),
                         warehouse.rows(con, "SELECT * FROM compliance.exceptions WHERE as_of = ?", [as_of]),
                         warehouse.rows(con, "SELECT * FROM compliance.resolved WHERE as_of = ?", [as_of]))

    return _eval


# --- a published night to spoil: shared by the ingest and sources tests ---------------------------

NEXT = AS_OF + timedelta(days=1)
SECRET_FIRST, SECRET_LAST = "Zqxjfirstname", "Vvkwlastname"


def snapshot(warehouse: Path) -> dict[str, list]:
    import duckdb

    from iepwatch.contract import TABLES

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t.name: con.execute(f"SELECT * FROM core.{t.name} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_rows(path: Path, data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(data)


def set_value(folder: Path, table: str, line: int, column: str, value: str) -> None:
    """Set one cell; ``line`` is the file's line number (header is line 1)."""
    data = rows(folder / f"{table}.csv")
    data[line - 1][data[0].index(column)] = value
    write_rows(folder / f"{table}.csv", data)


@pytest.fixture(scope="session")
def demo_export(tmp_path_factory) -> Path:
    from iepwatch.demo import generate

    folder = tmp_path_factory.mktemp("demo") / str(AS_OF)
    generate(folder, students=300, as_of=AS_OF)
    return folder


@pytest.fixture(scope="session")
def published_night(airflow_db, demo_export, tmp_path_factory):
    """A data folder in which the demo export was published for AS_OF by the real DAG."""
    import os

    data = tmp_path_factory.mktemp("published") / "data"
    old = os.environ.get("IEPWATCH_DATA_DIR")
    os.environ["IEPWATCH_DATA_DIR"] = str(data)
    try:
        state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(demo_export)})
    finally:
        if old is None:
            os.environ.pop("IEPWATCH_DATA_DIR")
        else:
            os.environ["IEPWATCH_DATA_DIR"] = old
    assert state == "success", tis
    return data


@pytest.fixture
def after_good_night(published_night, data_dir, demo_export, tmp_path):
    """This test's data folder holds last night's published data; returns a copy of the export to spoil."""
    shutil.copytree(published_night, data_dir)
    export = tmp_path / "export" / str(NEXT)
    shutil.copytree(demo_export, export)
    return export


def run_next_night(export: Path, capfd):
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(export)})
    out, err = capfd.readouterr()
    return state, tis, out + err


def assert_failed_fast(state, tis, log, task: str, *needles: str):
    assert state == "failed"
    assert tis[task] == ("failed", 1), f"{task} should fail once without retry: {tis}"
    assert "publish_core" not in tis or tis["publish_core"][0] != "success"
    message = next(line for line in log.splitlines() if "DATA ERROR: " in line and "raise " not in line)
    for needle in needles:
        assert needle in message, (needle, message)


def assert_nothing_published_and_raw_kept(data_dir: Path, published_night: Path, export: Path):
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")
    archived = list((data_dir / "landing" / str(NEXT)).glob("*/manifest.json"))
    assert len(archived) == 1, "the raw export of a failed night is archived"
    for f in export.glob("*.csv"):
        assert (archived[0].parent / f.name).read_bytes() == f.read_bytes()


