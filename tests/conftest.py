"""Shared test set-up: a private local Airflow (the CLI's settings, SQLite), a data folder per test,
a real SMTP server. The helpers the test modules import are in helpers.py, the synthetic exports
in builder.py.

Tiers (markers, added from the fixtures a test uses, so they cannot be forgotten):
- ``dag_run``         runs a real DAG with ``dag.test()`` (tens of seconds);
- ``airflow_server``  starts ``airflow standalone`` and talks to its REST API (minutes);
- ``browser``         drives headless Chromium;
- ``cluster``         starts the Celery deployment;
- ``bench``           runs the benchmark on a small district (every task in its own process).
``make test-fast`` runs the rest in seconds; ``make test`` (and CI) runs everything.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # tools/: the development tools (demo generator, mail catcher, CLI, bench)
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))

from iepwatch.deployment import airflow_env  # noqa: E402  (light: no Airflow import)

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="iepwatch-airflow-"))
os.environ.update({
    **airflow_env.settings(AIRFLOW_HOME),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "IEPWATCH_DISABLE_DEADLINE": "1",   # dag.test() cannot run DAGs with a DeadlineAlert (see iepwatch.alerts)
})
logging.getLogger("great_expectations").setLevel(logging.WARNING)

from builder import AS_OF, Export  # noqa: E402
from helpers import (  # noqa: E402
    NEXT,
    Night,
    run_dag,
    run_night_in_process,
    smtp_url,
)

from tools.mailcatcher import MailCatcher, free_port  # noqa: E402,F401  (free_port: for the tests)

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


@pytest.fixture(scope="session")
def demo_export(tmp_path_factory) -> Path:
    from tools.demo import generate

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


