"""The bench's deployment of many districts: ``make cluster`` (PostgreSQL metadata, Celery with
Redis, two workers) serving N generated districts, timed from turning the DAGs on to the
roll-up, with each district's night and the scheduler's gaps read from Airflow's metadata.

A gap is time within a run when none of its tasks was running: the scheduler noticing that a
task's upstream finished, queueing it, a worker picking it up and starting its process. A
district's night is its ``iep_nightly`` run, from its start to its end; its extracts follow
(``state_reporting``), and the roll-up waits for every district's.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import time
from datetime import datetime
from pathlib import Path

TZ = "America/Los_Angeles"
DB, REDIS_DB = "iepwatch_bench", 8


def _pg(dbname: str):
    import psycopg2

    con = psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}")
    con.autocommit = True
    return con


def runs(dbname: str = DB) -> tuple[dict[str, dict], list[tuple[datetime, datetime]]]:
    """Each DAG's first run (the night measured): its start, end and state; and every task's
    (start, end), from the metadata database."""
    with contextlib.closing(_pg(dbname)) as con, con.cursor() as cur:
        first = "SELECT DISTINCT ON (dag_id) dag_id, run_id, start_date, end_date, state FROM dag_run " \
                "ORDER BY dag_id, start_date"
        cur.execute(first)
        out = {dag: {"start": s, "end": e, "state": st} for dag, _, s, e, st in cur.fetchall()}
        cur.execute(f"SELECT ti.start_date, ti.end_date FROM task_instance ti JOIN ({first}) r USING (dag_id, run_id) "
                    "WHERE ti.start_date IS NOT NULL AND ti.end_date IS NOT NULL")
        return out, cur.fetchall()


def measure(root: Path, districts: int = 20, students: int = 2000) -> None:
    """Generate the districts (kept), start the cluster, turn every DAG on, wait for the roll-up; print."""
    import yaml

    from tools import cluster as c
    from tools.airflow_api import call, token, wait
    from tools.demo import generate
    from tools.mailcatcher import MailCatcher, connection_uri, free_port

    ids = [f"d{i:02d}" for i in range(1, districts + 1)]
    quiet = c.quiet_schedule(TZ)   # the one night the scheduler runs
    as_of = quiet.as_of
    data = (root / f"districts-{districts}x{students}").resolve()
    deployment = {"name": "Bench SELPA", "data_dir": str(data / "data"), "districts": {
        d: {"district": {"name": f"District {d}", "timezone": TZ, "schedule": quiet.cron},
            "alerts": {"deadline_local_time": quiet.deadline},
            "email": {"smtp_conn_id": "smtp_default", "fallback_address": f"sped@{d}.example.org",
                      "recipient_domains": [f"{d}.example.org"]}} for d in ids}}
    for d in ids:
        folder = data / "data" / d
        for old in ("warehouse.duckdb", "runs", "extracts", "landing", "datadocs"):   # a fresh deployment
            path = folder / old
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        export = folder / "exports" / as_of.isoformat()
        if not (export / "students.csv").exists():
            generate(export, students=students, as_of=as_of, seed=100 + int(d[1:]), email_domain=f"{d}.example.org")
    shutil.rmtree(data / "data" / "rollup", ignore_errors=True)
    shutil.rmtree(data / "home", ignore_errors=True)
    (data / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    port = free_port()
    dags = [f"{k}__{d}" for d in ids for k in ("iep_nightly", "state_reporting")] + ["iepwatch_rollup"]
    with c.fresh_deployment(data / "deployment.yaml", data / "home", DB, REDIS_DB, port), \
            MailCatcher(data / "outbox") as mail:
        t = time.perf_counter()
        try:
            c.start({"AIRFLOW_CONN_SMTP_DEFAULT": connection_uri(mail.port)})
            started = time.perf_counter() - t
            base = f"http://127.0.0.1:{port}"
            admin = token(base, "admin", data / "home" / "simple_auth_manager_passwords.json.generated")
            t = time.perf_counter()
            wait("every district's DAGs parsed", lambda: {x["dag_id"] for x in call(
                f"{base}/api/v2/dags?limit=1000", admin)[1]["dags"]} >= set(dags), 300)
            parsed = time.perf_counter() - t
            t = time.perf_counter()
            for dag_id in dags:
                status, body = call(f"{base}/api/v2/dags/{dag_id}", admin, {"is_paused": False}, "PATCH")
                if status != 200:
                    raise RuntimeError(f"{dag_id} could not be turned on: {status} {body}")

            def rollup_done():
                body = call(f"{base}/api/v2/dags/iepwatch_rollup/dagRuns", admin)[1]
                states = [r["state"] for r in body.get("dag_runs", [])] if isinstance(body, dict) else []
                if "failed" in states:
                    raise RuntimeError("the roll-up failed")
                return "success" in states

            wait("the roll-up", rollup_done, 1800, every=1)
            total = time.perf_counter() - t
            sent = mail.received
            slots = 2 * int(c.environment()["AIRFLOW__CELERY__WORKER_CONCURRENCY"])
            report(*runs(), ids, students, total, started, parsed, sent, slots)
        finally:
            c.stop()


def report(by_dag: dict[str, dict], tasks: list[tuple[datetime, datetime]], ids: list[str], students: int,
           total: float, started: float, parsed: float, sent: int, slots: int) -> None:
    """The figures. The workers' gaps: of the time from the DAGs turned on to the roll-up, times
    the worker slots, what no task was running in (the scheduler noticing a finished task and
    queueing the next, Celery handing it over, a task process starting)."""
    failed = sorted(d for d, r in by_dag.items() if r["state"] != "success")
    nights = [(by_dag[f"iep_nightly__{d}"]["end"] - by_dag[f"iep_nightly__{d}"]["start"]).total_seconds() for d in ids]
    extracts = [(by_dag[f"state_reporting__{d}"]["end"] - by_dag[f"state_reporting__{d}"]["start"]).total_seconds()
                for d in ids]
    busy = sum((e - s).total_seconds() for s, e in tasks)
    print(f"\nMANY DISTRICTS   {len(ids)} districts of {students:,} students, make cluster (2 Celery workers, "
          f"{slots} task slots; PostgreSQL, Redis); {len(tasks)} tasks, {sent:,} digests sent")
    print(f"  {'cluster start (not timed below)':<44} {started:8.2f}")
    print(f"  {'DAG processor: every district parsed':<44} {parsed:8.2f}")
    print(f"  {'DAGs turned on -> the roll-up':<44} {total:8.2f}  "
          f"(target < 360 s: {'met' if total < 360 else 'NOT MET'})")
    print(f"  {'a district night (iep_nightly), median / max':<44} {statistics.median(nights):8.2f} / "
          f"{max(nights):.2f}  (all start together: a night waits for the workers)")
    print(f"  {'its extracts (state_reporting), median / max':<44} {statistics.median(extracts):8.2f} / "
          f"{max(extracts):.2f}")
    print(f"  {'task time in all (every task, start to end)':<44} {busy:8.2f}  "
          f"(a task: median {statistics.median((e - s).total_seconds() for s, e in tasks):.2f} s)")
    idle = slots * total - busy
    print(f"  {'scheduler gaps: worker slots running no task':<44} {idle:8.2f}  "
          f"({100 * idle / (slots * total):.0f} % of {slots} slots x {total:.0f} s)")
    if failed:
        print(f"  NOT SUCCESSFUL: {', '.join(failed)}")
