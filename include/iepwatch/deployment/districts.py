"""Many districts in one Airflow: the deployment file (``IEPWATCH_DEPLOYMENT``) and what each
district gets from it.

The district is the unit of scale-out. Each one listed gets its own DAGs (``iep_nightly__<id>``,
``state_reporting__<id>``, generated from the one DAG file per kind), its own one-slot pool
(``iepwatch_<id>``: one writer of its warehouse at a time, while other districts run beside it),
its own data folder ``<data_dir>/<id>/`` (warehouse, runs, extracts, Data Docs) and its own
configuration: the project's ``iepwatch.yaml`` with the district's keys read over it. The
roll-up of the deployment lives in ``<data_dir>/rollup/``. Without the variable nothing here
applies: one district, configured by ``iepwatch.yaml``, with the DAG ids of a single district.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from iepwatch.config import Config, build_config, deep_merge, fail, read_yaml
from iepwatch.errors import ConfigError

DISTRICT_ID = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")   # no "__": it separates a DAG id from its district
MAX_ID = 40
SEPARATOR = "__"
KINDS = ("iep_nightly", "state_reporting")
ROLLUP_DAG = "iepwatch_rollup"


def dag_id(kind: str, district: str | None) -> str:
    """The DAG id of a district's DAG of ``kind`` (the bare kind for a single district)."""
    return f"{kind}{SEPARATOR}{district}" if district else kind


def split_dag_id(dag_id_: str) -> tuple[str, str | None]:
    """``(kind, district)`` of a DAG id made by ``dag_id``."""
    kind, _, district = dag_id_.partition(SEPARATOR)
    return kind, district or None


def pool_name(district: str) -> str:
    return f"iepwatch_{district}"


@dataclass(frozen=True)
class Deployment:
    name: str
    data_dir: Path                     # <data_dir>/<district id>/ per district, <data_dir>/rollup/
    districts: dict[str, dict]         # id -> the district's own keys (the sections of iepwatch.yaml)
    source: Path
    _built: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)   # configs, built once

    @property
    def rollup_dir(self) -> Path:
        return self.data_dir / "rollup"

    def config(self, district: str | None, overrides: dict | None = None) -> Config:
        """A district's configuration: the project's file, the district's keys over it, its own
        data folder and pool unless it names its own."""
        if district is None:
            raise ConfigError(f"{self.source.name}: a deployment of {len(self.districts)} districts "
                              f"({', '.join(self.districts)}): say which one (IEPWATCH_DISTRICT=<id>)")
        if district not in self.districts:
            raise ConfigError(f"{self.source.name}: no district {district!r} (the districts: "
                              f"{', '.join(self.districts)}) (file {self.source})")
        own = self.districts[district]
        defaults = {"paths": {"data_dir": str(self.data_dir / district), "export_root": None,
                              "extracts_dir": None, "outbox_dir": None},
                    "district": {"pool": pool_name(district)}}
        where = f"districts.{district}"
        if "name" not in (own.get("district") or {}):
            fail(self.source, f"{where}.district.name", "required key is missing (each district names itself)")
        cfg = build_config(self.source, deep_merge(deep_merge(defaults, own), overrides or {}), where,
                           env_paths=False)
        return dataclasses.replace(cfg, district_id=district)

    def configs(self) -> list[Config]:
        """Every district's configuration, built once (``load`` checks them all; the DAG files read them)."""
        if "all" not in self._built:
            self._built["all"] = [self.config(d) for d in self.districts]
        return list(self._built["all"])

    def pools(self) -> dict:
        """Airflow's pools file for the deployment: one slot per district."""
        return {pool_name(d): pool_entry(f"district {d}") for d in self.districts}


def pool_entry(whose: str) -> dict:
    return {"slots": 1, "include_deferred": False,
            "description": f"DuckDB warehouse of {whose}: one writing task at a time (one writing process per file)"}


def load(path: str | Path | None = None) -> Deployment:
    """The deployment file, checked: district ids, and every district's configuration (once per
    version of the file: every task and page reads it)."""
    path = Path(path or os.environ["IEPWATCH_DEPLOYMENT"]).resolve()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: deployment file not found (file {path})") from None
    return _load(path, stamp, os.environ.get("IEPWATCH_DATA_DIR"))


@functools.lru_cache(maxsize=8)
def _load(path: Path, _stamp: int, data_dir_env: str | None) -> Deployment:
    raw = read_yaml(path)
    unknown = set(raw) - {"name", "data_dir", "districts"}
    if unknown:
        fail(path, sorted(unknown)[0], "unknown key (expected one of: name, data_dir, districts)")
    districts = raw.get("districts")
    if not isinstance(districts, dict) or not districts:
        fail(path, "districts", "expected at least one district: <id>: {its keys of iepwatch.yaml}")
    for d, own in districts.items():
        if not isinstance(d, str) or not DISTRICT_ID.fullmatch(d) or len(d) > MAX_ID:
            fail(path, f"districts.{d}", "a district id is lower-case letters, digits and single "
                                          f"underscores, starting with a letter, at most {MAX_ID} characters")
        if not isinstance(own, dict):
            fail(path, f"districts.{d}", "expected the district's keys (at least district.name)")
    data_dir = Path(data_dir_env or raw.get("data_dir") or "data")
    data_dir = (data_dir if data_dir.is_absolute() else path.parent / data_dir).resolve()
    dep = Deployment(name=str(raw.get("name") or "iepwatch deployment"), data_dir=data_dir,
                     districts=dict(districts), source=path)
    dep.configs()   # every district checked now: an error names the district and the key
    return dep


def active() -> Deployment | None:
    """The deployment of ``IEPWATCH_DEPLOYMENT``, or None for a single district."""
    return load() if os.environ.get("IEPWATCH_DEPLOYMENT") else None
