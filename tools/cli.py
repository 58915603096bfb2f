"""The command line behind the Makefile: ``python -m tools.cli <command>``.

    night --date D [--export DIR]   run iep_nightly then state_reporting for one night
          [--district ID]           ... of one district of the deployment file (IEPWATCH_DEPLOYMENT)
    demo [--date D] [--students N]  generate the demo district, run its night with a local mail catcher
    summary D                       where a night's results are, with counts (no student data)
    airflow start|stop              the Airflow UI (airflow standalone) on 127.0.0.1
    email-preview [--date D]        the first digest of a night rendered to PNG (headless Chromium)
    set-up                          migrate Airflow's metadata database and import the pools
    pools [--out FILE]              the pools the district(s) need, as Airflow's pools file
    cluster start|stop|status       the local Airflow deployment (PostgreSQL, Celery, Redis)
    logical-date D                  the logical date whose as-of date is D

A night holds a lock on its data folder: a second night started on the same folder waits
for the first (``--no-wait``: stops at once with a clear message) instead of corrupting it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from iepwatch import errors, run_record
from iepwatch.config import Config
from iepwatch.deployment import airflow_env
from iepwatch.district import load_config
from iepwatch.errors import ConfigError
from iepwatch.night import logical_date

# Lines of a night's Airflow log (``dags-test``) that say why a run failed.
_ERROR_LINE = re.compile(r"\[error +\].*\[iepwatch|^[A-Za-z_.]+(Error|Exception): |^DAG import error ")
_TIMESTAMP = re.compile(r"^[0-9TZ:.-]+ \[error +\] ")
_LOGGER_SUFFIX = re.compile(r" \[iepwatch[^]]*\] loc=.*")


class NightFailed(SystemExit):
    pass


def failure_lines(log_text: str, most: int = 12) -> list[str]:
    """The error lines of a run's log, cleaned and without repeats (the DATA ERROR line first)."""
    out: list[str] = []
    for line in log_text.splitlines():
        if not _ERROR_LINE.search(line) or "raise " in line:
            continue
        line = _LOGGER_SUFFIX.sub("", _TIMESTAMP.sub("", line))[:600]
        if line not in out:
            out.append(line)
    out.sort(key=lambda s: not re.search(r"(DATA|CONFIG|HOST) ERROR", s))
    return out[:most]


def _run_logged(cmd: list[str], env: dict[str, str], log: Path, pass_fds: tuple[int, ...] = ()) -> tuple[str, int]:
    """Run ``cmd``, its output written to ``log`` by ``tee -p`` and read here too: a disk that
    fills stops the file, never the reading, so the failure's lines are still there to print;
    and a killed CLI leaves ``tee`` writing the log, so the night's process never meets a broken
    pipe and runs on (holding the night lock) as it would have. Returns the output and the exit
    code (negative: killed by that signal)."""
    with contextlib.suppress(OSError):
        log.parent.mkdir(parents=True, exist_ok=True)
    night = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=pass_fds)
    tee = subprocess.Popen(["tee", "-p", str(log)], stdin=night.stdout, stdout=subprocess.PIPE, text=True,
                           errors="replace")
    night.stdout.close()   # tee holds the only reading end
    text = tee.stdout.read()
    tee.wait()
    return text, night.wait()


def run_dags(as_of: date, runs: list[tuple[str, dict]], log: Path, env: dict[str, str],
             pass_fds: tuple[int, ...] = ()) -> None:
    """The night's DAG runs, in order, with ``dag.test()`` in one Airflow process (its start-up and
    GX's imports paid once, not once a DAG); prints the failure's reason and raises NightFailed
    when a run fails (the later runs are then not started). ``pass_fds``: the night lock, held by
    that process too, so the lock lasts as long as whatever writes."""
    print(f"running {' then '.join(d for d, _ in runs)} for {as_of} (log: {log})", flush=True)
    text, code = _run_logged([sys.executable, "-m", "tools.cli", "dags-test", as_of.isoformat(), json.dumps(runs)],
                             env, log, pass_fds=pass_fds)
    if code < 0:   # killed: it could tell nobody, so this process does
        _alert_killed(as_of, -code, env)
    try:
        task_logs(text, Path(env["AIRFLOW_HOME"]) / "logs")
    except OSError as e:
        print(f"the task logs could not be written under {env['AIRFLOW_HOME']}: {e.strerror}", flush=True)
    for dag_id, _ in runs:
        if f"iepwatch: {dag_id} finished state=success" not in text:
            for line in failure_lines(text) or ["(no error line: the Airflow process ended without one, killed?) "
                                                 "its last lines:", *text.splitlines()[-5:]]:
                print(line)
            raise NightFailed(f"{dag_id} FAILED for {as_of}; see the lines above and {log}")


