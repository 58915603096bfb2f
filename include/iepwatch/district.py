"""The district a process works for, and its configuration in force.

One deployment may run many districts (``IEPWATCH_DEPLOYMENT``): a task, page or command works
for one of them (``district_context``, else ``IEPWATCH_DISTRICT``), and reads that district's
configuration; without a deployment there is one district, configured by the project's
``iepwatch.yaml`` (or ``IEPWATCH_CONFIG``). This module sits above ``config`` (the schema and
its checks) and ``deployment`` (the deployment file), which import neither it nor each other's
privates.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from iepwatch.config import DEFAULT_CONFIG, Config, build_config, deep_merge, read_yaml
from iepwatch.deployment import districts

_DISTRICT: ContextVar[str | None] = ContextVar("iepwatch_district", default=None)


def current_district() -> str | None:
    """The district this task, page or command works for: set by ``district_context`` (the task
    wrapper, the page of a district), else ``IEPWATCH_DISTRICT``; None in a single-district setup."""
    return _DISTRICT.get() or os.environ.get("IEPWATCH_DISTRICT") or None


@contextmanager
def district_context(district: str | None) -> Iterator[None]:
    token = _DISTRICT.set(district)
    try:
        yield
    finally:
        _DISTRICT.reset(token)


def load_config(path: str | Path | None = None, overrides: dict | None = None,
                district: str | None = None) -> Config:
    """The configuration in force: the current district's in a deployment of many districts
    (``IEPWATCH_DEPLOYMENT``), else the YAML file (``IEPWATCH_CONFIG`` or the project's) with
    ``overrides`` and the environment's paths.

    A district's own file only needs the keys it changes: it is read over the project's file.
    """
    district = district or current_district()
    if path is None and (district or os.environ.get("IEPWATCH_DEPLOYMENT")):
        return districts.load().config(district, overrides)
    path = Path(path or os.environ.get("IEPWATCH_CONFIG") or DEFAULT_CONFIG).resolve()
    return build_config(path, deep_merge(read_yaml(path), overrides or {}))


def district_configs() -> list[Config]:
    """The configuration of every district the DAG files generate DAGs for; when a task runner
    parses a file to run one district's task (Airflow's parsing context names the DAG), that
    district's only, so that a task of a deployment of many districts does not build every
    district's DAGs first."""
    dep = districts.active()
    if not dep:
        return [load_config()]
    from airflow.sdk import get_parsing_context

    _, wanted = districts.split_dag_id(get_parsing_context().dag_id or "")
    return [c for c in dep.configs() if c.district_id == wanted] or dep.configs()


def pools() -> dict:
    """The pools Airflow needs: each district's one slot (the single district's ``district.pool``)."""
    dep = districts.active()
    return dep.pools() if dep else {load_config().district.pool: districts.pool_entry("the district")}
