"""The configuration: typed sections, paths from the environment, and errors that name the key."""

from __future__ import annotations

import re

import pytest

from iepwatch.district import load_config
from iepwatch.errors import ConfigError


def test_config_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    cfg = load_config()
    assert cfg.warehouse == tmp_path / "d" / "warehouse.duckdb"
    assert cfg.paths.export_root == tmp_path / "d" / "exports"
    monkeypatch.setenv("IEPWATCH_EXPORT_ROOT", str(tmp_path / "sis"))
    assert load_config().paths.export_root == tmp_path / "sis"


@pytest.mark.parametrize("yaml_text,key,reason", [
    ("rules:\n  EVAL_60_DAY:\n    warn_days: ten\n", "rules.EVAL_60_DAY.warn_days", "expected a whole number"),
    ("rules:\n  EVAL_60_DAY:\n    warn_dayz: 3\n", "rules.EVAL_60_DAY.warn_dayz", "unknown key"),
    ("emial:\n  send_empty_digest: true\n", "emial", "unknown key"),
    ("district:\n  schedule: every night\n", "district.schedule", "cron"),
    ("district:\n  timezone: Pacific/Atlantis\n", "district.timezone", "unknown time zone"),
    ("email:\n  send_empty_digest: maybe\n", "email.send_empty_digest", "true or false"),
    ("email:\n  email_student_names: nicknames\n", "email.email_student_names", "one of initials, full"),
    ("alerts:\n  data_team_address: a@x.org, b@y.org\n", "alerts.data_team_address", "not one email address"),
    ("alerts:\n  deadline_local_time: '25:00'\n", "alerts.deadline_local_time", "HH:MM"),
    ("quality:\n  quarantine_threshold_pct: 150\n", "quality.quarantine_threshold_pct", "percentage"),
    ("rules:\n  school_year_start: July\n", "rules.school_year_start", "MM-DD"),
    ("rules:\n  IEP_ANNUAL_REVIEW:\n    annual_review_basis: yearly\n", "rules.IEP_ANNUAL_REVIEW.annual_review_basis",
     "one of 365_days, anniversary"),
    ("district: [a, b]\n", "district", "expected a section"),
    ("district:\n  name: [a]\n", "district.name", "expected text"),
])
def test_a_bad_setting_fails_with_one_line_naming_file_and_key(tmp_path, yaml_text, key, reason):
    path = tmp_path / "district.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert message.startswith(f"district.yaml: {key}: ") and reason in message and "\n" not in message


def test_a_missing_required_key_is_named(tmp_path, monkeypatch):
    import iepwatch.config as config

    monkeypatch.setattr(config, "DEFAULT_CONFIG", tmp_path / "none.yaml")   # no project file underneath
    path = tmp_path / "district.yaml"
    path.write_text("district:\n  name: X\n")
    with pytest.raises(ConfigError, match=r"^district.yaml: district.timezone: required key is missing"):
        load_config(path)
    path.write_text("paths:\n  data_dir: d\n")
    with pytest.raises(ConfigError, match=r"^district.yaml: district: required key is missing"):
        load_config(path)


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "district.yaml"
    path.write_text("district:\n  name: X\n   timezone: [\n")
    with pytest.raises(ConfigError, match=r"^district.yaml: not valid YAML at line \d"):
        load_config(path)


def test_a_district_file_changes_only_its_keys_and_paths_are_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.delenv("IEPWATCH_DATA_DIR", raising=False)
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    path = tmp_path / "district.yaml"
    path.write_text("district:\n  name: Other USD\npaths:\n  data_dir: here\n  outbox_dir: /var/mail/iep\n"
                    "rules:\n  EVAL_60_DAY:\n    warn_days: 7\n")
    cfg = load_config(path)
    assert cfg.district.name == "Other USD" and cfg.district.timezone == "America/Los_Angeles"
    assert cfg.rules.EVAL_60_DAY.warn_days == 7 and cfg.rules.EVAL_60_DAY.initial_evaluation_days == 60
    assert cfg.data_dir == tmp_path / "here" and cfg.paths.extracts_dir == tmp_path / "here" / "extracts"
    assert str(cfg.paths.outbox_dir) == "/var/mail/iep"


def test_no_raw_lookups_outside_the_config_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [p for folder in ("include", "dags", "plugins") for p in (root / folder).rglob("*.py")]
    offenders = [str(p.relative_to(root)) for p in sources
                 if p.name != "config.py" and re.search(r"\b(cfg|config|CFG)\.raw\b", p.read_text())]
    assert offenders == []


def test_a_config_typo_is_a_one_line_dag_import_error_naming_the_key(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from helpers import ROOT

    path = tmp_path / "district.yaml"
    path.write_text("rules:\n  EVAL_60_DAY:\n    warn_days: ten\n")
    monkeypatch.setenv("IEPWATCH_CONFIG", str(path))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert set(bag.import_errors) == {str(ROOT / "dags" / "iep_nightly.py"), str(ROOT / "dags" / "state_reporting.py")}
    for error in bag.import_errors.values():
        assert error.strip() == (f"district.yaml: rules.EVAL_60_DAY.warn_days: expected a whole number, got 'ten' "
                                 f"(file {path})")


def test_a_config_typo_stops_the_cli_with_the_key_named(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "district.yaml"
    path.write_text("email:\n  send_empty_digest: maybe\n")
    out = subprocess.run([sys.executable, "-m", "tools.cli", "night", "--date", "2026-11-27"],
                         env={**os.environ, "IEPWATCH_CONFIG": str(path), "IEPWATCH_DATA_DIR": str(tmp_path / "d")},
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1] == (
        f"CONFIG ERROR: district.yaml: email.send_empty_digest: expected true or false, got 'maybe' (file {path})")


def test_a_relative_path_is_relative_to_the_file_that_sets_it(tmp_path, monkeypatch):
    from iepwatch.config import DEFAULT_CONFIG

    monkeypatch.delenv("IEPWATCH_DATA_DIR", raising=False)
    monkeypatch.delenv("IEPWATCH_EXPORT_ROOT", raising=False)
    elsewhere = tmp_path / "somewhere" / "pack.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("rules:\n  state_pack: texas\n")         # sets no path: the project's data/ stays
    cfg = load_config(elsewhere)
    assert cfg.data_dir == DEFAULT_CONFIG.parent / "data" and cfg.rules.state_pack == "texas"
