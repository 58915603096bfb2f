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
