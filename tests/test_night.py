"""The night: the as-of date, its inverse, the school year, and the Night value tasks pass along."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from iepwatch.district import load_config
from iepwatch.night import Night, as_of_date, logical_date, school_year_start


def test_as_of_is_the_logical_date_in_the_district_time_zone(cfg):
    tz = cfg.district.timezone
    assert tz == "America/Los_Angeles"
    assert as_of_date(datetime(2026, 11, 28, 7, 59, tzinfo=UTC), tz) == date(2026, 11, 27)
    assert as_of_date(datetime(2026, 11, 28, 8, 0, tzinfo=UTC), tz) == date(2026, 11, 28)
    other = load_config(overrides={"district": {"timezone": "Pacific/Kiritimati"}}).district.timezone
    assert as_of_date(datetime(2026, 11, 28, 11, 0, tzinfo=UTC), other) == date(2026, 11, 29)


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1), date(2026, 12, 31), date(2028, 2, 29)])
def test_logical_date_is_the_inverse_of_the_as_of_date(tz, day):
    assert as_of_date(logical_date(day, tz), tz) == day
    assert Night.of_run(logical_date(day, tz), tz).as_of == day


def test_a_night_goes_through_xcom_and_back():
    from pathlib import Path

    from airflow.sdk import serde

    import iepwatch.tasks  # noqa: F401  (registers Night with Airflow's serde)

    night = Night(date(2026, 11, 27), export_dir=Path("/x/2026-11-27"), export_id="abc", archive_dir=Path("/l"),
                  slot="slot_a")
    assert serde.deserialize(serde.serialize(night)) == night
    assert serde.deserialize(serde.serialize(Night(date(2026, 11, 27)))) == Night(date(2026, 11, 27))
    with pytest.raises(RuntimeError, match="without slot"):
        Night(date(2026, 11, 27)).require("slot")


def test_reporting_window_starts_on_the_latest_school_year_start():
    assert school_year_start(date(2026, 11, 27), "07-01") == date(2026, 7, 1)
    assert school_year_start(date(2026, 7, 1), "07-01") == date(2026, 7, 1)
    assert school_year_start(date(2026, 6, 30), "07-01") == date(2025, 7, 1)
