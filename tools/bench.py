"""Benchmarks: a script that prints figures (never a timed unit test), each with its target.

    python -m tools.bench [--students 100000 1000000] [--no-nightly] [--no-districts]

For each size it generates an export (kept under ``<data_dir>/bench/exports/``) and runs the
whole night as Airflow runs it, without Airflow's own start-up: every task of ``iep_nightly``
and of ``state_reporting``, in DAG order, each in a fresh process of its own (as an executor
runs a task), the night handed from task to task as through XCom. The coordinator emails go to
a real SMTP server on 127.0.0.1 (the project's aiosmtpd mail catcher, in its own process). It
prints each stage's time and peak memory, the total, and the floor measured in the same run
(best of two, before and after the night): the same work in plain DuckDB, every file of the
export read with a bare ``read_csv`` into memory in one process and the night's own rules SQL
run on it (its count of rule results checked equal to the night's). Then the read of the
same export from PostgreSQL (the database source), and the rules stage under the texas pack
against the federal one (best of two runs each, on the night's warehouse). The largest size is
run again on a district generated with larger teams (``TEAM_EXTRA`` more members per meeting,
about 17 in all): data the night was not tuned on.

Then the emails as the coordinators grow and the exceptions do not: the 100,000 students in 1,
2 and 4 times the demo's schools (each coordinator has two), ``iep_nightly`` up to its emails.

Then ``make nightly`` end to end (both DAGs with ``dag.test()`` in one Airflow process, as the
command runs them; a fresh data folder, Airflow's metadata database set up beforehand): for a
50-student district next to Airflow's own floor measured the same way (two DAGs of no-op tasks,
as many as the night's two DAGs have, run with ``dag.test()`` in one fresh process), and for the
largest larger-teams district with the peak memory of everything it ran.

Last, a deployment of many districts through ``make cluster`` (``tools.bench_districts``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from iepwatch.tasks import iep_nightly
from tools.demo import DEMO_AS_OF

DEFAULT_SIZES = [100_000, 1_000_000]
NIGHTLY = list(iep_nightly.ORDER)
LEDGER = ["update_corrections_ledger", "build_extract correction_evidence", "build_extract correction_evidence_review",
          "build_extract correction_evidence_summary"]
FINDINGS_PER_STUDENT, CASES = 1 / 1000, 50   # 1,000 findings of 50 cases at 1,000,000 students
LOAD_AND_RULES = ["archive_export", "load_staging", "validate_export", "evaluate_rules"]
TEAM_EXTRA = 12   # the larger-teams district: 12 more members per meeting, about 17 in all
DISTRICTS, DISTRICT_STUDENTS = 20, 2000


def met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that
    over exec from the parent, so every step would show the bench's own peak (the generator's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(export: Path, as_of: date, kept: Path | None = None) -> dict:
    """(Child process.) The floor: the same work in plain DuckDB, as an engineer would write it by
    hand. Every file read with a bare read_csv into memory, then the night's own rules SQL (every
    rule, the federal pack) run on those tables: no warehouse file, line numbers, gate, archive
    or process per task.

    With ``kept``, the same work keeping its tables in a new DuckDB file there, read in one
    connection and the rules run in another, as the night's tasks hand their tables on: not the
    target's floor, but the share of a night that writing its tables to a file costs any pipeline
    whose steps are separate tasks."""
    import duckdb

    from iepwatch.corrections import findings
    from iepwatch.district import load_config
    from iepwatch.ingest.contract import TABLES
    from iepwatch.rules import evaluate as rules
    from iepwatch.warehouse import literal

    con = duckdb.connect(str(kept) if kept else ":memory:")
    t = time.perf_counter()
    for tb in TABLES:
        if (export / tb.file).exists():
            con.execute(f"CREATE TABLE {tb.name} AS SELECT * FROM read_csv({literal(export / tb.file)}, header = true)")
    if kept:
        con.close()
    read = time.perf_counter() - t
    t = time.perf_counter()
    if kept:
        con = duckdb.connect(str(kept))
    con.execute("CREATE SCHEMA facts")
    cfg = load_config()
    # the night's rules exactly: every cycle kept of the rules the state has findings on, as the night keeps them
    counts = rules.evaluate(con, cfg, as_of, src="main", ledger_rules=findings.requirements(cfg.corrections.folder))
    if kept:
        con.close()
    return {"read": read, "rules": time.perf_counter() - t, "peak_mb": _peak_mb(),
            "results": sum(n for by_status in counts.values() for n in by_status.values())}


def task(name: str, night: dict | None, export: Path, as_of: date, arg: str | None) -> dict:
    """(Child process.) One task body of either DAG, timed; returns what it returned. Airflow's SDK is
    imported before the clock starts, as in the task runner that calls a task's body: it is not
    the task's work."""
    import airflow.sdk  # noqa: F401

    from iepwatch.district import load_config
    from iepwatch.night import Night, logical_date
    from iepwatch.tasks import iep_nightly, state_reporting

    n = Night.deserialize(night, Night.__version__) if night else None
    t = time.perf_counter()
    if name == "find_export":
        out = iep_nightly.find_export(params={"export_dir": str(export)},
                                      logical_date=logical_date(as_of, load_config().district.timezone))
    elif name == "resolve_as_of":
        out = state_reporting.resolve_as_of(params={"as_of": as_of.isoformat()})
    elif name == "build_extract":
        out = state_reporting.build_extract(arg, n)
    elif name == "publish_extracts":
        out = state_reporting.publish_extracts(n, json.loads(Path(arg).read_text()))   # (a file: too long for argv)
    elif name == "prepare_facts":
        out = state_reporting.prepare_facts(n)
    else:
        out = getattr(iep_nightly, name)(n)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_mb": _peak_mb(), "out": out.serialize() if isinstance(out, Night) else out}


