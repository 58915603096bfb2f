"""Each run's note is its night: iep_nightly's from its logical date in the district's time zone,
state_reporting's from its as_of param or the asset event that triggered it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from iepwatch.ui.listeners import as_of_note


def run(dag_id, logical_date=None, conf=None, events=()):
    return SimpleNamespace(dag_id=dag_id, logical_date=logical_date, conf=conf or {},
                           consumed_asset_events=[SimpleNamespace(extra=e) for e in events])


def test_the_nightly_note_is_its_logical_date_in_the_districts_time_zone():
    # 2026-11-28 03:00 UTC is still the 27th in Los Angeles
    assert as_of_note(run("iep_nightly", datetime(2026, 11, 28, 3, 0, tzinfo=UTC))) == "as-of 2026-11-27"


def test_a_state_reporting_run_notes_its_param_or_the_night_that_triggered_it():
    assert as_of_note(run("state_reporting", conf={"as_of": "2026-11-20"})) == "as-of 2026-11-20"
    assert as_of_note(run("state_reporting", events=[{"as_of": "2026-11-26"}, {"as_of": "2026-11-27"}])) == \
        "as-of 2026-11-27"
    assert as_of_note(run("state_reporting", events=[{"as_of": "27 Nov; DROP"}])) is None
    assert as_of_note(run("state_reporting")) is None