def _alert_killed(as_of: date, signal_number: int, env: dict[str, str]) -> None:
    """The data team told that the night's Airflow process was killed (by the night's SMTP
    connection, as every alert): nothing after its last finished task was published."""
    from iepwatch import alerts

    name = signal.Signals(signal_number).name
    print(f"the night's Airflow process was killed ({name}): nothing after its last finished task was published; "
          "run the night again", flush=True)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_")})
    cfg = load_config()
    alerts.mail_data_team(cfg, f"[iepwatch] {cfg.district.name}, night of {as_of}: the night was killed ({name})",
                          f"<p>The Airflow process running the night of {as_of} was killed ({name}) before the "
                          "night finished. Whatever it had not published stays unpublished: the last published "
                          "night is whole. Run the night again (make nightly DATE=" + as_of.isoformat() + ").</p>")


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_TASK_RUN = re.compile(r"\[DAG TEST\] running task <TaskInstance: ([^.\s]+)\.\S+ (\S+) ")
_TASK_END = "[DAG TEST] end task"
_TRY = re.compile(r"try_number=(\d+)")


def task_logs(text: str, base: Path) -> list[Path]:
    """Each task's lines of a dag.test() log, written where Airflow's UI reads task logs
    (``logs/dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log``): dag.test() runs tasks
    in its own process and writes no task log file, so the UI would show none for the night."""
    out, lines, key = [], [], None
    for line in text.splitlines(keepends=True):
        if start := _TASK_START.search(line):
            key, lines = {"task_id": start[1], "map_index": int(start[2])}, [line]
            continue
        if key is None:
            continue
        lines.append(line)
        if run := _TASK_RUN.search(line):
            key |= {"dag_id": run[1], "run_id": run[2]}
        if (attempt := _TRY.search(line)) and "try" not in key:
            key["try"] = int(attempt[1])
        if _TASK_END in line and "dag_id" in key:
            folder = base / f"dag_id={key['dag_id']}" / f"run_id={key['run_id']}" / f"task_id={key['task_id']}"
            if key["map_index"] >= 0:
                folder /= f"map_index={key['map_index']}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"attempt={key.get('try', 1)}.log"
            path.write_text("".join(lines))
            out.append(path)
            key = None
    return out


