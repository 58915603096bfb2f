"""The local Airflow the CLI and the tests run: its settings and its one-time set-up.

One place for what ``make`` used to export: the project's DAG and plugin folders, no example
DAGs, import errors as one line (a configuration error names its key instead of showing a
stack trace), the package on ``PYTHONPATH``. The pools come from ``pools.json``, the file
docker-compose's ``airflow-init`` imports too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from iepwatch.config import PROJECT_ROOT

POOLS_FILE = PROJECT_ROOT / "pools.json"
AIRFLOW = [sys.executable, "-m", "airflow"]


def home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or PROJECT_ROOT / "airflow_home")


def settings(airflow_home: Path | None = None) -> dict[str, str]:
    """Environment variables for a local Airflow of this project."""
    include = str(PROJECT_ROOT / "include")
    path = os.environ.get("PYTHONPATH", "")
    return {
        "AIRFLOW_HOME": str(airflow_home or home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",
        "PYTHONPATH": os.pathsep.join([include, *(p for p in path.split(os.pathsep) if p and p != include)]),
    }


def environment(**extra: str) -> dict[str, str]:
    """This process's environment with the local Airflow's settings (and ``extra``) on top."""
    return {**os.environ, **settings(), **extra}


def set_up(env: dict[str, str]) -> None:
    """Migrate the metadata database and import the pools, once per Airflow version and pools file."""
    airflow_home = Path(env["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version  # not `import airflow`: two seconds for one version string

    stamp = f"{version('apache-airflow')} {hashlib.sha256(POOLS_FILE.read_bytes()).hexdigest()}"
    marker = airflow_home / ".iepwatch-set-up"
    if marker.exists() and marker.read_text() == stamp:
        return
    log = airflow_home / "set-up.log"
    with log.open("w") as out:
        for cmd in (["db", "migrate"], ["pools", "import", str(POOLS_FILE)]):
            if subprocess.run([*AIRFLOW, *cmd], env=env, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"airflow {' '.join(cmd)} failed; see {log}:\n"
                                 + "\n".join(log.read_text().splitlines()[-15:]))
    marker.write_text(stamp)