PG_DSN = os.environ.get("IEPWATCH_BENCH_PG", "host=127.0.0.1 user=postgres dbname=test")


def database_read(export: Path) -> dict:
    """(Child process.) The export as a student system's PostgreSQL database (loaded first, not
    timed), then read back by the night's database source (export_source: database), timed.
    The read runs inside ``find_export``'s body: Airflow's SDK is imported before the clock
    starts, as for every task."""
    import tempfile
    from urllib.parse import quote

    import airflow.sdk  # noqa: F401

    from iepwatch.district import load_config
    from iepwatch.ingest.sources import pull_database
    from tools.demo import load_into_postgres, postgres

    schema = "iepwatch_bench_sis"
    load_into_postgres(export, PG_DSN, schema)
    params = dict(p.split("=", 1) for p in PG_DSN.split())
    os.environ["AIRFLOW_CONN_IEPWATCH_BENCH_SIS"] = (
        f"postgresql://{quote(params.get('user', ''))}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}"
        f"/{params.get('dbname', '')}")
    try:
        with tempfile.TemporaryDirectory() as data:
            os.environ["IEPWATCH_DATA_DIR"] = data   # (a child process of its own)
            cfg = load_config(overrides={"export_source": {
                "kind": "database", "conn_id": "iepwatch_bench_sis", "schema": schema}})
            t = time.perf_counter()
            pull_database(cfg, DEMO_AS_OF)
            return {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb()}
    finally:
        with postgres(PG_DSN) as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def rules_stage(pack: str) -> dict:
    """(Child process.) The rules stage on the night's warehouse under ``pack``."""
    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.rules import evaluate as rules

    cfg = load_config(overrides={"rules": {"state_pack": pack}})
    with warehouse.connect(cfg) as con:
        t = time.perf_counter()
        rules.evaluate(con, cfg, DEMO_AS_OF, facts="bench_facts")   # beside the published facts
        return {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb()}


FLOOR_DAGS = """
import pendulum
from airflow.sdk import chain, dag, task

for dag_id, tasks in {tasks!r}.items():
    @dag(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 7, 1), catchup=False)
    def floor():
        chain(*[task(lambda: None, task_id=f"t{{i}}")() for i in range(tasks)])

    floor()
"""


def airflow_floor(dags: Path) -> None:
    """(Child process.) Airflow's own cost of a night: the DAGs of ``dags`` (no-op tasks) parsed
    and run with ``dag.test()`` in this one process, which then ends as ``cli dags-test`` does."""
    from airflow.dag_processing.dagbag import DagBag

    from tools.cli import exit_now

    bag = DagBag(dag_folder=str(dags))
    states = [bag.dags[dag_id].test().state for dag_id in sorted(bag.dags)]
    exit_now(0 if len(states) == 2 and set(states) == {"success"} else 1)


