"""Airflow listeners (registered by the plugin): each nightly and state-reporting run carries its
as-of date as its note, so nobody converts a UTC logical date by hand in the grid. They run in the scheduler, on
the run object it is saving; a fault here is logged and never stops a run."""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


def as_of_note(dag_run) -> str | None:
    """``as-of YYYY-MM-DD`` for a run of a district's iep_nightly (its logical date in the
    district's time zone) or state_reporting (its ``as_of`` param, else the night of the asset
    event that triggered it)."""
    from iepwatch.deployment.districts import split_dag_id
    from iepwatch.night import is_as_of

    kind, district = split_dag_id(dag_run.dag_id)
    if kind == "state_reporting":
        as_of = (getattr(dag_run, "conf", None) or {}).get("as_of")
        for event in reversed(list(getattr(dag_run, "consumed_asset_events", None) or [])):
            as_of = as_of or (event.extra or {}).get("as_of")
        return f"as-of {as_of}" if is_as_of(as_of) else None
    if kind != "iep_nightly" or dag_run.logical_date is None:
        return None
    from iepwatch.district import load_config
    from iepwatch.night import as_of_date

    tz = load_config(district=district).district.timezone
    return f"as-of {as_of_date(dag_run.logical_date, tz).isoformat()}"


@hookimpl
def on_dag_run_running(dag_run, msg: str) -> None:
    try:
        note = as_of_note(dag_run)
        if note and not dag_run.note:
            dag_run.note = note
    except Exception as e:  # noqa: BLE001 - a note must never stop a night
        log.warning("iepwatch: the as-of note of %s was not set: %s", dag_run.run_id, type(e).__name__)
