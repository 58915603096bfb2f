"""Small things the rest relies on: the as-of date, the demo generator, the config."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from iepwatch.config import load_config
from iepwatch.demo import generate
from iepwatch.nightly import as_of_date
from iepwatch.rules import window_start


def test_as_of_is_the_logical_date_in_the_district_time_zone(cfg):
    assert cfg.timezone == "America/Los_Angeles"
    assert as_of_date(datetime(2026, 11, 28, 7, 59, tzinfo=UTC), cfg) == date(2026, 11, 27)
    assert as_of_date(datetime(2026, 11, 28, 8, 0, tzinfo=UTC), cfg) == date(2026, 11, 28)
    other = load_config(overrides={"district": {"timezone": "Pacific/Kiritimati"}})
    assert as_of_date(datetime(2026, 11, 28, 11, 0, tzinfo=UTC), other) == date(2026, 11, 29)


def test_reporting_window_starts_on_the_latest_school_year_start():
    assert window_start(date(2026, 11, 27), "07-01") == date(2026, 7, 1)
    assert window_start(date(2026, 7, 1), "07-01") == date(2026, 7, 1)
    assert window_start(date(2026, 6, 30), "07-01") == date(2025, 7, 1)


def test_demo_generator_is_deterministic_for_a_seed(tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}

    a = generate(tmp_path / "a", students=500, seed=3)
    assert a == generate(tmp_path / "b", students=500, seed=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(tmp_path / "c", students=500, seed=4)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a["students"] == 500 and a["schools"] == 8


def test_config_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    cfg = load_config()
    assert cfg.warehouse == tmp_path / "d" / "warehouse.duckdb"
    assert cfg.export_root == tmp_path / "d" / "exports"
    monkeypatch.setenv("IEPWATCH_EXPORT_ROOT", str(tmp_path / "sis"))
    assert load_config().export_root == tmp_path / "sis"
