"""The Data Docs of a real night in headless Chromium with the network cut: styled, their tables
filled by their scripts, no request leaving the machine; the compliance suite reads as counts."""

from __future__ import annotations

from pathlib import Path


def test_the_data_docs_work_offline_and_the_compliance_suite_does_not_read_failed(published_night, chromium,
                                                                                 tmp_path):
    from cdp import browser

    site = published_night / "datadocs"
    rules = next(p for p in (site / "validations").rglob("*.html") if "compliance" in str(p))
    with browser(1300, 1600, offline=True) as b:
        b.open(site.joinpath("index.html").as_uri(), settle=1.5)
        assert b.evaluate("typeof jQuery === 'function' && typeof jQuery.fn.bootstrapTable") == "function"
        assert "-apple-system" in b.evaluate("getComputedStyle(document.body).fontFamily"), "bootstrap's styles"
        assert b.evaluate("document.querySelectorAll('table tbody tr').length") >= 15, "the suites are listed"
        b.screenshot(tmp_path / "datadocs-index.png")
        b.open(rules.as_uri(), settle=1.5)
        text = b.evaluate("document.body.innerText")
        assert "Status:  Succeeded" in text or "Status: Succeeded" in text
        assert "EVAL_60_DAY" in text and "the unexpected ones are not compliant" in text
        assert b.evaluate("document.querySelectorAll('table tbody tr').length") >= 18
        icons = b.evaluate("[...document.querySelectorAll('i.fas, i.fa')].map(i => getComputedStyle(i, '::before')"
                           ".fontFamily).filter(f => f.includes('Font Awesome')).length")
        assert icons > 0, "Font Awesome's local fonts"
        b.screenshot(tmp_path / "datadocs-compliance.png")
        remote = [u for u in b.requests if not u.startswith(("file://", "data:"))]
    assert remote == [], remote
    assert Path(tmp_path / "datadocs-compliance.png").stat().st_size > 20_000


def test_a_rejected_export_shows_its_failed_ingest_suite_and_lists_its_quarantine(district, tmp_path, settings,
                                                                                 data_dir):
    """Too many bad rows: nothing is published, and still the Data Docs show this night's ingest
    suite failed (not the last good night's passed one) and quarantine.csv lists the lines."""
    import csv
    import json

    import pytest
    from airflow.sdk.exceptions import AirflowFailException
    from builder import AS_OF
    from helpers import run_night_in_process

    settings({"quality": {"quarantine_threshold_pct": 5, "quarantine_threshold_min_rows": 0}})
    for _ in range(3):
        district.student()
    district.tables["students"][1]["birth_date"] = None   # 1 of 3 rows: 33 % > 5 %
    with pytest.raises(AirflowFailException, match="DATA ERROR: Too many bad rows"):
        run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    site = data_dir / "datadocs"
    pages = [p for p in (site / "validations" / "ingest" / "students").rglob("*.html") if f"nightly-{AS_OF}" in str(p)]
    assert len(pages) == 1, "the rejected night's ingest.students validation is in the Data Docs"
    index = (site / "index.html").read_text()
    after = index.split(str(pages[0].relative_to(site)), 1)[1][:80]   # the index row's status follows its link
    assert "'_validation_success_text': 'Failed'" in after
    with open(data_dir / "runs" / str(AS_OF) / "quarantine.csv") as f:
        listed = {(r["file"], r["line"]) for r in csv.DictReader(f)}
    assert ("students.csv", "3") in listed and {file for file, _ in listed} == {"students.csv", "guardians.csv"}
    assert not (data_dir / "runs" / str(AS_OF) / "summary.json").exists() or \
        json.loads((data_dir / "runs" / str(AS_OF) / "summary.json").read_text()).get("as_of") != str(AS_OF)
