"""The rule catalog: everything said of a rule comes from its one entry (config, suite, summary,
docs, detail), and a new entry with its SQL is evaluated end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
import yaml
from builder import AS_OF
from helpers import ROOT

from iepwatch.rules import catalog

HELD = date(2026, 10, 15)


def test_the_rule_tables_of_the_docs_are_the_catalogs():
    from tools import rule_docs

    text = rule_docs.DOC.read_text(encoding="utf-8")
    assert text.count("<!-- rule table: ") == 3
    assert rule_docs.render(text) == text, "docs/rules.md is not current with the rule catalog: make rule-docs"
    for rule_id in catalog.rules():
        assert f"| `{rule_id}` |" in text


def test_every_rule_has_its_sql_a_section_with_its_defaults_and_a_detail():
    from iepwatch.config import RulesConfig

    defaults = RulesConfig()
    for rule in catalog.rules().values():
        assert (ROOT / "include" / "sql" / rule.sql_file).is_file(), rule.sql_file
        section = getattr(defaults, rule.rule_id)
        assert {s.name: s.default for s in rule.settings} == vars(section), rule.rule_id
        assert rule.detail.strip(), rule.rule_id
    assert defaults.EVAL_60_DAY.initial_evaluation_days == 60 and defaults.NOTICE_LEAD_TIME.notice_lead_days == 10


def test_the_timelines_met_by_a_meeting_are_said_in_the_catalog_and_the_packs():
    """The digest's to-do names the meeting notice for these (and only these): a flag of the
    entry, not a guess from the wording of its action."""
    from iepwatch.rules import packs

    federal = {r.rule_id for r in catalog.rules().values() if r.meeting}
    assert federal == {"IEP_INITIAL_30_DAY", "IEP_ANNUAL_REVIEW", "PARENT_REQUEST_RESPONSE"}
    assert all(r.kind == "timeline" for r in catalog.rules().values() if r.meeting)
    state = {rid for rid, e in packs.catalog_entries().items() if e["meeting"]}
    assert state == {"CA_INITIAL_IEP_60", "IL_INITIAL_60_SCHOOL_DAYS", "TX_ARD_30"}


def test_a_rule_setting_is_typed_and_checked_from_its_catalog_entry(settings):
    from iepwatch.district import load_config
    from iepwatch.errors import ConfigError

    settings({"rules": {"NOTICE_LEAD_TIME": {"notice_lead_days": 7}}})
    assert load_config().rules.NOTICE_LEAD_TIME.notice_lead_days == 7
    for bad, reason in [({"notice_lead_days": "ten"}, "expected a whole number"),
                        ({"notice_lead_days": -1}, "must be at least 0"),
                        ({"lead_days": 3}, "unknown key")]:
        settings({"rules": {"NOTICE_LEAD_TIME": bad}})
        with pytest.raises(ConfigError) as e:
            load_config()
        assert "rules.NOTICE_LEAD_TIME." in str(e.value) and reason in str(e.value)
    settings({"rules": {"IEP_ANNUAL_REVIEW": {"annual_review_basis": "monthly"}}})
    with pytest.raises(ConfigError, match="expected one of 365_days, anniversary"):
        load_config()


def test_the_compliance_suite_has_one_expectation_per_rule_in_the_catalog_and_the_pack(settings):
    from iepwatch.district import load_config
    from iepwatch.quality.suites import compliance_suite

    ids = [e["meta"]["iepwatch"]["rule_id"] for e in compliance_suite(load_config())["expectations"]]
    assert ids == list(catalog.rules())
    settings({"rules": {"state_pack": "texas"}})
    ids = [e["meta"]["iepwatch"]["rule_id"] for e in compliance_suite(load_config())["expectations"]]
    assert ids == [*catalog.rules(), "TX_EVAL_45_SCHOOL_DAYS", "TX_ARD_30"]


def test_the_state_summary_columns_come_from_the_catalog(cfg):
    from iepwatch.extracts import engine

    names = [f["name"] for f in engine.definitions(cfg)["compliance_summary"].fields]
    timeline = [f"{p}_{s}" for p in ("initial_evaluations", "annual_reviews", "reevaluations")
                for s, _ in catalog.TIMELINE_COUNTS]
    assert names[4:4 + len(timeline)] == timeline
    meeting = [f"{r.lower()}_{s}" for r in catalog.summary_pass_rates() for s in ("evaluated", "pass_pct")]
    assert names[-len(meeting):] == meeting
    assert len(meeting) == 2 * len(catalog.of_kind("meeting"))


NEW_RULE = {
    "citation": "test", "title": "A second look at missing notices", "kind": "meeting",
    "sql": "NOTICE_MISSING", "fails_as": "warning", "summary": "pass_rate",
    "settings": {"look_days": {"type": "int", "default": 3, "min": 1}},
    "checks": "A copy of NOTICE_MISSING, as a new rule would be added.",
    "detail": "'no notice; looked {{ s.look_days }} days'",
}


def test_a_new_catalog_entry_is_configured_evaluated_in_the_suite_and_the_summary(district, evaluate, tmp_path):
    """Adding a rule is its entry and its SQL (here NOTICE_MISSING's file): the rest follows."""
    s = district.student()
    bare = district.meeting(s, held=HELD, notice=False)
    noticed = district.meeting(district.student(), held=HELD)
    evaluate(district)    # the night published with the shipped catalog
    entries = yaml.safe_load(catalog.CATALOG.read_text(encoding="utf-8")) | {"NOTICE_SECOND_LOOK": NEW_RULE}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(entries, sort_keys=False))
    own = tmp_path / "second-look.yaml"
    own.write_text(yaml.safe_dump({"quality": {"quarantine_threshold_pct": 100},
                                   "rules": {"NOTICE_SECOND_LOOK": {"look_days": 5}}}))
    script = f"""
import json
from datetime import date
from pathlib import Path
from iepwatch.rules import catalog
catalog.CATALOG = Path({str(tmp_path / "catalog.yaml")!r})
from iepwatch import warehouse
from iepwatch.district import load_config
from iepwatch.extracts import engine
from iepwatch.quality.suites import compliance_suite
from iepwatch.rules import evaluate as rules
cfg = load_config()
with warehouse.connect(cfg) as con:
    rules.evaluate(con, cfg, date.fromisoformat({AS_OF.isoformat()!r}), facts="scratch")
    rows = con.execute("SELECT meeting_id, status, detail FROM scratch.rule_results "
                       "WHERE rule_id = 'NOTICE_SECOND_LOOK' ORDER BY ALL").fetchall()
print(json.dumps({{"rows": rows, "setting": cfg.rules.NOTICE_SECOND_LOOK.look_days,
    "suite": [e["meta"]["iepwatch"]["rule_id"] for e in compliance_suite(cfg)["expectations"]],
    "summary": [f["name"] for f in engine.definitions(cfg)["compliance_summary"].fields]}}))
"""
    import os

    env = {**os.environ, "IEPWATCH_CONFIG": str(own), "PYTHONPATH": f"{ROOT / 'include'}:{ROOT}"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["setting"] == 5
    rows = {m: (status, detail) for m, status, detail in got["rows"]}
    assert rows[bare] == ("warning", "no notice; looked 5 days")
    assert rows[noticed][0] == "ok"
    assert got["suite"][-1] == "NOTICE_SECOND_LOOK"
    assert got["summary"][-2:] == ["notice_second_look_evaluated", "notice_second_look_pass_pct"]


def test_the_configuration_with_its_generated_sections_pickles(settings):
    """The digests' renderer processes receive the configuration: its generated classes pickle."""
    import pickle

    from iepwatch.district import load_config

    settings({"rules": {"NOTICE_LEAD_TIME": {"notice_lead_days": 7}}})
    cfg = load_config()
    assert pickle.loads(pickle.dumps(cfg)) == cfg