class _TreeMemory:
    """The peak of the summed resident memory of a process and everything below it, sampled."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        import threading

        self.pid, self.every, self.peak_mb = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                self.peak_mb = max(self.peak_mb, rss / 1e6)
            except psutil.Error:
                pass
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def nightly_command(root: Path, students: int = 50, as_of: date = DEMO_AS_OF, team_extra: int = 0,
                    airflow_floor_too: bool = True) -> None:
    """``make nightly`` for a district end to end (its time and the peak memory of everything it
    ran), and for the small district Airflow's own floor beside it, printed."""
    from iepwatch.deployment import airflow_env

    export = _export(root, students, as_of, team_extra=team_extra)
    data, dags = root / f"nightly-{students}{f'-teams{team_extra}' if team_extra else ''}", root / "airflow-floor-dags"
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(dags, ignore_errors=True)
    dags.mkdir(parents=True)
    # state_reporting: resolve_as_of, prepare_facts, one build_extract per format, publish_extracts
    tasks = {"floor_iep_nightly": len(NIGHTLY), "floor_state_reporting": 3 + len(_formats())}
    (dags / "floor.py").write_text(FLOOR_DAGS.format(tasks=tasks))
    env = {**os.environ, **airflow_env.settings(root / "airflow_home"), "IEPWATCH_DATA_DIR": str(data),
           "PYTHONWARNINGS": "ignore"}
    airflow_env.set_up(env)   # once per Airflow version and database: not a night's cost
    peak = 0.0
    with _mail_catcher(data, env) as env:
        def timed(*args: str, **extra: str) -> float:
            nonlocal peak
            t = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", *args], env={**env, **extra}, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            memory = _TreeMemory(proc.pid)
            output = proc.communicate()[0]
            seconds = time.perf_counter() - t
            peak = max(peak, memory.stop())
            if proc.returncode != 0:
                raise RuntimeError(f"{args[:2]} failed:\n{output[-3000:]}")
            return seconds

        night = timed("tools.cli", "night", "--date", as_of.isoformat(), "--export", str(export))
        night_peak = peak
        # dag.test() runs a DAG of the configured DAG folder (its bundle) only
        floor_ = timed("tools.bench", "--airflow-floor", str(dags), AIRFLOW__CORE__DAGS_FOLDER=str(dags)) \
            if airflow_floor_too else None
    n_tasks = sum(tasks.values())
    teams = f", larger teams (+{team_extra} per meeting)" if team_extra else ""
    print(f"\nMAKE NIGHTLY   {students:,} students{teams}: both DAGs with dag.test() in one Airflow process, "
          "emails to a local SMTP server, end to end")
    if floor_ is None:
        print(f"  {'make nightly':<40} {night:8.2f}  (target < 120 s: {met(night < 120)})")
        print(f"  {'peak memory, every process it ran (GB)':<40} {night_peak / 1000:8.2f}  "
              f"(target < 6 GB: {met(night_peak < 6000)})")
        return
    print(f"  {'make nightly':<40} {night:8.2f}  (target < 20 s: {met(night < 20)})")
    print(f"  {f'Airflow alone: {n_tasks} no-op tasks, same way':<40} {floor_:8.2f}")
    print(f"  {'what iepwatch adds (the difference)':<40} {night - floor_:8.2f}")


def _formats() -> list[str]:
    from iepwatch.district import load_config
    from iepwatch.extracts import engine

    return sorted(engine.definitions(load_config()))


def _task(export: Path, env: dict[str, str], task_name: str, night_: dict | None = None,
          arg: str | None = None) -> dict:
    """One task body in its own process (``task``): its seconds, peak memory and what it returned."""
    return _child("--task", task_name, "--export", str(export), *(["--night", json.dumps(night_)] if night_ else []),
                  *(["--arg", arg] if arg is not None else []), env=env)


