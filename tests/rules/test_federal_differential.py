"""The federal rules on generated districts, against an independent evaluation
(tests/rules/federal_reference.py): every exception of the annual review, the reevaluation, the
Part C transition, the parent request, the meeting rules and the plan rules, row for row.

The demo generator's district is then shaken (``shake``): dates moved to within a day or two of
the rules' edges (the 16th birthday at a meeting and a year after it, notices 9 to 11 days
ahead, excusal papers dated the day before, of or after the meeting, reviews 365 and 366 days
apart, third birthdays 89 to 91 days after Part C eligibility), flags and statuses flipped, so
that every reading of the rules is tried on both sides of its line. Two of the nights move every
number of these rules from its default (a school year from August 15, transition at 14, reviews
on the anniversary, reevaluations every 2 years, ...), the edges moved with them."""

from __future__ import annotations

from datetime import date

import pytest
from federal_reference import DEFAULTS, Settings, shake

STUDENTS = 1_500

MOVED = Settings(school_year_start=(8, 15), transition_age=14, annual_review_basis="anniversary", annual_warn=20,
                 reevaluation_years=2, reevaluation_warn=40, part_c_warn=30,
                 part_c_exempt=frozenset({"parent_consent_delay"}), late_referral_days=60, parent_request_days=15,
                 parent_request_warn=3, parent_contact_attempts_min=3, notice_lead_days=7)
MOVED_CONFIG = {"school_year_start": "08-15", "transition_age": 14,
                "IEP_ANNUAL_REVIEW": {"annual_review_basis": "anniversary", "warn_days": 20},
                "REEVALUATION_3_YEAR": {"reevaluation_years": 2, "warn_days": 40},
                "PART_C_TRANSITION_BY_3": {"warn_days": 30, "exempt_delay_reasons": ["parent_consent_delay"],
                                           "late_referral_days": 60},
                "PARENT_REQUEST_RESPONSE": {"parent_request_days": 15, "warn_days": 3},
                "TEAM_PARENT": {"parent_contact_attempts_min": 3},
                "NOTICE_LEAD_TIME": {"notice_lead_days": 7}}


@pytest.mark.parametrize(("as_of", "seed", "moved"), [
    (date(2026, 11, 27), None, False), (date(2026, 11, 27), 1, False), (date(2027, 3, 1), 2, False),
    (date(2027, 6, 30), 3, False), (date(2026, 11, 27), 4, True), (date(2027, 8, 20), 5, True)])
def test_federal_rules_equal_the_independent_evaluation(as_of, seed, moved, data_dir, tmp_path, settings):
    from federal_reference import RULES, evaluate
    from helpers import run_night_in_process

    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.ingest.contract import TABLES
    from tools.demo import generate

    st = MOVED if moved else DEFAULTS
    settings({"quality": {"quarantine_threshold_pct": 100}, "rules": MOVED_CONFIG if moved else {}})
    export = tmp_path / "export" / as_of.isoformat()
    generate(export, students=STUDENTS, as_of=as_of)
    if seed is not None:
        shake(export, as_of, seed, st)
    run_night_in_process(export, as_of)
    with warehouse.connect(load_config(), read_only=True) as con:
        tables = {t.name: warehouse.rows(con, f"SELECT * FROM core.{t.name}") for t in TABLES}
        got = warehouse.rows(con, f"""SELECT rule_id, student_id, coalesce(meeting_id, '') AS meeting_id, status,
                                             due_date, event_date FROM compliance.exceptions
                                      WHERE as_of = ? AND rule_id IN ({', '.join('?' * len(RULES))})""",
                             [as_of, *RULES])
    expected = evaluate(tables, as_of, st)
    keys = {(r["rule_id"], r["student_id"], r["meeting_id"], r["status"]) for r in got}
    missing, extra = sorted(expected.keys() - keys), sorted(keys - expected.keys())
    assert not missing and not extra, (f"{len(missing)} missing, e.g. {missing[:8]}; "
                                       f"{len(extra)} not expected, e.g. {extra[:8]}")
    timelines = {"IEP_ANNUAL_REVIEW", "REEVALUATION_3_YEAR", "PART_C_TRANSITION_BY_3", "PARENT_REQUEST_RESPONSE"}
    wrong = [(r, expected[k]) for r in got
             if (k := (r["rule_id"], r["student_id"], r["meeting_id"], r["status"]))[0] in timelines
             and len(expected[k]) == 1 and (r["due_date"], r["event_date"]) not in expected[k]]
    assert not wrong, f"{len(wrong)} rows with other dates, e.g. {wrong[:5]}"
    per_rule = {k[0] for k in expected}
    assert per_rule == set(RULES), set(RULES) - per_rule
