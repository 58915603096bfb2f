"""Task bodies, one module per DAG (``iep_nightly``, ``state_reporting``); each function is one task.

The DAG files wire these with ``task(...)``. Imports stay light at module level (no duckdb,
pandas or GX) so that the DAGs parse fast; every function takes and returns a ``Night`` or
a small dict of counts: no student data goes through XCom or the task log.
"""

from __future__ import annotations

import functools
import logging

from airflow.sdk import serde

from iepwatch.errors import ConfigError, DataError, HostError
from iepwatch.night import Night

serde.allow_class(Night)   # tasks pass a Night through XCom
log = logging.getLogger(__name__)


def running_district() -> str | None:
    """The district of the running task: its DAG id says (``iep_nightly__<id>``); None for a
    single district, or outside Airflow (the bench calls the task functions itself)."""
    from iepwatch.deployment.districts import split_dag_id
    from iepwatch.district import current_district

    try:
        from airflow.sdk import get_current_context

        return split_dag_id(get_current_context()["dag"].dag_id)[1] or current_district()
    except Exception:  # noqa: BLE001 - no task context: the environment decides
        return current_district()


def fail_fast(fn):
    """Every task body: run for its DAG's district; bad data, bad configuration and a full disk are
    not transient, so they fail at once (no retries), reason first."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from iepwatch.district import district_context

        try:
            with district_context(running_district()):
                return fn(*args, **kwargs)
        except (DataError, ConfigError, HostError) as e:
            from airflow.sdk.exceptions import AirflowFailException

            kind = {DataError: "DATA ERROR", ConfigError: "CONFIG ERROR"}.get(type(e), "HOST ERROR")
            log.error("%s: %s", kind, e)
            raise AirflowFailException(f"{kind}: {e}") from None

    return wrapper
