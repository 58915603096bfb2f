"""Many districts in one deployment: the deployment file, the DAGs each district gets, the
roll-up, the deployment's page and a district's night by hand. (The deployment run by the
scheduler and Celery workers: test_cluster.)"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from builder import AS_OF

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deploy(tmp_path, monkeypatch):
    """``deploy({...districts})`` writes a deployment file and makes it the active one."""
    for k in ("IEPWATCH_DATA_DIR", "IEPWATCH_CONFIG", "IEPWATCH_DISTRICT"):
        monkeypatch.delenv(k, raising=False)

    def _write(districts: dict, **top) -> Path:
        path = tmp_path / "deploy" / "deployment.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump({"name": "Test SELPA", "data_dir": "../dep-data", **top,
                                        "districts": districts}))
        monkeypatch.setenv("IEPWATCH_DEPLOYMENT", str(path))
        return path

    return _write


TWO = {"north": {"district": {"name": "North USD", "timezone": "America/Chicago", "schedule": "15 3 * * *"},
                 "rules": {"state_pack": "illinois"}, "email": {"smtp_conn_id": "smtp_north"}},
       "south": {"district": {"name": "South USD"}}}


def test_each_district_gets_its_own_folder_pool_and_settings_over_the_projects_file(deploy, tmp_path):
    from iepwatch.deployment import districts as deployment
    from iepwatch.district import district_context, load_config

    deploy(TWO)
    north, south = deployment.load().configs()
    assert (north.district_id, north.district.name, north.district.pool) == ("north", "North USD", "iepwatch_north")
    assert north.data_dir == (tmp_path / "dep-data" / "north").resolve()      # relative to the deployment file
    assert north.paths.export_root == north.data_dir / "exports" and north.warehouse.parent == north.data_dir
    assert (north.rules.state_pack, north.district.timezone, north.email.smtp_conn_id) == \
        ("illinois", "America/Chicago", "smtp_north")
    assert (south.rules.state_pack, south.district.timezone, south.email.smtp_conn_id) == \
        ("federal", "America/Los_Angeles", "smtp_default")                    # the project's iepwatch.yaml
    assert south.data_dir == (tmp_path / "dep-data" / "south").resolve()
    with district_context("south"):
        assert load_config() == south
    assert load_config(district="north") == north


def test_a_district_may_name_its_own_folders(deploy, tmp_path):
    from iepwatch.deployment import districts as deployment

    deploy({"north": {"district": {"name": "N"}, "paths": {"export_root": "/srv/sis/north"}}})
    (north,) = deployment.load().configs()
    assert north.paths.export_root == Path("/srv/sis/north")
    assert north.data_dir == (tmp_path / "dep-data" / "north").resolve()


def test_the_data_folder_of_the_environment_holds_every_district(deploy, tmp_path, monkeypatch):
    """Compose sets IEPWATCH_DATA_DIR: the districts' folders are below it (one volume)."""
    from iepwatch.deployment import districts as deployment

    deploy(TWO)
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(tmp_path / "volume"))
    assert [c.data_dir for c in deployment.load().configs()] == [tmp_path / "volume" / "north",
                                                                 tmp_path / "volume" / "south"]


@pytest.mark.parametrize(("districts", "top", "says"), [
    ({"North": {"district": {"name": "N"}}}, {}, "districts.North: a district id is lower-case"),
    ({"a__b": {"district": {"name": "N"}}}, {}, "districts.a__b: a district id"),
    ({"north": {"rules": {"state_pack": "federal"}}}, {}, "districts.north.district.name: required key is missing"),
    ({"north": {"district": {"name": "N"}, "rules": {"EVAL_60_DAY": {"warn_days": "ten"}}}}, {},
     "districts.north.rules.EVAL_60_DAY.warn_days: expected a whole number"),
    ({"north": {"district": {"name": "N"}, "rulez": {}}}, {}, "districts.north.rulez: unknown key"),
    ({"north": {"district": {"name": "N"}, "rules": {"state_pack": "atlantis"}}}, {},
     "districts.north.rules.state_pack"),
    ({}, {}, "districts: expected at least one district"),
    ({"north": {"district": {"name": "N"}}}, {"district": {}}, "district: unknown key"),
])
def test_a_bad_deployment_file_names_the_district_and_the_key(deploy, districts, top, says):
    from iepwatch.deployment import districts as deployment
    from iepwatch.errors import ConfigError

    deploy(districts, **top)
    with pytest.raises(ConfigError, match="deployment.yaml: " + says.replace(".", r"\.")):
        deployment.load()