def dags_test(as_of: date, runs: list[tuple[str, dict]]) -> int:
    """(In the Airflow process of ``run_dags``.) Each run with ``dag.test()``, stopping at the first failure."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_env.PROJECT_ROOT / "dags"))
    for path, error in bag.import_errors.items():
        print(f"DAG import error in {path}: {error}", flush=True)
    when = logical_date(as_of, load_config().district.timezone)
    failed = 0
    for dag_id, conf in runs:
        if dag_id not in bag.dags:
            return 1
        started = datetime.now(UTC)
        run = bag.dags[dag_id].test(logical_date=when, run_conf=conf)
        state = run.state
        _annotate(run, as_of, started)
        print(f"iepwatch: {dag_id} finished state={state}", flush=True)
        if state == "success":
            continue
        failed = 1
        finished = next((ti for ti in run.get_task_instances() if ti.task_id == "finish_night"), None)
        if finished is None or finished.state != "success":
            return 1
        print(f"iepwatch: {dag_id}: the night is published whole, only a later task failed (its emails?): "
              "the extracts follow", flush=True)
    return failed


def exit_now(code: int) -> None:
    """End the Airflow process of ``run_dags`` without the interpreter's teardown: by now every
    run is committed to the metadata database and every line is written (flushed here), and
    unwinding Airflow's, FastAPI's and GX's objects is a large share of a short night
    (docs/performance.md, "Figures behind the code")."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _annotate(run, as_of: date, started: datetime) -> None:
    """A dag.test() run as the UI should show it: started when it started (dag.test() records the
    logical date, a day's worth of 'duration'), and its as-of date as its note."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        dr = session.get(DagRun, run.id)
        if dr is not None:
            dr.start_date = started
            if not dr.note:
                dr.note = f"as-of {as_of.isoformat()}"


@contextlib.contextmanager
def night_lock(cfg: Config, as_of: date, wait: bool, most_seconds: float = 6 * 3600) -> Iterator[int]:
    """One night at a time per data folder: wait for the running one, or stop with a clear message.
    Yields the lock's file descriptor: the process that runs the night inherits it, and an
    ``flock`` lasts while any process holds it, so a killed CLI leaves the lock with the writer."""
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.data_dir / ".night.lock"
    with path.open("a+") as f:
        deadline, said = time.monotonic() + most_seconds, False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                message = f"another night is running on {cfg.data_dir} ({holder})"
                if not wait or time.monotonic() > deadline:
                    raise NightFailed(f"{message}; not started (run it again when that night has finished)") from None
                if not said:
                    print(f"{message}; waiting for it to finish", flush=True)
                    said = True
                time.sleep(1)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, as-of {as_of}\n")
        f.flush()
        try:
            yield f.fileno()
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)


def night(as_of: date, export: Path | None, wait: bool = True, env_extra: dict | None = None,
          conf: dict | None = None) -> None:
    """Run both DAGs for one night, in order; the data folder is locked meanwhile."""
    from iepwatch.deployment.districts import dag_id

    cfg = load_config()
    env = airflow_env.environment(IEPWATCH_DISABLE_DEADLINE="1", **(env_extra or {}))
    conn_var = f"AIRFLOW_CONN_{cfg.email.smtp_conn_id.upper()}"
    if conn_var not in env and (uri := running_mail_catcher(Path(env["AIRFLOW_HOME"]))):
        env[conn_var] = uri   # beside a running `make airflow`: its mail catcher, as its tasks use
        print(f"mail: the running Airflow's local mail catcher ({uri.split('?')[0]})")
    airflow_env.set_up(env)
    run = cfg.run_dir(as_of)
    with night_lock(cfg, as_of, wait) as lock:
        nightly_conf = {**({"export_dir": str(export.resolve())} if export else {}), **(conf or {})}
        runs = [(dag_id("iep_nightly", cfg.district_id), nightly_conf)]
        if nightly_conf.get("backfill"):
            print("backfill: no extracts (they are built from the published night only)")
        else:   # built here, right after: a scheduler running beside skips its asset-triggered run
            nightly_conf["extracts_by_caller"] = True
            runs.append((dag_id("state_reporting", cfg.district_id), {"as_of": as_of.isoformat()}))
        run_dags(as_of, runs, run / run_record.AIRFLOW_LOG, env, pass_fds=(lock,))
    print(summary(as_of))


MAIL_CATCHER_URI = "mailcatcher.uri"   # beside mailcatcher.pid in AIRFLOW_HOME while `make airflow` runs


def running_mail_catcher(home: Path) -> str | None:
    """The SMTP connection of the mail catcher a running ``make airflow`` started, if it still runs."""
    pid, uri = home / "mailcatcher.pid", home / MAIL_CATCHER_URI
    if not (pid.is_file() and uri.is_file()):
        return None
    try:
        os.kill(int(pid.read_text()), 0)
    except (OSError, ValueError):
        return None
    return uri.read_text().strip() or None


def summary(as_of: date) -> str:
    """Where a night's results are, with a few counts (no student data)."""
    import duckdb

    from iepwatch import warehouse

    cfg = load_config()
    lines = [f"iepwatch results for {as_of} ({cfg.district.name})",
             f"  data folder      {cfg.data_dir}",
             f"  warehouse        {cfg.warehouse}",
             f"  Data Docs        {cfg.paths.datadocs_dir / 'index.html'}",
             f"  run outputs      {cfg.run_dir(as_of)}"]
    if cfg.warehouse.exists():
        try:
            with warehouse.connect(cfg, read_only=True, wait=30) as con:
                rows = con.execute("SELECT table_name, rows FROM ops.published WHERE as_of = ? ORDER BY 1",
                                   [as_of]).fetchall()
                lines.append("  core tables      " + ", ".join(f"{t} {n:,}" for t, n in rows))
                q = con.execute("SELECT count(*) FROM quarantine.rows JOIN ops.slots USING (slot) "
                                "WHERE published AND ops.slots.as_of = ?", [as_of]).fetchone()[0]
                lines.append(f"  quarantined rows {q:,}")
                if warehouse.exists(con, "compliance", "exceptions"):
                    for status, n in con.execute("SELECT status, count(*) FROM compliance.exceptions "
                                                 "WHERE as_of = ? GROUP BY 1 ORDER BY 1", [as_of]).fetchall():
                        lines.append(f"  exceptions       {status:<10} {n:,}")
                    lines.append(f"  exceptions.csv   {cfg.run_dir(as_of) / run_record.EXCEPTIONS}")
        except (duckdb.Error, errors.WarehouseBusy) as e:
            lines.append(f"  (warehouse not readable for this date: {e.__class__.__name__})")
    from iepwatch.ingest.sources import night_warnings

    for line in night_warnings(cfg, as_of):
        lines.append(f"  WARNING          {line}")
    from iepwatch.extracts import served

    for manifest in sorted(served.manifests(cfg.paths.extracts_dir, as_of.isoformat())):
        lines.append(f"  extract          {manifest.parent}")
    lines += indicator_lines(cfg, as_of)
    outbox = sorted(cfg.paths.outbox_dir.glob(f"iepwatch.{as_of}.*.eml"))
    if outbox:
        lines.append(f"  emails           {len(outbox)} in {cfg.paths.outbox_dir} (iepwatch.{as_of}.*.eml)")
    return "\n".join(lines)


