"""The CLI behind the Makefile: one night at a time per data folder, failures said where the user looks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import duckdb
import pytest
from builder import AS_OF

from iepwatch import errors, warehouse
from iepwatch.district import load_config
from tools import cli


def test_the_night_lock_waits_or_refuses_with_a_clear_message(data_dir):
    cfg = load_config()
    entered = []
    with cli.night_lock(cfg, AS_OF, wait=False):
        refused = r"another night is running on .*\(pid \d+, as-of 2026-11-27\); not started"
        with pytest.raises(SystemExit, match=refused):
            with cli.night_lock(cfg, AS_OF + timedelta(days=1), wait=False):
                pass

        def second():
            with cli.night_lock(cfg, AS_OF + timedelta(days=1), wait=True):
                entered.append(time.monotonic())

        t = threading.Thread(target=second)
        t.start()
        time.sleep(1.5)
        assert not entered, "the second night waits while the first runs"
        released = time.monotonic()
    t.join(10)
    assert entered and entered[0] >= released


def test_a_held_warehouse_is_waited_for_not_a_crash(data_dir):
    cfg = load_config()
    with warehouse.connect(cfg):
        pass
    hold = f"import duckdb, time\ncon = duckdb.connect({str(cfg.warehouse)!r})\nprint('held', flush=True)\n" \
        "time.sleep(3)"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(errors.WarehouseBusy, match="in use by another process"):
        with warehouse.connect(cfg, wait=0.5):
            pass
    t = time.monotonic()
    with warehouse.connect(cfg, wait=30) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
    assert time.monotonic() - t > 0.5, "it waited for the other process"
    holder.wait()


def test_failure_lines_put_the_reason_first():
    log = "\n".join([
        "2026-11-28T10:00:00.000000Z [error    ] Task failed [airflow.task] loc=x.py:1",
        "2026-11-28T10:00:00.000000Z [error    ] DATA ERROR: students.csv: missing required column sped_status "
        "[iepwatch.tasks] loc=__init__.py:34",
        "airflow.sdk.exceptions.AirflowFailException: DATA ERROR: students.csv: missing required column sped_status",
        "    raise AirflowFailException(...)",
    ])
    lines = cli.failure_lines(log)
    assert lines[0] == "DATA ERROR: students.csv: missing required column sped_status"
    assert not any("raise " in ln for ln in lines)


def test_two_nights_started_at_once_on_one_data_folder_both_end_cleanly(airflow_db, data_dir, tmp_path):
    """Two `make nightly` of the same night at once (a scheduled run and one by hand): the second waits for the
    first; what is published is a complete night. (Two different nights at once: whichever gets the lock second
    is either the newer night, or an older one that is refused as a backfill: see test_backfill.)"""
    from tools.demo import generate

    export = tmp_path / "export"
    counts = generate(export, students=60, as_of=AS_OF)
    env = {**os.environ, "IEPWATCH_DATA_DIR": str(data_dir)}
    nights = [subprocess.Popen([sys.executable, "-m", "tools.cli", "night", "--date", str(day),
                                "--export", str(export)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
              for day in (AS_OF, AS_OF)]
    outputs = [p.communicate(timeout=900)[0] for p in nights]
    assert [p.returncode for p in nights] == [0, 0], outputs
    assert sum("another night is running" in out and "waiting for it to finish" in out for out in outputs) == 1
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT as_of FROM core.export").fetchone()[0] == AS_OF
        assert con.execute("SELECT count(*) FROM core.students").fetchone()[0] == counts["students"]
        assert con.execute("SELECT count(DISTINCT as_of) FROM compliance.exceptions").fetchone()[0] == 1
    finally:
        con.close()
    the_ui_shows_the_nights_runs_with_their_logs(airflow_db)


def the_ui_shows_the_nights_runs_with_their_logs(home) -> None:
    """A dag.test() night as the Airflow UI reads it: its as-of date as the run's note, a real
    duration, and each task's log where Airflow's file task handler looks for it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.session import create_session
    from sqlalchemy import select

    handler = FileTaskHandler(base_log_folder=str(home / "logs"))
    with create_session() as session:
        for dag_id in ("iep_nightly", "state_reporting"):
            run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)
                                  .order_by(DagRun.id.desc()).limit(1)).one()
            assert run.note == f"as-of {AS_OF}", dag_id
            assert (run.end_date - run.start_date).total_seconds() < 900, "not a day's worth of duration"
            tis = run.get_task_instances(session=session)
            assert len(tis) >= 4
            for ti in tis:
                path = home / "logs" / handler._render_filename(ti, ti.try_number, session=session)
                assert path.is_file(), path
                assert f"task_id={ti.task_id}" in path.read_text().splitlines()[0]