def test_in_a_deployment_nothing_runs_without_saying_which_district(deploy):
    from iepwatch.district import load_config
    from iepwatch.errors import ConfigError

    deploy(TWO)
    with pytest.raises(ConfigError, match=r"a deployment of 2 districts \(north, south\): say which one"):
        load_config()
    with pytest.raises(ConfigError, match="no district 'west'"):
        load_config(district="west")


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_district_gets_its_own_dags_pool_and_assets_and_the_rollup_waits_for_all(deploy):
    deploy(TWO)
    bag = _dagbag()
    assert bag.import_errors == {}
    assert sorted(bag.dags) == ["iep_nightly__north", "iep_nightly__south", "iepwatch_rollup",
                                "state_reporting__north", "state_reporting__south"]
    north = bag.dags["iep_nightly__north"]
    assert north.timetable.expression == "15 3 * * *" and str(north.timetable.timezone) == "America/Chicago"
    assert "district:north" in north.tags
    for d in ("north", "south"):
        for kind in ("iep_nightly", "state_reporting"):
            assert {t.pool for t in bag.dags[f"{kind}__{d}"].tasks} == {f"iepwatch_{d}"}
    outlets = {a.name for dag in bag.dags.values() for t in dag.tasks for a in t.outlets}
    assert outlets == {f"iepwatch_{k}__{d}" for k in ("core_tables", "compliance", "extracts")
                       for d in ("north", "south")}
    assert [a.name for a in bag.dags["state_reporting__south"].timetable.asset_condition.objects] == \
        ["iepwatch_compliance__south"]
    rollup = bag.dags["iepwatch_rollup"].timetable.asset_condition
    assert type(rollup).__name__ == "AssetAll"
    assert sorted(a.name for a in rollup.objects) == ["iepwatch_extracts__north", "iepwatch_extracts__south"]


@pytest.mark.parametrize("dag_id, built", [
    ("iep_nightly__south", ["iep_nightly__south", "iepwatch_rollup", "state_reporting__south"]),
    ("state_reporting__north", ["iep_nightly__north", "iepwatch_rollup", "state_reporting__north"]),
    ("iepwatch_rollup", ["iep_nightly__north", "iep_nightly__south", "iepwatch_rollup", "state_reporting__north",
                         "state_reporting__south"]),
])
def test_a_task_runner_parses_only_its_own_district_s_dags(deploy, monkeypatch, dag_id, built):
    """Airflow names the DAG a task runner parses a file for (its parsing context): the DAG files
    build that district's DAGs only, not every district's before each task; the roll-up's task
    still finds every district's."""
    deploy(TWO)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", dag_id)
    bag = _dagbag()
    assert bag.import_errors == {}
    assert sorted(bag.dags) == built


def test_one_district_keeps_the_dags_and_assets_it_always_had(monkeypatch):
    monkeypatch.delenv("IEPWATCH_DEPLOYMENT", raising=False)
    bag = _dagbag()
    assert sorted(bag.dags) == ["iep_nightly", "state_reporting"]
    assert {a.name for dag in bag.dags.values() for t in dag.tasks for a in t.outlets} == \
        {"iepwatch_core_tables", "iepwatch_compliance", "iepwatch_extracts"}


