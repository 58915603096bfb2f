"""Every DAG imports, has tags and retries >= 2, and parses fast without heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "iep_nightly" in dagbag.dags


def test_tags_owner_retries_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        for t in dag.tasks:
            assert t.retries >= 2 or t.task_id == "send_coordinator_emails", (dag_id, t.task_id)
            assert t.retry_exponential_backoff, (dag_id, t.task_id)
            assert t.owner and t.owner != "airflow", (dag_id, t.task_id)
            assert t.pool == "iepwatch_warehouse", (dag_id, t.task_id)
    from iepwatch import district
    from iepwatch.deployment import districts

    assert district.pools() == {"iepwatch_warehouse": districts.pool_entry("the district")}
    assert districts.pool_entry("x")["slots"] == 1


def test_failures_and_late_runs_alert_the_data_team_by_smtp(dagbag):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from iepwatch.alerts import RunAlertNotifier, deadline_interval

    for dag in dagbag.dags.values():
        for t in dag.tasks:
            assert not t.email_on_failure
            callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
            (notifier,) = callbacks
            assert isinstance(notifier, RunAlertNotifier) and isinstance(notifier, SmtpNotifier)
            assert notifier.to == "data-team@example.org"
    from iepwatch.alerts import deadline_alert
    from iepwatch.district import load_config

    assert dagbag.dags["iep_nightly"].deadline is None, "off under dag.test() (IEPWATCH_DISABLE_DEADLINE=1)"
    os.environ["IEPWATCH_DISABLE_DEADLINE"] = "0"
    try:
        alert = deadline_alert(load_config())
    finally:
        os.environ["IEPWATCH_DISABLE_DEADLINE"] = "1"
    assert alert.interval == timedelta(hours=4)          # 02:00 run, 06:00 deadline (district time)
    assert alert.callback.kwargs["to"] == "data-team@example.org"
    assert deadline_interval("30 23 * * *", "06:00") == timedelta(hours=6, minutes=30)


def test_nightly_shape(dagbag):
    dag = dagbag.dags["iep_nightly"]
    assert dag.catchup is False and dag.max_active_runs == 1
    assert {"find_export", "archive_export", "load_staging", "validate_export", "publish_night"} <= set(dag.task_ids)
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "America/Los_Angeles"


def test_the_task_order_of_the_tools_is_one_the_dag_allows(dagbag):
    """``iep_nightly.ORDER`` (what the bench, the fingerprint and the tests call a night's bodies in)
    holds every task of the DAG, each after the tasks it waits on."""
    from iepwatch.tasks.iep_nightly import ORDER

    dag = dagbag.dags["iep_nightly"]
    assert sorted(ORDER) == sorted(dag.task_ids)
    for task_id in ORDER:
        upstream = dag.get_task(task_id).upstream_task_ids
        assert all(ORDER.index(u) < ORDER.index(task_id) for u in upstream), (task_id, upstream)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parses_fast_without_heavy_imports(path):
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT / 'dags')!r})
import airflow.sdk  # Airflow itself is loaded before any DAG file is parsed
t = time.perf_counter()
import runpy; runpy.run_path({str(path)!r})
seconds = time.perf_counter() - t
heavy = [m for m in ("duckdb", "pandas", "great_expectations", "pyarrow") if m in sys.modules]
import json; print("RESULT " + json.dumps(dict(seconds=seconds, heavy=heavy)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(next(ln[7:] for ln in out.stdout.splitlines() if ln.startswith("RESULT ")))
    assert result["heavy"] == [], f"{path.name} imports {result['heavy']} at parse time"
    assert result["seconds"] < 0.5, f"{path.name} took {result['seconds']:.2f}s to parse"


@pytest.mark.parametrize("run_type,mailed", [("scheduled", 1), ("manual", 0), ("backfill", 0)])
def test_the_deadline_alert_mails_for_a_scheduled_night_only(run_type, mailed, smtp):
    """The callback as the triggerer runs it (CallbackTrigger: awaited with the run in its context)."""
    import asyncio

    from airflow.triggers.callback import CallbackTrigger

    from iepwatch.alerts import deadline_alert
    from iepwatch.district import load_config

    os.environ["IEPWATCH_DISABLE_DEADLINE"] = "0"
    try:
        alert = deadline_alert(load_config())
    finally:
        os.environ["IEPWATCH_DISABLE_DEADLINE"] = "1"
    context = {"dag_run": {"run_id": f"{run_type}__2026-11-27", "run_type": run_type, "dag_id": "iep_nightly"}}
    trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})

    async def run():
        return [e.payload async for e in trigger.run()]

    events = asyncio.run(run())
    assert events[-1]["state"] == "success", events
    assert len(smtp.messages()) == mailed


def test_the_emails_retry_as_often_as_the_data_team_sets(settings):
    """email.send_retries bounds the retries of a transient SMTP fault (default 2)."""
    from airflow.dag_processing.dagbag import DagBag

    settings({"email": {"send_retries": 0}})
    task = DagBag(dag_folder=str(ROOT / "dags")).dags["iep_nightly"].get_task("send_coordinator_emails")
    assert task.retries == 0
