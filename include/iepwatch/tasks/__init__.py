"""Task bodies, one module per DAG (``iep_nightly``, ``state_reporting``); each function is one task.

The DAG files wire these with ``task(...)``. Imports stay light at module level (no duckdb,
pandas or GX) so that the DAGs parse fast; every function takes and returns a ``Night`` or
a small dict of counts: no student data goes through XCom or the task log.
"""

from __future__ import annotations

import functools
import logging

from airflow.sdk import serde

from iepwatch.config import ConfigError
from iepwatch.errors import DataError, HostError
from iepwatch.night import Night

serde.allow_class(Night)   # tasks pass a Night through XCom
log = logging.getLogger(__name__)


def fail_fast(fn):
    """Bad data, bad configuration and a full disk are not transient: fail at once (no retries), reason first."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DataError, ConfigError, HostError) as e:
            from airflow.sdk.exceptions import AirflowFailException

            kind = {DataError: "DATA ERROR", ConfigError: "CONFIG ERROR"}.get(type(e), "HOST ERROR")
            log.error("%s: %s", kind, e)
            raise AirflowFailException(f"{kind}: {e}") from None

    return wrapper