def test_fifty_districts_parse_well_within_the_dag_processors_timeout(deploy):
    deploy({f"district_{i:02d}": {"district": {"name": f"District {i}"}} for i in range(50)})
    code = f"""
import time, runpy, json, sys
import airflow.sdk
t = time.perf_counter()
n = 0
for f in ("iep_nightly.py", "state_reporting.py", "iepwatch_rollup.py"):
    g = runpy.run_path({str(ROOT / 'dags')!r} + "/" + f)
print("RESULT " + json.dumps(time.perf_counter() - t))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    seconds = json.loads(next(ln[7:] for ln in out.stdout.splitlines() if ln.startswith("RESULT ")))
    print(f"101 DAGs of 50 districts parsed in {seconds:.2f} s")
    assert seconds < 10, "the DAG processor's timeout is 30 s (60 s in deploy/airflow.env)"


def test_the_pools_of_a_deployment(deploy):
    from iepwatch.deployment import districts as deployment

    deploy(TWO)
    out = subprocess.run([sys.executable, "-m", "tools.cli", "pools"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {k: v["slots"] for k, v in json.loads(out.stdout).items()} == {"iepwatch_north": 1, "iepwatch_south": 1}
    assert deployment.split_dag_id("iep_nightly__north") == ("iep_nightly", "north")
    assert deployment.split_dag_id("iep_nightly") == ("iep_nightly", None)


# --- the roll-up, computed by hand ------------------------------------------------------------

def _night(cfg, counts: list[tuple], b11: tuple[int, int], b13: tuple[int, int], as_of: date = AS_OF,
           b12: tuple[int, int] = (0, 0)) -> None:
    """A district's published night: its summary.json and the district rows of its B11 / B12 / B13 files."""
    from iepwatch import files

    files.write_json(cfg.run_dir(as_of) / "summary.json", {"as_of": as_of.isoformat(), "counts": [
        {"school_id": s, "school_name": f"School {s}", "rule_id": r, "status": st, "n": n} for s, r, st, n in counts]})
    for report, header, (num, den) in (
            ("indicator_b11", "as_of,level,school_id,school_name,consent_received,completed_within_timeline", b11),
            ("indicator_b12", "as_of,level,school_id,school_name,percent_denominator,iep_by_3_c", b12),
            ("indicator_b13", "as_of,level,school_id,school_name,youth_transition_age,youth_meeting_b13", b13)):
        folder = cfg.paths.extracts_dir / report / as_of.isoformat()
        folder.mkdir(parents=True)
        (folder / f"{report}_{as_of}.csv").write_text(f"{header}\n{as_of},district,,,{den},{num}\n"
                                                      f"{as_of},school,S1,School S1,{den},{num}\n")
        files.write_json(folder / "manifest.json", {    # the keys of a real manifest (extracts.engine.publish)
            "as_of": as_of.isoformat(), "report": report, "format": report, "rows": 2,
            "generated_at": f"{as_of}T00:00:00",
            "files": [{"name": f"{report}_{as_of}.csv", "rows": 2, "bytes": 0, "sha256": ""}]})


