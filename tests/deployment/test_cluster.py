"""The real deployment (``make cluster``): PostgreSQL metadata, the Celery executor with Redis, two
workers, scheduler, DAG processor, triggerer and API server as separate processes, serving a
deployment of three districts; and its faults (a worker killed mid-write, the scheduler killed).

One cluster for the module (starting one takes about 20 s). The first night of the three
districts is the scheduler's own scheduled run (the DAGs are turned on, as a data team would);
the fault tests clear a district's night and re-run it, and compare its exceptions.csv with the
uninterrupted first night's bytes. Heartbeat timeouts are lowered so that a dead worker's task
is retried within a minute.
"""

from __future__ import annotations

import contextlib
import csv
import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from helpers import free_port

from tools.airflow_api import call, token, wait
from tools.mailcatcher import MailCatcher, connection_uri

pytestmark = pytest.mark.cluster

TZ = "America/Los_Angeles"
# id -> students, seed, state pack, SMTP connection (north has its own mail server)
DISTRICTS = {"north": (20000, 11, "federal", "smtp_north"),
             "south": (400, 12, "california", "smtp_default"),
             "east": (400, 13, "illinois", "smtp_default")}
DB = "iepwatch_cluster_test"
REDIS_DB = 7
FORMATS = ("compliance_student_list", "compliance_summary", "indicator_b11",
           "indicator_b11_detail", "indicator_b13", "indicator_b13_detail")   # every district's
STATE_FORMATS = {"california": ("calpads_sped_meetings",)}                  # a pack's own


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pg():
    import psycopg2

    con = psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    con.autocommit = True
    return con