@pytest.mark.airflow_server
def test_make_airflow_without_an_smtp_server_catches_the_mail_locally(tmp_path, data_dir, monkeypatch, capsys):
    """`make airflow` with no SMTP connection set: a local mail catcher, said where its mail goes,
    stopped with Airflow by `make stop`."""
    import re
    import smtplib

    from tools.mailcatcher import free_port

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    cli.airflow_start(free_port())
    try:
        out = capsys.readouterr().out
        said = re.search(r"local mail catcher on 127\.0\.0\.1:(\d+), written to (\S+)/\*\.eml", out)
        assert said, out
        port, outbox = int(said.group(1)), said.group(2)
        assert outbox == str(data_dir / "outbox")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("iepwatch@example.org", ["coord@example.org"], b"Message-ID: <t1@example.org>\r\n"
                       b"Subject: test\r\n\r\nhello\r\n")
        assert (data_dir / "outbox" / "t1@example.org.eml").exists()
    finally:
        cli.airflow_stop()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)


def test_a_dag_import_error_is_among_the_failure_lines():
    log = "2026-11-27T01:00:00Z [info     ] Filling up the DagBag\nDAG import error in dags/iep_nightly.py: boom\n"
    assert cli.failure_lines(log) == ["DAG import error in dags/iep_nightly.py: boom"]


def test_a_night_beside_a_running_make_airflow_uses_its_mail_catcher(tmp_path):
    """`make airflow` leaves its mail catcher's connection in AIRFLOW_HOME; `make nightly` beside
    it sends there (not "smtp_default is not defined"), and not once that catcher has stopped."""
    import os
    import subprocess
    import sys

    from tools.cli import MAIL_CATCHER_URI, running_mail_catcher

    assert running_mail_catcher(tmp_path) is None
    (tmp_path / MAIL_CATCHER_URI).write_text("smtp://127.0.0.1:2525?disable_ssl=true&disable_tls=true\n")
    (tmp_path / "mailcatcher.pid").write_text(str(os.getpid()))        # alive
    assert running_mail_catcher(tmp_path) == "smtp://127.0.0.1:2525?disable_ssl=true&disable_tls=true"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "mailcatcher.pid").write_text(gone.stdout.strip())     # a process that has ended
    assert running_mail_catcher(tmp_path) is None


def test_the_night_lock_stays_with_the_process_that_writes_when_the_cli_is_killed(data_dir, tmp_path):
    """`kill -9` of `make nightly`'s CLI while its Airflow process runs the night: that process keeps
    the lock (it holds the lock's file), so a second night on the folder is refused (or waits)
    until it has ended, never interleaved with it."""
    import fcntl
    import signal

    from tools.demo import generate

    export = tmp_path / "export"
    generate(export, students=40, as_of=AS_OF)
    env = {**os.environ, "IEPWATCH_DATA_DIR": str(data_dir)}
    first = subprocess.Popen([sys.executable, "-m", "tools.cli", "night", "--date", str(AS_OF), "--export",
                              str(export)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert "running iep_nightly" in first.stdout.readline()
    deadline = time.monotonic() + 60
    while not _children(first.pid, "dags-test"):   # the Airflow process has started
        assert time.monotonic() < deadline, "the night's Airflow process never started"
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.run([sys.executable, "-m", "tools.cli", "night", "--date", str(AS_OF + timedelta(days=1)),
                             "--export", str(export), "--no-wait"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode != 0 and "another night is running" in second.stdout + second.stderr, second
    deadline = time.monotonic() + 600
    with (data_dir / ".night.lock").open("a+") as f:
        while True:   # the orphan ends (its night done, or stopped by its closed output): the lock is free
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the orphan never released the lock"
                time.sleep(1)
        fcntl.flock(f, fcntl.LOCK_UN)


def _children(pid: int, needle: str) -> list[int]:
    """The processes whose parent is ``pid`` and whose command line holds ``needle``."""
    from pathlib import Path

    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid and needle in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    return found
