"""The Assets the DAGs share (light to import: parsed with every DAG file)."""

from airflow.sdk import Asset

CORE_TABLES = Asset(name="iepwatch_core_tables", uri="iepwatch://warehouse/core")
COMPLIANCE = Asset(name="iepwatch_compliance", uri="iepwatch://warehouse/compliance")
