"""The Assets the DAGs share, per district (light to import: parsed with every DAG file).

A single district keeps the names ``iepwatch_core_tables`` / ``iepwatch_compliance`` /
``iepwatch_extracts``; in a deployment of many each name ends with ``__<district id>``.
"""

from airflow.sdk import Asset

from iepwatch.deployment.districts import dag_id


def _asset(name: str, path: str, district: str | None) -> Asset:
    return Asset(name=dag_id(f"iepwatch_{name}", district), uri=f"iepwatch://{district or 'warehouse'}/{path}")


def core_tables(district: str | None) -> Asset:
    """The night's published ``core`` tables (emitted by ``publish_night``)."""
    return _asset("core_tables", "core", district)


def compliance(district: str | None) -> Asset:
    """The night's exceptions (emitted by ``build_exceptions``; schedules ``state_reporting``)."""
    return _asset("compliance", "compliance", district)


def extracts(district: str | None) -> Asset:
    """The night's published extracts (emitted by ``publish_extracts``; the roll-up waits for every district's)."""
    return _asset("extracts", "extracts", district)
