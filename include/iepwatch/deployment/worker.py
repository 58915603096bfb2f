"""What a Celery worker of a deployment loads once, at its start, for every task it runs.

On Linux each task runs in a process forked from the worker (Airflow's supervisor), so a module
the worker imported is already in every task: the task code, DuckDB, Jinja and Great
Expectations (about 3 s of imports in each task that renders Data Docs, 1 s in the others) are
paid once per worker instead of once per task. ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS`` points
at ``CELERY_CONFIG`` (deploy/airflow.env): Airflow's own Celery configuration, plus this module
among the modules Celery imports when a worker starts. A deployment's file is read and its
districts' configurations built here too (each task still checks the file's version: an edited
file is read again). Nothing here keeps a file, a database or a connection open (a forked task
must not share one)."""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), __name__)}


def preload() -> None:
    """Import the task code and the libraries it uses; read the deployment's configuration."""
    import duckdb  # noqa: F401
    import jinja2  # noqa: F401

    from iepwatch.deployment import districts
    from iepwatch.quality import gx
    from iepwatch.tasks import iep_nightly, state_reporting  # noqa: F401

    gx.preload()
    if districts.active():   # (cached per version of the file: the tasks' parses find it built)
        districts.active().configs()


if __name__ != "__main__":   # imported by the worker (Celery's ``imports``): load at once
    preload()