def _child(*args: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "tools.bench", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"bench step {args[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _export(root: Path, students: int, as_of: date, schools: int | None = None, team_extra: int = 0) -> Path:
    """The bench's export of a district of ``students`` (generated once, then kept), in the demo's
    number of schools unless ``schools`` says otherwise, its teams larger by ``team_extra``."""
    from tools.demo import generate

    name = f"{students}{f'-{schools}-schools' if schools else ''}{f'-teams{team_extra}' if team_extra else ''}"
    export = root / "exports" / name / as_of.isoformat()
    if not (export / "students.csv").exists():
        t = time.perf_counter()
        generate(export, students=students, as_of=as_of, schools=schools, team_extra=team_extra)
        print(f"  generated {students:,} students in {time.perf_counter() - t:.1f}s")
    return export


@contextlib.contextmanager
def _mail_catcher(data: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The mail catcher in its own process on a free port, writing to ``data/outbox``; yields
    ``env`` with the SMTP connection that reaches it."""
    from tools.mailcatcher import connection_uri, free_port

    port = free_port()
    env = {**env, "AIRFLOW_CONN_SMTP_DEFAULT": connection_uri(port)}
    catcher = subprocess.Popen([sys.executable, "-m", "tools.mailcatcher", "--port", str(port),
                                "--outbox", str(data / "outbox")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        catcher.stdout.readline()   # listening
        yield env
    finally:
        catcher.terminate()
        catcher.wait()


def _nightly_tasks(step, names: list[str]) -> int:
    """``iep_nightly``'s tasks ``names`` in DAG order, each through ``step``, the night handed
    from task to task; returns the digests sent."""
    n, sent = None, 0
    for name in names:
        out = step(name, name, n)
        if isinstance(out, dict) and "as_of" in out:
            n = out
        elif name == "send_coordinator_emails":
            sent = out["sent"]
    return sent


COORDINATOR_FACTORS = (1, 2, 4)


def coordinators(root: Path, students: int = 100_000, as_of: date = DEMO_AS_OF) -> None:
    """The emails as the coordinators grow and the night's lines do not: the same students in
    1, 2 and 4 times the demo's schools, each coordinator looking after two, so each exception
    still goes to one coordinator. A stage linear in lines stays flat (plus a little per
    digest); one that walks every exception for every coordinator would double at each step."""
    from tools.demo import demo_schools

    sizes = [demo_schools(students) * factor for factor in COORDINATOR_FACTORS]
    for schools in sizes:   # generated (once) before the table
        _export(root, students, as_of, schools)
    print(f"\nCOORDINATORS   {students:,} students: the emails as coordinators grow, the same exceptions")
    print(f"  {'schools':>8} {'coordinators':>13} {'lines':>9} {'digests':>8} {'emails, s':>10}")
    for schools in sizes:
        coordinators_, lines, sent, seconds = _emails_of(root, students, schools, as_of)
        print(f"  {schools:>8,} {coordinators_:>13,} {lines:>9,} {sent:>8,} {seconds:>10.2f}")


def _emails_of(root: Path, students: int, schools: int, as_of: date) -> tuple[int, int, int, float]:
    """``iep_nightly`` up to its emails for a district of ``students`` in ``schools``; returns its
    coordinators, the lines of their digests, the digests sent and the email stage's seconds."""
    import duckdb

    export = _export(root, students, as_of, schools)
    data = root / f"coordinators-{students}-{schools}"
    shutil.rmtree(data, ignore_errors=True)
    seconds: dict[str, float] = {}
    with _mail_catcher(data, {**os.environ, "IEPWATCH_DATA_DIR": str(data), "PYTHONWARNINGS": "ignore"}) as env:
        def step(label: str, task_name: str, night_: dict | None = None):
            r = _task(export, env, task_name, night_)
            seconds[label] = r["seconds"]
            return r["out"]

        sent = _nightly_tasks(step, NIGHTLY[:NIGHTLY.index("send_coordinator_emails") + 1])
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        coordinators_, lines = con.execute(
            """SELECT (SELECT count(DISTINCT staff_id) FROM core.coordinator_assignments),
                      (SELECT count(*) FROM ops.email_items WHERE as_of = ?)""", [as_of]).fetchone()
    return coordinators_, lines, sent, seconds["send_coordinator_emails"]


def night(students: int, root: Path, as_of: date = DEMO_AS_OF, team_extra: int = 0) -> None:
    """The whole night of a district of ``students``, printed stage by stage; the database read
    and the texas pack on the demo generator's data only (``team_extra`` 0)."""
    import duckdb

    export = _export(root, students, as_of, team_extra=team_extra)
    data = root / f"night-{students}{f'-teams{team_extra}' if team_extra else ''}"
    shutil.rmtree(data, ignore_errors=True)
    from tools.demo import many_findings

    made = many_findings(export, data / "findings", as_of, n=max(1, round(students * FINDINGS_PER_STUDENT)),
                         cases=CASES)
    env = {**os.environ, "IEPWATCH_DATA_DIR": str(data), "PYTHONWARNINGS": "ignore"}
    stages: list[tuple[str, float, float]] = []

    def step(label: str, task_name: str, night_: dict | None = None, arg: str | None = None):
        """One task in its own process; its time and peak memory go in the table; returns what it returned."""
        r = _task(export, env, task_name, night_, arg)
        stages.append((label, r["seconds"], r["peak_mb"]))
        return r["out"]

    with _mail_catcher(data, env) as env:
        floors = [_child("--floor", str(export), env=env)]
        sent = _nightly_tasks(step, NIGHTLY)
        sr = step("resolve_as_of", "resolve_as_of")
        formats = step("prepare_facts", "prepare_facts", sr)
        built = [step(f"build_extract {fmt}", "build_extract", sr, fmt) for fmt in formats]
        (data / "built.json").write_text(json.dumps(built))   # what build_extract handed on, as through XCom
        step("publish_extracts (files + Data Docs)", "publish_extracts", sr, str(data / "built.json"))
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:   # before the texas runs replace them
        results = con.execute("SELECT count(*) FROM facts.rule_results").fetchone()[0]
    # The floor is the best of two runs, one before the night and one after: a single run of it can
    # be caught by a slow spell of the machine, and a slow floor would flatter every ratio below.
    floors.append(_child("--floor", str(export), env=env))
    best = min(floors, key=lambda f: f["read"] + f["rules"])
    kept = data / "floor-kept.duckdb"
    in_file = _child("--floor", str(export), "--kept", str(kept), env=env)
    kept.unlink(missing_ok=True)
    db = fed = tx = None
    if not team_extra:
        try:
            db = _child("--database", str(export), env=env)["seconds"]
        except RuntimeError as e:   # no PostgreSQL here: said, not hidden
            db, db_error = None, str(e).splitlines()[-1][:120]
        fed = [_child("--rules", "federal", env=env)["seconds"] for _ in range(2)]
        tx = [_child("--rules", "texas", env=env)["seconds"] for _ in range(2)]

    total = sum(s for _, s, _ in stages)
    load_rules = sum(s for name, s, _ in stages if name in LOAD_AND_RULES)
    same = best["read"] + best["rules"]
    with duckdb.connect() as con:
        members, meetings = con.execute(f"SELECT count(*), count(DISTINCT meeting_id) FROM read_csv("
                                        f"'{export / 'meeting_participants.csv'}', header = true)").fetchone()
    teams = f"larger teams (+{team_extra})" if team_extra else "the demo's teams"
    print(f"\nNIGHT   {students:,} students, {sum(f.stat().st_size for f in export.glob('*.csv')) / 1e6:,.0f} MB "
          f"of CSV, {teams}: {members / meetings:.1f} members per meeting ({members:,} rows); "
          f"{sent:,} digests sent to a local SMTP server")
    print(f"  {'stage (each its own process)':<40} {'seconds':>8} {'peak MB':>8}")
    for name, sec, mb in stages:
        print(f"  {name:<40} {sec:8.2f} {mb:8,.0f}")
    print(f"  {'whole night (both DAGs, task bodies)':<40} {total:8.2f} {max(mb for _, _, mb in stages):8,.0f}")
    print(f"  {'floor: bare read_csv into memory':<40} {best['read']:8.2f}")
    print(f"  {'floor: + the rules SQL on it':<40} {best['rules']:8.2f}"
          f"  ({best['results']:,} rule results; the night's {results:,}: "
          f"{'the same' if best['results'] == results else 'DIFFERENT'})")
    print(f"  {'floor: the same work, plain DuckDB':<40} {same:8.2f}  (best of 2: before and after the night)")
    in_file_s = in_file["read"] + in_file["rules"]
    print(f"  {'the same work kept in a DuckDB file':<40} {in_file_s:8.2f}  = {in_file_s / same:.2f}x the floor "
          f"(read {in_file['read']:.2f} + rules {in_file['rules']:.2f}: its tables written to a file, as the "
          "night's tasks hand theirs on; no target)")
    print(f"  {'load + rules (archive .. evaluate_rules)':<40} {load_rules:8.2f}"
          f"  = {load_rules / same:.2f}x the floor (target <= 2x: {met(load_rules <= 2 * same)})")
    print(f"  {'load + rules against the work kept':<40} {load_rules:8.2f}"
          f"  = {load_rules / in_file_s:.2f}x the same work kept in a DuckDB file (a yardstick proposed for a "
          f"night that hands its tables on, not the issue's: <= 2x {met(load_rules <= 2 * in_file_s)})")
    if team_extra:
        return
    if db is not None:
        print(f"  {'read from PostgreSQL (export_source)':<40} {db:8.2f}"
              f"  = {db / best['read']:.1f}x the bare read_csv of the same export (target <= 2x: "
              f"{met(db <= 2 * best['read'])})")
    else:
        print(f"  {'read from PostgreSQL (export_source)':<40} skipped: {db_error}")
    ledger = sum(s for name, s, _ in stages if name in LEDGER)
    print(f"  {'findings ledger + its 3 extracts':<40} {ledger:8.2f}  = {100 * ledger / total:.1f} % of the night "
          f"({made['findings']:,} findings, {made['instances']:,} cases; target < 10 %: {met(ledger < total / 10)})")
    evaluate = next(s for name, s, _ in stages if name == "evaluate_rules")
    print(f"  {'rules stage, federal (best of 2)':<40} {min(fed):8.2f}"
          f"  (without findings; the night's evaluate_rules, keeping every cycle of a rule with one: {evaluate:.2f})")
    print(f"  {'rules stage, texas pack (best of 2)':<40} {min(tx):8.2f}"
          f"  = {min(tx) / min(fed):.2f}x federal (target <= 1.25x: {met(min(tx) <= 1.25 * min(fed))})")


def main(argv: list[str] | None = None) -> None:
    from iepwatch.district import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, nargs="*", default=DEFAULT_SIZES)
    ap.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--kept", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--rules", help=argparse.SUPPRESS)
    ap.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--night", type=json.loads, help=argparse.SUPPRESS)
    ap.add_argument("--arg", help=argparse.SUPPRESS)
    ap.add_argument("--airflow-floor", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--no-nightly", action="store_true", help="skip the make nightly measurements")
    ap.add_argument("--no-teams", action="store_true", help="skip the larger-teams district")
    ap.add_argument("--no-districts", action="store_true", help="skip the deployment of many districts")
    ap.add_argument("--districts", type=int, nargs=2, default=[DISTRICTS, DISTRICT_STUDENTS],
                    metavar=("N", "STUDENTS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.airflow_floor:
        airflow_floor(args.airflow_floor)
    if args.floor or args.task or args.rules or args.database:   # a child: the figures as JSON on the last line
        out = floor(args.floor, DEMO_AS_OF, args.kept) if args.floor else rules_stage(args.rules) if args.rules else \
            database_read(args.database) if args.database else \
            task(args.task, args.night, args.export, DEMO_AS_OF, args.arg)
        print(json.dumps(out, default=str))
        return
    root = load_config().data_dir / "bench"
    machine()
    for n in args.students:
        night(n, root)
    largest = max(args.students, default=0)
    if largest and not args.no_teams:
        night(largest, root, team_extra=TEAM_EXTRA)
    if args.students == DEFAULT_SIZES:
        coordinators(root, DEFAULT_SIZES[0])
    if not args.no_nightly:
        nightly_command(root)
        if largest and not args.no_teams:
            nightly_command(root, largest, team_extra=TEAM_EXTRA, airflow_floor_too=False)
    if not args.no_districts:
        from tools import bench_districts

        bench_districts.measure(root, *args.districts)
    machine()


def machine() -> None:
    """What ran the bench, and how busy it was (the load averages): figures of a busy machine are slower."""
    import platform

    load = os.getloadavg()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    print(f"\nMACHINE   {os.cpu_count()} cores ({cpu}), {memory:.0f} GB; load average {load[0]:.2f} / {load[1]:.2f}"
          f" / {load[2]:.2f} (1 / 5 / 15 min) at {time.strftime('%Y-%m-%d %H:%M')}")

if __name__ == "__main__":
    main()
