"""Test set-up: a private AIRFLOW_HOME with a migrated SQLite DB, a data folder per test,
and helpers that run the real ``iep_nightly`` DAG with ``dag.test()``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="iepwatch-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "IEPWATCH_DISABLE_DEADLINE": "1",   # dag.test() cannot run DAGs with a DeadlineAlert (see iepwatch.notify)
})
sys.path.insert(0, str(ROOT / "tests"))
logging.getLogger("great_expectations").setLevel(logging.WARNING)

from builder import AS_OF, Export  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def session_mail_server(tmp_path_factory):
    """Every DAG run sends its coordinator emails to a real SMTP server on 127.0.0.1."""
    import socket

    from iepwatch.alerts.mailcatcher import MailCatcher

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outbox = tmp_path_factory.mktemp("session-outbox")
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = (
        f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=iepwatch%40example.org")
    with MailCatcher(outbox, port) as catcher:
        yield catcher


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    for cmd in (["db", "migrate"], ["pools", "set", "iepwatch_warehouse", "1", "DuckDB warehouse"]):
        out = subprocess.run([sys.executable, "-m", "airflow", *cmd], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
    return _AIRFLOW_HOME


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(d))
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    return d


@pytest.fixture
def cfg(data_dir):
    from iepwatch.config import load_config

    return load_config()


@pytest.fixture
def district() -> Export:
    return Export.district()


def logical_date(as_of: date):
    import pendulum

    from iepwatch.cli import logical_date as ld

    return pendulum.parse(ld(as_of))


def run_dag(dag_id: str, as_of: date, conf: dict | None = None):
    """Run a DAG of ``dags/`` once with dag.test(); returns (state, {task_id: (state, try_number)})."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    dr = bag.dags[dag_id].test(logical_date=logical_date(as_of), run_conf=conf or {})
    tis = {ti.task_id: (ti.state, ti.try_number) for ti in dr.get_task_instances()}
    return dr.state, tis


@pytest.fixture
def nightly(airflow_db, data_dir, tmp_path):
    """Write an Export for a night and run iep_nightly on it."""
    counter = iter(range(1000))

    def _run(export: Export | Path, as_of: date = AS_OF):
        folder = export if isinstance(export, Path) else export.write(tmp_path / f"export-{next(counter)}")
        return run_dag("iep_nightly", as_of, {"export_dir": str(folder)})

    return _run


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


@pytest.fixture
def evaluate(data_dir, tmp_path):
    """Run a night through the package's pipeline functions (real DuckDB, real SQL), without Airflow."""
    from iepwatch import load, quality, rules, sources, warehouse
    from iepwatch.config import load_config

    counter = iter(range(1000))

    def _eval(export: Export, as_of: date = AS_OF, rule_settings: dict | None = None) -> Night:
        cfg = load_config(overrides={"rules": rule_settings or {}})
        folder = export.write(tmp_path / f"export-{next(counter)}")
        arc = sources.archive(cfg, as_of, folder)
        suites = quality.load_suites("ingest", as_of)
        with warehouse.connect(cfg) as con:
            load.load_staging(con, arc.path, as_of, arc.export_id)
            quality.check_keys(con, suites)
            summary = quality.quarantine(con, suites, as_of, 100.0)
            assert not any(summary.quarantined.values()), f"test export has bad rows: {summary.reasons}"
            load.publish(con, as_of, arc.export_id)
            rules.evaluate(con, cfg, as_of)
            rules.build_exceptions(con, as_of)

            def fetch(q, *args):
                cur = con.execute(q, list(args))
                cols = [d[0] for d in cur.description]
                return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

            return Night(fetch("SELECT * FROM facts.rule_results"),
                         fetch("SELECT * FROM compliance.exceptions WHERE as_of = ?", as_of),
                         fetch("SELECT * FROM compliance.resolved WHERE as_of = ?", as_of))

    return _eval