def tis(dag_id: str, run_id: str | None = None) -> list[dict]:
    """The task instances of a DAG (a run) from Airflow's metadata database."""
    with contextlib.closing(_pg()) as con, con.cursor() as cur:
        cur.execute("SELECT task_id, map_index, run_id, state, try_number, start_date, end_date, pid "
                    "FROM task_instance WHERE dag_id = %s AND (%s IS NULL OR run_id = %s)", (dag_id, run_id, run_id))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not (_listening(5432) and _listening(6379)):
        pytest.skip("the cluster needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    from tools import cluster as c
    from tools.demo import generate

    root = tmp_path_factory.mktemp("cluster")
    quiet = c.quiet_schedule(TZ)   # the one night the scheduler runs
    as_of = quiet.as_of
    deployment = {"name": "Test SELPA", "data_dir": str(root / "data"), "districts": {
        d: {"district": {"name": f"{d.title()} Test USD", "timezone": TZ, "schedule": quiet.cron,
                         "retry_delay_seconds": 5},
            "alerts": {"deadline_local_time": quiet.deadline},
            "rules": {"state_pack": pack},
            "email": {"smtp_conn_id": conn, "recipient_domains": [f"{d}.example.org"],
                      "fallback_address": f"sped@{d}.example.org"}}
        for d, (_, _, pack, conn) in DISTRICTS.items()}}
    (root / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    for d, (students, seed, _, _) in DISTRICTS.items():
        generate(root / "data" / d / "exports" / as_of.isoformat(), students=students, as_of=as_of, seed=seed,
                 email_domain=f"{d}.example.org")
    port = free_port()
    with c.fresh_deployment(root / "deployment.yaml", root / "home", DB, REDIS_DB, port), \
            contextlib.ExitStack() as stack:
        mail = {"north": stack.enter_context(MailCatcher(root / "mail-north")),
                "shared": stack.enter_context(MailCatcher(root / "mail-shared"))}
        extra = {"AIRFLOW_CONN_SMTP_NORTH": connection_uri(mail["north"].port),
                 "AIRFLOW_CONN_SMTP_DEFAULT": connection_uri(mail["shared"].port),
                 # the test configuration: a dead worker's task and a dead scheduler noticed in seconds
                 "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                 "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
                 "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10"}
        try:
            try:
                c.start(extra)
            except SystemExit as e:
                pytest.fail(f"the cluster did not start: {e}")
            base = f"http://127.0.0.1:{port}"
            home = root / "home"
            admin = token(base, "admin", home / "simple_auth_manager_passwords.json.generated")
            yield SimpleNamespace(base=base, token=admin, home=home, data=root / "data", as_of=as_of, mail=mail,
                                  extra=extra, c=c)
        finally:
            c.stop()


def _runs(cl, dag_id: str) -> list[dict]:
    status, body = call(f"{cl.base}/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after", cl.token)
    return body["dag_runs"] if status == 200 else []


def _finished(cl, dag_id: str, run_id: str | None = None):
    """The run's state once it is finished (the newest run, or ``run_id``), else None."""
    runs = [r for r in _runs(cl, dag_id) if run_id in (None, r["dag_run_id"])]
    return runs[0]["state"] if runs and runs[0]["state"] in ("success", "failed") else None


def _tails(cl) -> str:
    return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                     for p in sorted((cl.home / "logs").glob("*.log")))


@pytest.fixture(scope="module")
def first_night(cluster):
    """The districts' DAGs turned on: the scheduler runs each district's night through the Celery
    workers, state_reporting follows each on its Asset, the roll-up when all three have published."""
    cl = cluster
    dags = [f"{k}__{d}" for d in DISTRICTS for k in ("iep_nightly", "state_reporting")] + ["iepwatch_rollup"]
    wait("the DAG processor to parse every district's DAGs",
         lambda: {x["dag_id"] for x in call(f"{cl.base}/api/v2/dags?limit=100", cl.token)[1]["dags"]} >= set(dags),
         180)
    for dag_id in dags:
        assert call(f"{cl.base}/api/v2/dags/{dag_id}", cl.token, {"is_paused": False}, "PATCH")[0] == 200
    for dag_id in dags:
        state = wait(f"{dag_id} to finish", lambda d=dag_id: _finished(cl, d), 900)
        assert state == "success", f"{dag_id}: {state}\n{_tails(cl)}"
    return {d: _runs(cl, f"iep_nightly__{d}")[0] for d in DISTRICTS}


def _recipients(box: MailCatcher) -> list[list[str]]:
    """The envelope recipients of every message the mail server accepted."""
    out = []
    for eml in sorted(box.handler.folder.glob("*.eml")):
        first = eml.read_bytes().split(b"\r\n", 1)[0].decode()
        out.append([r.strip() for r in first.removeprefix("X-Envelope-To: ").split(",")])
    return out


def _night_files(cl, d: str) -> Path:
    return cl.data / d / "runs" / cl.as_of.isoformat()


def test_three_districts_each_its_own_night_emails_extracts_and_the_rollup(cluster, first_night):
    cl = cluster
    for d, run in first_night.items():
        assert run["run_type"] == "scheduled" and run["note"] == f"as-of {cl.as_of}", run
        exceptions = _night_files(cl, d) / "exceptions.csv"
        with exceptions.open() as f:
            rows = list(csv.DictReader(f))
        assert rows and {r["as_of"] for r in rows} == {cl.as_of.isoformat()}
        (archived,) = (cl.data / d / "landing" / cl.as_of.isoformat()).iterdir()   # its one export
        for fmt in FORMATS + STATE_FORMATS.get(DISTRICTS[d][2], ()):
            manifest = json.loads((cl.data / d / "extracts" / fmt / cl.as_of.isoformat() / "manifest.json").read_text())
            assert manifest["as_of"] == cl.as_of.isoformat() and manifest["source_export_id"] == archived.name
        # emails: each district's digests went over its own connection, to its own staff only
        sent = json.loads((_night_files(cl, d) / "emails.json").read_text())
        assert sent["sent"] > 0 and sent["failed"] == 0, sent
        if DISTRICTS[d][2] != "california":   # another state's layout is neither built nor validated
            assert not (cl.data / d / "extracts" / "calpads_sped_meetings").exists()
        box = cl.mail["north" if d == "north" else "shared"]
        mine = [to for to in _recipients(box) if all(r.endswith(f"@{d}.example.org") for r in to)]
        assert len(mine) == sent["sent"], (d, sent)
    assert all(r.endswith("@north.example.org") for to in _recipients(cl.mail["north"]) for r in to)
    assert not [to for to in _recipients(cl.mail["shared"]) if any("north.example.org" in r for r in to)]
    # the roll-up: every district's counts and indicator rows
    rollup = cl.data / "rollup" / cl.as_of.isoformat()
    manifest = json.loads((rollup / "manifest.json").read_text())
    assert manifest["districts"] == sorted(DISTRICTS)
    with (rollup / f"rollup_counts_{cl.as_of}.csv").open() as f:
        counts = list(csv.DictReader(f))
    for d in DISTRICTS:
        summary = json.loads((_night_files(cl, d) / "summary.json").read_text())
        assert sum(int(r["n"]) for r in counts if r["district_id"] == d) == sum(c["n"] for c in summary["counts"])
    with (rollup / f"rollup_indicators_{cl.as_of}.csv").open() as f:
        indicators = list(csv.DictReader(f))
    for d in DISTRICTS:
        with (cl.data / d / "extracts" / "indicator_b11" / cl.as_of.isoformat()
              / f"indicator_b11_{cl.as_of}.csv").open() as f:
            own = next(r for r in csv.DictReader(f) if r["level"] == "district")
        row = next(r for r in indicators if r["district_id"] == d and r["indicator"] == "B11")
        assert (row["numerator"], row["denominator"]) == (own["completed_within_timeline"], own["consent_received"])
    total = next(r for r in indicators if r["level"] == "deployment" and r["indicator"] == "B11")
    assert int(total["denominator"]) == sum(int(r["denominator"]) for r in indicators
                                            if r["level"] == "district" and r["indicator"] == "B11")
    # the pages: the deployment's lists the districts and the roll-up; a district's shows only its own
    status, page = call(f"{cl.base}/iepwatch/", cl.token)
    assert status == 200 and all(f"{d.title()} Test USD" in page for d in DISTRICTS)
    assert f"rollup_counts_{cl.as_of}" in page
    for d in DISTRICTS:
        status, page = call(f"{cl.base}/iepwatch/d/{d}/", cl.token)
        assert status == 200 and f"IEP compliance — {d.title()} Test USD" in page, page[:500]
        assert not [o for o in DISTRICTS if o != d and f"{o.title()} Test USD" in page]
        assert f"Exceptions as of {cl.as_of}" in page


def test_districts_run_side_by_side_but_one_writer_per_warehouse(cluster, first_night):
    """Two workers: the districts' tasks overlap in time; within a district (its one-slot pool) never."""
    cl = cluster
    status, pools = call(f"{cl.base}/api/v2/pools", cl.token)
    assert {p["name"]: p["slots"] for p in pools["pools"] if p["name"].startswith("iepwatch_")} == \
        {f"iepwatch_{d}": 1 for d in DISTRICTS}
    spans = {}
    for d in DISTRICTS:
        spans[d] = sorted((t["start_date"], t["end_date"]) for k in ("iep_nightly", "state_reporting")
                          for t in tis(f"{k}__{d}") if t["start_date"])
        for (_, end), (start, _) in zip(spans[d], spans[d][1:], strict=False):
            assert start >= end, f"two tasks of {d} at once"
    overlaps = sum(1 for a in spans["north"] for o in ("south", "east") for b in spans[o]
                   if a[0] < b[1] and b[0] < a[1])
    assert overlaps > 0, "the districts waited for each other"
    for w in cl.c.WORKERS:   # both workers ran tasks
        assert "iep_nightly__" in (cl.home / "logs" / f"{w}.log").read_text(), w


def _clear(cl, dag_id: str, run_id: str) -> None:
    status, body = call(f"{cl.base}/api/v2/dags/{dag_id}/clearTaskInstances", cl.token,
                        {"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True})
    assert status == 200, body


def _worker_of(cl, pid: int) -> str:
    for name, worker_pid in cl.c.running().items():
        if name in cl.c.WORKERS and pid in cl.c._descendants(worker_pid):
            return name
    raise AssertionError(f"no worker runs pid {pid}")


def test_a_worker_killed_mid_write_its_task_is_retried_on_the_other_worker(cluster, first_night):
    cl = cluster
    d, run_id = "north", first_night["north"]["dag_run_id"]
    reference = (_night_files(cl, d) / "exceptions.csv").read_bytes()
    _clear(cl, f"iep_nightly__{d}", run_id)
    logs = cl.home / "logs" / f"dag_id=iep_nightly__{d}" / f"run_id={run_id}" / "task_id=load_staging"

    def writing():   # the re-run's load_staging holds the warehouse: its log says so
        for log in logs.glob("attempt=*.log"):
            if log.name != "attempt=1.log" and "open for writing" in log.read_text(errors="replace"):
                return log
        return None

    log = wait("load_staging to write the warehouse", writing, 300, every=0.05)
    ti = next(t for t in tis(f"iep_nightly__{d}", run_id) if t["task_id"] == "load_staging")
    victim = _worker_of(cl, ti["pid"])
    assert cl.c.kill(victim), victim
    killed_try = ti["try_number"]
    try:
        state = wait("the night to finish after the worker died",
                     lambda: _finished(cl, f"iep_nightly__{d}", run_id), 600)
        assert state == "success", _tails(cl)
        ti = next(t for t in tis(f"iep_nightly__{d}", run_id) if t["task_id"] == "load_staging")
        assert ti["try_number"] > killed_try, "the killed try was retried"
        survivor = next(w for w in cl.c.WORKERS if w != victim)
        assert f"attempt={ti['try_number']}" in str(list(logs.glob("attempt=*.log"))) and log.exists()
        assert "load_staging" in (cl.home / "logs" / f"{survivor}.log").read_text()
        assert (_night_files(cl, d) / "exceptions.csv").read_bytes() == reference
    finally:
        cl.c.start_process(victim, cl.c.environment(cl.extra))   # the cluster has its two workers again


def test_the_scheduler_killed_and_restarted_during_a_night(cluster, first_night):
    cl = cluster
    d, run_id = "south", first_night["south"]["dag_run_id"]
    reference = (_night_files(cl, d) / "exceptions.csv").read_bytes()
    _clear(cl, f"iep_nightly__{d}", run_id)
    wait("a task of the re-run to run", lambda: any(t["state"] == "running" and t["try_number"] > 1
                                                     for t in tis(f"iep_nightly__{d}", run_id)), 300, every=0.2)
    assert cl.c.kill("scheduler")
    time.sleep(3)
    cl.c.start_process("scheduler", cl.c.environment(cl.extra))
    state = wait("the night to finish with the new scheduler",
                 lambda: _finished(cl, f"iep_nightly__{d}", run_id), 600)
    assert state == "success", _tails(cl)
    assert {t["state"] for t in tis(f"iep_nightly__{d}", run_id)} == {"success"}
    assert (_night_files(cl, d) / "exceptions.csv").read_bytes() == reference