def indicator_lines(cfg, as_of: date) -> list[str]:
    """The district's B11, B12 and B13 of the night, from the district rows of their extracts."""
    import csv

    from iepwatch.deployment import rollup

    out = []
    for indicator, (report, num, den) in rollup.INDICATORS.items():
        path = rollup.extract_file(cfg, report, as_of)
        if path is None or not path.exists():
            continue
        with path.open(newline="") as f:
            row = next((r for r in csv.DictReader(f) if r["level"] == "district"), None)
        if row:
            pct = f"{row['percent']} %" if row.get("percent") else "no denominator"
            out.append(f"  indicator {indicator}    {row[num]} of {row[den]} = {pct}  ({report})")
    return out


def demo(as_of: date, students: int, smtp_port: int, pack: str = "federal") -> None:
    """The demo district's night, its mail caught by a local SMTP server writing ``outbox_dir/*.eml``.

    The pipeline sends through the Airflow connection ``smtp_default`` as in production; only
    the server differs. Port 0 picks a free port; a port that is taken fails here, loudly.
    ``pack`` runs the demo under a state timeline pack (a configuration file over the project's).
    """
    import yaml

    from tools.demo import findings as demo_findings
    from tools.demo import generate
    from tools.mailcatcher import MailCatcher, connection_uri

    if pack != "federal":
        override = load_config().data_dir / f"demo-{pack}.yaml"
        override.parent.mkdir(parents=True, exist_ok=True)
        # the pack names its state's own formats: the demo's California ones are not added
        override.write_text(yaml.safe_dump({"rules": {"state_pack": pack}, "extracts": {"add_formats": []}}))
        os.environ["IEPWATCH_CONFIG"] = str(override)
        print(f"state pack {pack} (configuration {override})")
    cfg = load_config()
    export = cfg.paths.export_root / as_of.isoformat()
    if not (export / "students.csv").exists():
        counts = generate(export, students=students, as_of=as_of, state=pack)
        print(f"generated the demo district ({counts['students']:,} students) in {export}")
    if pack == "federal" and not (cfg.corrections.folder / "findings.csv").exists():
        made = demo_findings(export, cfg.corrections.folder, as_of)
        print(f"wrote the demo's findings of the state ({made['findings']} findings, {made['instances']} cases) "
              f"to {cfg.corrections.folder}")
    try:
        catcher = MailCatcher(cfg.paths.outbox_dir, smtp_port)
        catcher.__enter__()
    except (OSError, RuntimeError) as e:
        raise SystemExit(f"the demo's mail catcher cannot listen on 127.0.0.1:{smtp_port} "
                         f"({getattr(e, 'strerror', None) or e}); "
                         "free the port or pass DEMO_SMTP_PORT=0 for any free port") from None
    try:
        print(f"coordinator emails go to a local mail catcher on 127.0.0.1:{catcher.port}, "
              f"writing {cfg.paths.outbox_dir}/*.eml")
        night(as_of, export, env_extra={"AIRFLOW_CONN_SMTP_DEFAULT": connection_uri(catcher.port)})
    finally:
        catcher.__exit__(None, None, None)