def test_the_rollup_by_hand_and_byte_identical_when_regenerated(deploy):
    from iepwatch.deployment import districts as deployment
    from iepwatch.deployment import rollup

    deploy(TWO)
    dep = deployment.load()
    north, south = dep.configs()
    _night(north, [("S1", "EVAL_60_DAY", "overdue", 3), ("S1", "EVAL_60_DAY", "late", 1),
                   ("S2", "TEAM_PARENT", "violation", 2)], b11=(8, 10), b13=(1, 4))
    from iepwatch import files

    files.write_json(north.run_dir(AS_OF - timedelta(days=1)) / "findings.json", {   # the last good ledger
        "as_of": str(AS_OF - timedelta(days=1)), "prong2_required": 10,
        "findings": [{"finding_id": f, "status": s} for f, s in (("A", "open"), ("B", "open"), ("C", "corrected"))]})
    assert rollup.missing(dep, AS_OF) == {"south": ["summary.json", "indicator_b11", "indicator_b12", "indicator_b13"]}
    assert rollup.latest_complete(dep) is None
    from iepwatch.errors import DataError

    with pytest.raises(DataError, match="missing: south: summary.json, indicator_b11, indicator_b12, indicator_b13"):
        rollup.build(dep, AS_OF)
    from airflow.sdk.exceptions import AirflowFailException

    from iepwatch.tasks.rollup import build_rollup

    with pytest.raises(AirflowFailException, match=f"DATA ERROR: no night has been published by every district yet; "
                                                   f"each district's newest night: north {AS_OF}, south none"):
        build_rollup({})
    _night(south, [("S1", "EVAL_60_DAY", "overdue", 5)], b11=(1, 5), b13=(0, 0), b12=(3, 4))
    assert rollup.latest_complete(dep) == AS_OF
    folder = rollup.build(dep, AS_OF)
    with (folder / f"rollup_counts_{AS_OF}.csv").open() as f:
        counts = [(r["district_id"], r["school_id"], r["rule_id"], r["status"], int(r["n"])) for r in csv.DictReader(f)]
    assert counts == [("north", "S1", "EVAL_60_DAY", "late", 1), ("north", "S1", "EVAL_60_DAY", "overdue", 3),
                      ("north", "S2", "TEAM_PARENT", "violation", 2), ("south", "S1", "EVAL_60_DAY", "overdue", 5)]
    with (folder / f"rollup_indicators_{AS_OF}.csv").open() as f:
        ind = [(r["level"], r["district_id"], r["indicator"], r["numerator"], r["denominator"], r["percent"])
               for r in csv.DictReader(f)]
    assert ind == [("deployment", "", "B11", "9", "15", "60.0"),      # 9 / 15, not the mean of 80 % and 20 %
                   ("district", "north", "B11", "8", "10", "80.0"), ("district", "south", "B11", "1", "5", "20.0"),
                   ("deployment", "", "B12", "3", "4", "75.0"),      # the counts summed: south's only
                   ("district", "north", "B12", "0", "0", ""), ("district", "south", "B12", "3", "4", "75.0"),
                   ("deployment", "", "B13", "1", "4", "25.0"),
                   ("district", "north", "B13", "1", "4", "25.0"), ("district", "south", "B13", "0", "0", "")]
    with (folder / f"rollup_findings_{AS_OF}.csv").open() as f:
        found = [(r["level"], r["district_id"], r["status"], r["findings"]) for r in csv.DictReader(f)]
    # north's ledger: two open findings and one corrected (its findings.json); south has none
    assert found == [("deployment", "", "corrected", "1"), ("deployment", "", "open", "2"),
                     ("deployment", "", "overdue", "0"),
                     ("district", "north", "corrected", "1"), ("district", "north", "open", "2"),
                     ("district", "north", "overdue", "0"), ("district", "south", "corrected", "0"),
                     ("district", "south", "open", "0"), ("district", "south", "overdue", "0")]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    rollup.build(dep, AS_OF)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["districts"] == ["north", "south"] and [f["rows"] for f in manifest["files"]] == [4, 9, 9]


def test_the_rollup_refuses_a_district_whose_numbers_do_not_hold(deploy):
    from iepwatch.deployment import districts as deployment
    from iepwatch.deployment import rollup
    from iepwatch.errors import DataError

    deploy(TWO)
    dep = deployment.load()
    north, south = dep.configs()
    _night(north, [], b11=(11, 10), b13=(0, 0))
    _night(south, [], b11=(1, 1), b13=(0, 0))
    with pytest.raises(DataError, match="indicator counts out of range: north B11"):
        rollup.build(dep, AS_OF)
    assert not (dep.rollup_dir / AS_OF.isoformat()).exists(), "nothing published"


