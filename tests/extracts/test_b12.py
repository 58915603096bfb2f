"""Indicator B12 (300.124(b)) worked out by hand: each child in the first of b-f that applies,
the percent c / (a - b - d - e - f), the children in none by days beyond the third birthday,
the pending ones apart; byte-identical when regenerated. As of 2026-11-27 (window from 2026-07-01)."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from helpers import extract_text as produce
from rules.test_part_c import child, served


def test_b12_by_hand(district, evaluate):
    ex = district
    b = child(ex, date(2023, 9, 1))                                   # T 2026-09-01
    served(ex, b, consent=date(2026, 7, 1), outcome="not_eligible", decided=date(2026, 8, 20))
    c = child(ex, date(2023, 9, 2))                                   # IEP on T itself
    served(ex, c, consent=date(2026, 6, 1), iep_begins=date(2026, 9, 2))
    c2 = child(ex, date(2023, 9, 3), continued="Y")                   # exempt and served on time: c
    served(ex, c2, consent=date(2026, 6, 1), iep_begins=date(2026, 9, 1))
    d = child(ex, date(2023, 9, 15))                                  # the parent's delay: d
    served(ex, d, consent=date(2026, 6, 1), iep_begins=date(2026, 10, 1), delay="parent_consent_delay")
    t = date(2026, 10, 1)
    e = child(ex, date(2023, 10, 1), referral=t - timedelta(days=89), part_c_eligible=t - timedelta(days=89))
    edge = child(ex, date(2023, 10, 1), referral=t - timedelta(days=90), part_c_eligible=t - timedelta(days=90))
    f = child(ex, date(2023, 10, 5), continued="Y")
    late = child(ex, date(2023, 8, 1))                                # IEP 11 days after T
    served(ex, late, consent=date(2026, 5, 1), iep_begins=date(2026, 8, 12))
    pending = child(ex, date(2023, 12, 20))                           # T 2026-12-20
    old = child(ex, date(2023, 6, 1))                                 # T 2026-06-01: before the window
    evaluate(district)
    detail = {r["student_id"]: r for r in csv.DictReader(produce("indicator_b12_detail").splitlines())}
    assert {s: detail[s]["category"] for s in detail} == {
        b: "b", c: "c", c2: "c", d: "d", e: "e", edge: "none", f: "f", late: "none", pending: "pending"}
    assert old not in detail
    assert (detail[late]["days_beyond"], detail[late]["days_range"], detail[late]["delay_reason"]) == \
        ("11", "11-20", "none recorded")
    assert (detail[edge]["days_beyond"], detail[edge]["days_range"]) == ("57", "over 30")   # open: to the as-of date
    assert detail[pending]["in_a"] == "N" and detail[edge]["third_birthday"] == "2026-10-01"
    (row,) = [r for r in csv.DictReader(produce("indicator_b12").splitlines()) if r["level"] == "district"]
    assert {k: row[k] for k in ("referred_a", "not_eligible_by_3_b", "iep_by_3_c", "parent_delay_d",
                                "late_referral_e", "continued_part_c_f", "percent_denominator", "percent",
                                "beyond_third_birthday", "beyond_11_20", "beyond_over_30", "pending")} == {
        "referred_a": "8", "not_eligible_by_3_b": "1", "iep_by_3_c": "2", "parent_delay_d": "1",
        "late_referral_e": "1", "continued_part_c_f": "1", "percent_denominator": "4", "percent": "50.0",
        "beyond_third_birthday": "2", "beyond_11_20": "1", "beyond_over_30": "1", "pending": "1"}
    assert produce("indicator_b12") == produce("indicator_b12"), "byte-identical when regenerated"


def test_the_page_labels_b12(district, evaluate, monkeypatch):
    from ui.test_ui import client_as

    from iepwatch.ui import page as ui

    monkeypatch.setattr(ui, "airflow_runs", lambda: [])
    monkeypatch.setattr(ui, "nightly_paused", lambda: None)
    district.student()
    evaluate(district)
    produce("indicator_b12")
    try:
        html = client_as("viewer").get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert "indicator_b12<br><span class=\"muted\">Indicator B12 — early childhood transition" in html


def test_a_district_without_part_c_referrals_gets_a_district_row_of_zeros(district, evaluate):
    district.student()
    evaluate(district)
    assert produce("indicator_b12_detail").count("\n") == 1, "the header only"
    (row,) = csv.DictReader(produce("indicator_b12").splitlines())
    assert row["level"] == "district" and row["referred_a"] == "0" and row["percent"] == ""
