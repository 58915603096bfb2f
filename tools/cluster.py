"""``make cluster``: a real Airflow deployment on this machine, from the project's own files.

PostgreSQL holds Airflow's metadata (the database is created when missing), Redis is the
Celery broker, and each Airflow component is its own process with its own log under
``<home>/logs/``: the scheduler, the DAG processor, the triggerer, the API server and two
Celery workers. The settings are ``deploy/airflow.env``, the file docker-compose.yaml reads,
plus only what differs on one machine (addresses, ports, folders). ``make cluster-stop``
stops exactly the processes ``start`` recorded.

Environment: ``IEPWATCH_CLUSTER_HOME`` (default ``cluster_home/``), ``IEPWATCH_CLUSTER_PG``
(the PostgreSQL server, default ``postgresql://postgres@127.0.0.1:5432``),
``IEPWATCH_CLUSTER_DB`` (default ``iepwatch_airflow``), ``IEPWATCH_CLUSTER_REDIS`` (default
``redis://127.0.0.1:6379/0``), ``IEPWATCH_CLUSTER_PORT`` (the API server, default 8090),
and ``IEPWATCH_DEPLOYMENT`` for many districts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from iepwatch.config import PROJECT_ROOT
from iepwatch.deployment import airflow_env

SETTINGS_FILE = PROJECT_ROOT / "deploy" / "airflow.env"
WORKERS = ("worker1", "worker2")
WORKER_LOG_PORTS = {"worker1": 8795, "worker2": 8796}   # the triggerer's log server has 8794


def shared_settings(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """``deploy/airflow.env`` (KEY=value lines, # comments): what Compose and the cluster share."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def home() -> Path:
    return Path(os.environ.get("IEPWATCH_CLUSTER_HOME") or PROJECT_ROOT / "cluster_home").resolve()


def port() -> int:
    return int(os.environ.get("IEPWATCH_CLUSTER_PORT") or 8090)


def database_url() -> str:
    server = os.environ.get("IEPWATCH_CLUSTER_PG") or "postgresql://postgres@127.0.0.1:5432"
    return f"{server.rstrip('/')}/{os.environ.get('IEPWATCH_CLUSTER_DB') or 'iepwatch_airflow'}"


def _secret(name: str) -> str:
    """A secret every process of the cluster shares (tokens signed by one are checked by another)."""
    path = home() / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text()


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The cluster's environment: the local project's settings, the shared deployment settings,
    then where things are on this machine."""
    db = database_url().replace("postgresql://", "postgresql+psycopg2://", 1)
    return {**os.environ, **airflow_env.settings(home()), **shared_settings(), **{
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db.replace("+psycopg2", "", 1),
        "AIRFLOW__CELERY__BROKER_URL": os.environ.get("IEPWATCH_CLUSTER_REDIS") or "redis://127.0.0.1:6379/0",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port()}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port()}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret("api_secret_key"),
    }, **(extra or {})}


def commands() -> dict[str, list[str]]:
    """Each process of the cluster: its name and command line."""
    out = {"scheduler": ["scheduler"], "dag-processor": ["dag-processor"], "triggerer": ["triggerer"],
           "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port())]}
    for w in WORKERS:
        out[w] = ["celery", "worker", "--celery-hostname", f"{w}@%h"]
    return {name: [*airflow_env.AIRFLOW, *cmd] for name, cmd in out.items()}


def create_database() -> None:
    """The metadata database on the PostgreSQL server, created when missing."""
    import psycopg2

    url = database_url()
    server, name = url.rsplit("/", 1)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"IEPWATCH_CLUSTER_DB: not a plain database name: {name!r}")
    try:
        con = psycopg2.connect(f"{server}/postgres", connect_timeout=10)
    except psycopg2.OperationalError as e:
        raise SystemExit(f"PostgreSQL is not reachable at {server} (IEPWATCH_CLUSTER_PG): "
                         f"{str(e).strip().splitlines()[0]}") from None
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')   # the name is checked above
    con.close()


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.exceptions.RedisError as e:
        raise SystemExit(f"Redis is not reachable at {url} (IEPWATCH_CLUSTER_REDIS): {e}") from None


def _pid_file(name: str) -> Path:
    return home() / "run" / f"{name}.pid"


def start_process(name: str, env: dict[str, str]) -> int:
    """One process of the cluster in its own session (its log: ``logs/<name>.log``)."""
    cmd = commands()[name]
    log = home() / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    own = dict(env)
    if name in WORKER_LOG_PORTS:
        own["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(WORKER_LOG_PORTS[name])
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, env=own, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=home())
    _pid_file(name).write_text(json.dumps({"pid": proc.pid, "started": _start_time(proc.pid), "cmd": cmd}))
    return proc.pid


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process for good."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def running() -> dict[str, int]:
    """The processes ``start`` recorded that still run (the same process: pid and start time;
    Airflow's components rename themselves, so their command line is no proof)."""
    out = {}
    for name in commands():
        path = _pid_file(name)
        if path.exists():
            rec = json.loads(path.read_text())
            if rec["started"] is not None and _start_time(rec["pid"]) == rec["started"]:
                out[name] = rec["pid"]
    return out


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def kill(name: str, sig: int = signal.SIGKILL) -> list[int]:
    """Signal one process of the cluster and every process below it (a worker, its pool and the
    task it runs): ``kill -9`` of the whole worker, as when its machine dies."""
    pid = running().get(name)
    if pid is None:
        return []
    pids = _descendants(pid)
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    return pids


def _wait_http(url: str, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{what} did not answer on {url} within {seconds:.0f} s; see {log}")


def _wait_log(path: Path, text: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s; see {path}")


def start(extra: dict[str, str] | None = None) -> None:
    """Create the metadata database if missing, migrate it, import the pools, start every process
    and return once the API server, the scheduler and both workers are up."""
    if running():
        raise SystemExit(f"the cluster already runs ({', '.join(running())}); make cluster-stop first")
    env = environment(extra)
    _check_redis(env["AIRFLOW__CELERY__BROKER_URL"])
    create_database()
    airflow_env.set_up(env)
    for name in commands():
        start_process(name, env)
    logs = home() / "logs"
    _wait_http(f"http://127.0.0.1:{port()}/api/v2/version", 180, "the API server", logs / "api-server.log")
    _wait_http("http://127.0.0.1:8974/health", 120, "the scheduler", logs / "scheduler.log")
    for w in WORKERS:
        _wait_log(logs / f"{w}.log", "ready.", 120, f"Celery {w}")
    print(f"cluster up: http://127.0.0.1:{port()} (logins in {home()}/simple_auth_manager_passwords.json.generated);"
          f" logs in {logs}/; make cluster-stop to stop it")


def stop(grace: float = 30) -> None:
    """Stop exactly what ``start`` recorded: SIGTERM to each process group, SIGKILL after ``grace`` seconds."""
    procs = running()
    for pid in procs.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in procs.values()):
        time.sleep(0.3)
    for pid in procs.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for name in commands():
        _pid_file(name).unlink(missing_ok=True)
    print(f"cluster stopped ({', '.join(procs) or 'nothing was running'})")


def status() -> None:
    procs = running()
    for name in commands():
        print(f"{name:14} {'pid ' + str(procs[name]) if name in procs else 'not running'}")


class QuietSchedule(NamedTuple):
    cron: str        # district.schedule
    deadline: str    # alerts.deadline_local_time
    as_of: date      # the night of the tick


def quiet_schedule(timezone: str, now: datetime | None = None) -> QuietSchedule:
    """A daily schedule whose last tick was an hour ago, its deadline 22 hours after the tick,
    and that tick's night: a deployment turned on now runs that one night, and neither the next
    tick nor the deadline alert comes while it is measured or tested. A fixed time (02:00) let
    a run that crossed it start the next night in the middle of a measurement (a bench at 01:58
    in Los Angeles did: 20 more nights, failing for want of an export, beside those measured)."""
    from croniter import croniter

    from iepwatch.night import as_of_date

    now = now or datetime.now(ZoneInfo(timezone))
    tick = now - timedelta(hours=1)
    cron = f"{tick.minute} {tick.hour} * * *"
    return QuietSchedule(cron, (tick - timedelta(hours=2)).strftime("%H:%M"),
                         as_of_date(croniter(cron, now).get_prev(datetime), timezone))


@contextlib.contextmanager
def fresh_deployment(deployment: Path, home_: Path, db: str, redis_db: int, port_: int) -> Iterator[None]:
    """A clean cluster's environment for the deployment file ``deployment`` (the tests and the
    bench): its metadata database dropped, its Redis database emptied, the cluster's variables
    set and a single district's unset; the process environment restored after."""
    import psycopg2
    import redis

    with contextlib.closing(psycopg2.connect(database_url().rsplit("/", 1)[0] + "/postgres")) as con:
        con.autocommit = True
        con.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    broker = f"redis://127.0.0.1:6379/{redis_db}"
    redis.Redis.from_url(broker).flushdb()
    saved = dict(os.environ)
    for k in ("IEPWATCH_DATA_DIR", "IEPWATCH_CONFIG", "IEPWATCH_EXPORT_ROOT", "IEPWATCH_DISTRICT"):
        os.environ.pop(k, None)
    os.environ.update({"IEPWATCH_DEPLOYMENT": str(deployment), "IEPWATCH_CLUSTER_HOME": str(home_),
                       "IEPWATCH_CLUSTER_DB": db, "IEPWATCH_CLUSTER_REDIS": broker,
                       "IEPWATCH_CLUSTER_PORT": str(port_)})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