def test_the_deployments_page_and_each_districts_below_it(deploy):
    from fastapi.testclient import TestClient

    from iepwatch.deployment import districts as deployment
    from iepwatch.deployment import rollup
    from iepwatch.ui import page as ui

    deploy(TWO)
    dep = deployment.load()
    north, south = dep.configs()
    _night(north, [("S1", "EVAL_60_DAY", "overdue", 3)], b11=(8, 10), b13=(1, 4))
    _night(south, [("S9", "EVAL_60_DAY", "due_soon", 7)], b11=(1, 5), b13=(0, 0))
    rollup.build(dep, AS_OF)

    class Viewer:
        role = "viewer"

    root = ui.deployment_app(dep)
    for a in (root, ui.app):
        a.dependency_overrides[ui._user_dep()] = Viewer
    original = ui.airflow_runs
    ui.airflow_runs = lambda: []
    try:
        client = TestClient(root)
        page = client.get("/").text
        assert "North USD" in page and "South USD" in page and f"rollup_indicators_{AS_OF}.csv" in page
        assert ">60.0<" in page and ">50.0<" not in page   # the deployment: 9 / 15, not the mean
        assert client.get(f"/rollup/{AS_OF}/rollup_counts_{AS_OF}.csv").text.startswith("as_of,district_id")
        assert client.get(f"/rollup/{AS_OF}/..%2f..%2fnorth%2fruns%2f{AS_OF}%2fsummary.json").status_code == 404
        north_page = client.get("/d/north/").text
        assert "IEP compliance — North USD" in north_page and "South USD" not in north_page
        assert "S9" not in north_page and "S1" in north_page
        assert client.get(f"/d/north/exceptions?as_of={AS_OF}").status_code == 403, "a viewer sees counts only"
        assert client.get("/d/west/").status_code == 404
    finally:
        ui.airflow_runs = original
        for a in (root, ui.app):
            a.dependency_overrides.clear()


def test_a_districts_night_by_hand(deploy, airflow_db, tmp_path):
    """`make nightly DATE=... DISTRICT=south`: that district's DAGs with dag.test(), its folder only."""
    from iepwatch.deployment import districts as deployment
    from tools.demo import generate

    deploy(TWO)
    dep = deployment.load()
    north, south = dep.configs()
    generate(south.paths.export_root / AS_OF.isoformat(), students=80, as_of=AS_OF, seed=5)
    out = subprocess.run([sys.executable, "-m", "tools.cli", "night", "--date", AS_OF.isoformat(),
                          "--district", "south"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (south.run_dir(AS_OF) / "exceptions.csv").exists() and south.warehouse.exists()
    assert (south.paths.extracts_dir / "indicator_b11" / AS_OF.isoformat() / "manifest.json").exists()
    assert not north.data_dir.exists()


@pytest.mark.parametrize(("env", "says"), [
    ({"IEPWATCH_CLUSTER_REDIS": "redis://127.0.0.1:{port}/0"}, "Redis is not reachable at redis://127.0.0.1:{port}/0"),
    ({"IEPWATCH_CLUSTER_PG": "postgresql://postgres@127.0.0.1:{port}"}, "PostgreSQL is not reachable at "
                                                                         "postgresql://postgres@127.0.0.1:{port}"),
])
def test_make_cluster_says_which_server_it_cannot_reach(tmp_path, env, says):
    import socket

    from helpers import free_port

    with socket.socket() as sock:   # Redis is checked first: the PostgreSQL case needs it listening
        if "IEPWATCH_CLUSTER_PG" in env and sock.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("Redis is not listening on 127.0.0.1:6379")
    port = free_port()
    run = subprocess.run([sys.executable, "-m", "tools.cli", "cluster", "start"], capture_output=True, text=True,
                         env={**os.environ, "IEPWATCH_CLUSTER_HOME": str(tmp_path / "home"),
                              **{k: v.format(port=port) for k, v in env.items()}}, timeout=120)
    assert run.returncode == 1 and says.format(port=port) in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "home" / "run").exists(), "nothing started"


def test_a_worker_loads_the_task_code_once_for_the_tasks_it_forks():
    """deploy/airflow.env gives the Celery workers Airflow's own Celery configuration plus the
    module that imports the task code, DuckDB and GX at a worker's start (tasks fork from it)."""
    from tools.cluster import shared_settings

    assert shared_settings()["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == "iepwatch.deployment.worker.CELERY_CONFIG"
    probe = ("import sys; from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG as d; "
             "import iepwatch.deployment.worker as w; c = w.CELERY_CONFIG; "
             "print(c['imports'], {k: v for k, v in c.items() if k != 'imports'} == d, "
             "[m in sys.modules for m in ('great_expectations', 'duckdb', 'jinja2', 'iepwatch.tasks.iep_nightly', "
             "'iepwatch.tasks.state_reporting')], type(sys.modules['scipy.stats']).__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ,
                         "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == \
        "('iepwatch.deployment.worker',) True [True, True, True, True, True] _LazyModule"