def airflow_start(port: int) -> None:
    """``airflow standalone`` on 127.0.0.1 in its own process group; returns once it answers."""
    import urllib.request

    env = airflow_env.environment(AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port),
                                  AIRFLOW__CORE__PARALLELISM="4", AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
                                  PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    airflow_env.set_up(env)
    home = Path(env["AIRFLOW_HOME"])
    pid_file, log = home / "standalone.pid", home / "standalone.log"
    url = f"http://127.0.0.1:{port}"
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        print(f"already running: {url}")
        return
    cfg = load_config()
    conn_var = f"AIRFLOW_CONN_{cfg.email.smtp_conn_id.upper()}"
    mail = f"mail: through the connection {cfg.email.smtp_conn_id} (${conn_var})"
    if conn_var not in env:   # no SMTP server set: a local mail catcher, stopped with Airflow
        from tools.mailcatcher import connection_uri, free_port

        mail_port, outbox = free_port(), cfg.paths.outbox_dir
        catcher = subprocess.Popen([sys.executable, "-m", "tools.mailcatcher", "--port", str(mail_port),
                                    "--outbox", str(outbox)], env=env, stdout=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        if not catcher.stdout.readline():
            raise SystemExit(f"the local mail catcher did not start on 127.0.0.1:{mail_port}")
        env[conn_var] = connection_uri(mail_port)
        (home / "mailcatcher.pid").write_text(str(catcher.pid))
        (home / MAIL_CATCHER_URI).write_text(env[conn_var])
        mail = (f"mail: coordinator digests and run alerts go to a local mail catcher on 127.0.0.1:{mail_port}, "
                f"written to {outbox}/*.eml (set {conn_var} to send through a real server)")
    with log.open("w") as out:
        proc = subprocess.Popen([*airflow_env.AIRFLOW, "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    pid_file.write_text(str(proc.pid))
    for _ in range(120):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2)
            break
        if proc.poll() is not None:
            raise SystemExit(f"Airflow stopped while starting; see {log}")
        time.sleep(1)
    else:
        raise SystemExit(f"Airflow did not answer within 2 minutes; see {log}")
    print(f"Airflow UI: {url}  (iepwatch page: {url}/iepwatch/)\n"
          f"login: admin, password in {home / 'simple_auth_manager_passwords.json.generated'}\n"
          f"{mail}\n"
          "iep_nightly starts paused (no scheduled night runs by itself): make nightly DATE=YYYY-MM-DD runs one;\n"
          "turn it on in the DAG list to run every night (the iepwatch page says what that needs)\n"
          "stop it with: make stop")


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def airflow_stop() -> None:
    home = airflow_env.home()
    pid_file = home / "standalone.pid"
    if not pid_file.exists():
        print("Airflow is not running")
        return
    for group in (pid_file, home / "mailcatcher.pid"):   # Airflow's process group, then the mail catcher's
        if group.exists():
            _stop_group(int(group.read_text()))
            group.unlink()
    (home / MAIL_CATCHER_URI).unlink(missing_ok=True)
    print("Airflow stopped")


def _stop_group(pgid: int) -> None:
    """TERM to the process group, KILL after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        for _ in range(30):
            if not _alive(pgid):
                break
            time.sleep(1)
        else:
            os.killpg(pgid, signal.SIGKILL)


def email_preview(as_of: date) -> None:
    from tools.email_preview import eml_to_png

    outbox = load_config().paths.outbox_dir
    found = sorted(outbox.glob(f"iepwatch.{as_of}.*.eml"))
    if not found:
        raise SystemExit(f"no email for {as_of} in {outbox}: run make demo first")
    print(eml_to_png(found[0], outbox / "preview.png"))


def main(argv: list[str] | None = None) -> None:
    from tools.demo import DEMO_AS_OF

    ap = argparse.ArgumentParser(prog="python -m tools.cli", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("night", help="run both DAGs for one night")
    p.add_argument("--date", type=date.fromisoformat, required=True)
    p.add_argument("--export", type=Path, help="the export folder (default: <export_root>/<date>)")
    p.add_argument("--no-wait", action="store_true", help="stop if another night runs on the data folder")
    p.add_argument("--allow-shrink", action="store_true", help="publish although a table shrank (an expected drop)")
    p.add_argument("--backfill", action="store_true", help="run a night older than the published one")
    p.add_argument("--district", help="the district of the deployment file (IEPWATCH_DEPLOYMENT) to run")
    p = sub.add_parser("demo", help="the demo district's night")
    p.add_argument("--date", type=date.fromisoformat, default=DEMO_AS_OF)
    p.add_argument("--students", type=int, default=2000)
    p.add_argument("--smtp-port", type=int, default=8025, help="the mail catcher's port (0: any free port)")
    p.add_argument("--pack", default="federal", help="the state timeline pack (rules.state_pack)")
    for name in ("summary", "logical-date"):
        sub.add_parser(name).add_argument("date", type=date.fromisoformat)
    p = sub.add_parser("airflow", help="the Airflow UI: start or stop")
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("--port", type=int, default=8080)
    sub.add_parser("email-preview").add_argument("--date", type=date.fromisoformat, default=DEMO_AS_OF)
    sub.add_parser("set-up")
    sub.add_parser("pools").add_argument("--out", type=Path, help="write it here (default: print it)")
    p = sub.add_parser("cluster", help="the local Airflow deployment: PostgreSQL, Celery workers, Redis")
    p.add_argument("action", choices=["start", "stop", "status"])
    p = sub.add_parser("dags-test")   # internal: the Airflow process of run_dags
    p.add_argument("date", type=date.fromisoformat)
    p.add_argument("runs", type=json.loads)
    args = ap.parse_args(argv)
    try:
        if getattr(args, "district", None):
            os.environ["IEPWATCH_DISTRICT"] = args.district   # this process and the Airflow it starts
        if args.cmd == "night":
            conf = {k: True for k in ("allow_shrink", "backfill") if getattr(args, k)}
            night(args.date, args.export, wait=not args.no_wait, conf=conf)
        elif args.cmd == "demo":
            demo(args.date, args.students, args.smtp_port, args.pack)
        elif args.cmd == "summary":
            print(summary(args.date))
        elif args.cmd == "logical-date":
            print(logical_date(args.date, load_config().district.timezone).isoformat())
        elif args.cmd == "airflow":
            airflow_start(args.port) if args.action == "start" else airflow_stop()
        elif args.cmd == "email-preview":
            email_preview(args.date)
        elif args.cmd == "dags-test":
            exit_now(dags_test(args.date, [tuple(r) for r in args.runs]))
        elif args.cmd == "set-up":
            airflow_env.set_up(airflow_env.environment())
        elif args.cmd == "pools":
            airflow_env.main(["pools", *(["--out", str(args.out)] if args.out else [])])
        elif args.cmd == "cluster":
            from tools import cluster

            {"start": cluster.start, "stop": cluster.stop, "status": cluster.status}[args.action]()
    except ConfigError as e:
        raise SystemExit(f"CONFIG ERROR: {e}") from None


if __name__ == "__main__":
    main()
