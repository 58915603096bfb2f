"""Task bodies, one module per DAG (``iep_nightly``, ``state_reporting``); each function is one task.

The DAG files wire these with ``task(...)``. Imports stay light at module level (no duckdb,
pandas or GX) so that the DAGs parse fast; every function takes and returns a ``Night`` or
a small dict of counts: no student data goes through XCom or the task log.
"""

from __future__ import annotations

import functools
import logging
import os
import signal

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


# The failure drill's switch (tests/test_publication.py): the process running the night is killed
# (SIGKILL, as ``kill -9`` would) right after the body of the task named here returns.
KILL_AFTER = "IEPWATCH_KILL_AFTER"


def fail_fast(fn):
    """Every task body: run for its DAG's district; bad data, bad configuration and a full disk are
    not transient, so they fail at once (no retries), reason first."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from iepwatch.district import district_context

        try:
            with district_context(running_district()):
                try:
                    result = fn(*args, **kwargs)
                except Exception as e:
                    full = disk_full(e, args)
                    if full is None:
                        raise
                    raise full from None
        except (DataError, ConfigError, HostError) as e:
            from airflow.sdk.exceptions import AirflowFailException

            kind = {DataError: "DATA ERROR", ConfigError: "CONFIG ERROR"}.get(type(e), "HOST ERROR")
            log.error("%s: %s", kind, e)
            raise AirflowFailException(f"{kind}: {e}") from None
        if os.environ.get(KILL_AFTER) == fn.__name__:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapper


def disk_full(error: BaseException, args: tuple) -> HostError | None:
    """A write that found no space left (Python's ENOSPC, DuckDB's "No space left on device"), as a
    HostError naming the folder, its free space and the night's estimate; None for any other error."""
    import errno

    from iepwatch.district import load_config
    from iepwatch.ingest import sources

    if not ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
            or "no space left on device" in str(error).lower()):
        return None
    night = next((a for a in args if isinstance(a, Night)), None)
    return sources.disk_full(load_config(), night.archive_dir if night else None)
