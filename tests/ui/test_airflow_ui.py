"""The real Airflow UI: `airflow standalone` on 127.0.0.1, the REST API, the iepwatch plugin page."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from builder import AS_OF
from helpers import free_port, logical_date

from iepwatch.deployment import airflow_env
from tools.airflow_api import call, wait

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standalone(tmp_path, data_dir, session_mail_server):
    port = free_port()
    home = tmp_path / "airflow"
    home.mkdir()
    env = {**os.environ, **airflow_env.settings(home), "AIRFLOW__API__HOST": "127.0.0.1",
           "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__CORE__PARALLELISM": "4",
           "IEPWATCH_DATA_DIR": str(data_dir), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "IEPWATCH_DISABLE_DEADLINE": "0"}   # the scheduler runs the nightly with its DeadlineAlert
    airflow_env.set_up(env)
    airflow = str(Path(sys.executable).parent / "airflow")
    log = (home / "standalone.log").open("w")
    proc = subprocess.Popen([airflow, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait("the API server's health", lambda: call(f"{base}/api/v2/monitor/health")[0] == 200, 120)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        wait("the admin password", passwords.exists, 30)
        status, body = call(f"{base}/auth/token", body={"username": "admin",
                                                         "password": json.loads(passwords.read_text())["admin"]})
        assert status in (200, 201), body
        yield base, body["access_token"], home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_nightly_through_the_rest_api_and_the_plugin_page(standalone, tmp_path):

    from tools.demo import generate

    base, token, home = standalone
    export = tmp_path / "export"
    generate(export, students=300, as_of=AS_OF)
    wait("iep_nightly to be parsed", lambda: call(f"{base}/api/v2/dags/iep_nightly", token)[0] == 200, 120)
    wait("state_reporting to be parsed", lambda: call(f"{base}/api/v2/dags/state_reporting", token)[0] == 200, 120)
    # a first start: the nightly is created paused (no scheduled night of today's date, whose export
    # the export root does not have), the asset-scheduled state_reporting on; the page says how to start
    assert call(f"{base}/api/v2/dags/iep_nightly", token)[1]["is_paused"] is True
    assert call(f"{base}/api/v2/dags/state_reporting", token)[1]["is_paused"] is False
    first = call(f"{base}/iepwatch/", token)[1]
    assert 'id="schedule-off"' in first and "make nightly DATE=YYYY-MM-DD" in first and 'id="stale"' not in first
    assert call(f"{base}/api/v2/dags/iep_nightly", token, {"is_paused": False}, "PATCH")[0] == 200
    status, run = call(f"{base}/api/v2/dags/iep_nightly/dagRuns", token,
                       {"logical_date": logical_date(AS_OF).isoformat(), "conf": {"export_dir": str(export)}})
    assert status == 200, run

    def finished():
        state = call(f"{base}/api/v2/dags/iep_nightly/dagRuns/{run['dag_run_id']}", token)[1]["state"]
        return state if state in ("success", "failed") else None

    assert wait("the nightly run", finished, 600) == "success", (home / "standalone.log").read_text()[-3000:]
    # the scheduler's listener noted the run's as-of date (the logical date is noon, district time)
    assert call(f"{base}/api/v2/dags/iep_nightly/dagRuns/{run['dag_run_id']}", token)[1]["note"] == f"as-of {AS_OF}"
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:   # the scheduler registered the nightly's DeadlineAlert
        assert ("nightly not finished by the morning",) in db.execute("SELECT name FROM deadline_alert").fetchall()
    assert call(f"{base}/iepwatch/")[0] == 401, "no page without login"
    status, page = call(f"{base}/iepwatch/", token)
    assert status == 200 and f"Exceptions as of {AS_OF}" in page and "Great Expectations Data Docs" in page
    assert 'id="schedule-off"' not in page, "the nightly is on"
    assert "0000001" not in page, "the page shows counts, not students"
    status, plugins = call(f"{base}/api/v2/plugins", token)
    assert any(v["href"] == "/iepwatch/" for p in plugins["plugins"] for v in p["external_views"])
    assert call(f"{base}/iepwatch/datadocs/index.html", token)[0] == 200
    assert call(f"{base}/iepwatch/datadocs/index.html")[0] == 401
    audited_download(base, token, home)
    roles_see_what_they_may(base, home)
    screenshots(base, token)


def roles_see_what_they_may(base: str, home) -> None:
    """Real Airflow users of each role (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS): a viewer sees
    the counts and gets 403 for student rows and files; an op sees them, in the audit log."""
    import sqlite3

    passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
    tokens = {}
    for user in ("viewer", "op"):
        status, body = call(f"{base}/auth/token", body={"username": user, "password": passwords[user]})
        assert status in (200, 201), body
        tokens[user] = body["access_token"]
    status, page = call(f"{base}/iepwatch/", tokens["viewer"])
    assert status == 200 and f"Exceptions as of {AS_OF}" in page and "counts only" in page
    for path in (f"exceptions?as_of={AS_OF}", f"exceptions.csv?as_of={AS_OF}",
                 f"extracts/compliance_student_list/{AS_OF}/list.csv"):
        assert call(f"{base}/iepwatch/{path}", tokens["viewer"])[0] == 403, path
    status, rows = call(f"{base}/iepwatch/exceptions?as_of={AS_OF}&status=overdue", tokens["op"])
    assert status == 200 and "row" in rows
    with sqlite3.connect(home / "airflow.db") as db:
        seen = db.execute("SELECT owner FROM log WHERE event = 'iepwatch.exceptions_view'").fetchall()
    assert seen == [("op",)], seen
    page_as_each_role(base, tokens)


def page_as_each_role(base: str, tokens: dict[str, str]) -> None:
    """The page in headless Chromium, signed in as a viewer and as an op: run health first, the
    drill-down links only for the op (checked on the DOM; screenshots in test-output/)."""
    import shutil

    if not shutil.which("chromium"):
        print("chromium is not installed (apt-get install chromium): no browser check")
        return
    from cdp import browser

    links = "document.querySelectorAll('a[href^=\"exceptions\"]').length"
    for role, token in tokens.items():
        with browser(1300, 2200) as b:
            b.open(f"{base}/iepwatch/", cookies={"_token": token}, settle=0.5)
            assert b.evaluate("document.querySelector('h2').textContent") == "Run health"
            # the newest nightly run: the test's night, or today's scheduled one once the DAG is on
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", b.evaluate("document.getElementById('health-as-of').textContent"))
            assert b.evaluate("document.querySelectorAll('#counts tr').length") > 2
            assert (b.evaluate(links) > 0) == (role == "op"), role
            # Airflow's UI (same origin) now shows the district's time zone unless the user chose one
            assert b.evaluate("localStorage.getItem('timezone')") == '"America/Los_Angeles"'
            b.screenshot(ROOT / "test-output" / f"plugin-iepwatch-{role}.png")


def audited_download(base: str, token: str, home) -> None:
    """A student-level file downloaded from the page is in Airflow's audit log, with the user and the file."""
    import sqlite3

    from iepwatch.district import load_config

    folder = load_config().paths.extracts_dir / "compliance_student_list" / str(AS_OF)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "list.csv").write_text("student_id\n0000001\n")
    assert call(f"{base}/iepwatch/extracts/compliance_student_list/{AS_OF}/list.csv")[0] == 401
    status, body = call(f"{base}/iepwatch/extracts/compliance_student_list/{AS_OF}/list.csv", token)
    assert status == 200 and "0000001" in body
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute("SELECT owner, extra FROM log WHERE event = 'iepwatch.extract_download'").fetchall()
    assert rows == [("admin", json.dumps({"report": "compliance_student_list", "as_of": str(AS_OF),
                                          "file": "list.csv"}))], rows


def screenshots(base: str, token: str) -> None:
    """The DAG page and the plugin page, logged in, as PNGs in test-output/ for a person to look at."""
    import shutil

    from cdp import screenshot

    if not shutil.which("chromium"):
        print("chromium is not installed (apt-get install chromium): no screenshots")
        return
    out = ROOT / "test-output"
    for name, path in (("dag-iep_nightly", "/dags/iep_nightly"), ("plugin-iepwatch", "/iepwatch/")):
        png = screenshot(f"{base}{path}", out / f"{name}.png", cookies={"_token": token})
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, name
