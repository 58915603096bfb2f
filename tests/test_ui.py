"""The iepwatch page's content, rendered by its FastAPI app (login and serving: test_airflow_ui)."""

from __future__ import annotations

import json

from builder import AS_OF


def page(data_dir) -> str:
    from fastapi.testclient import TestClient

    from iepwatch import ui

    ui.app.dependency_overrides[ui._user_dep()] = lambda: object()
    try:
        response = TestClient(ui.app).get("/")
    finally:
        ui.app.dependency_overrides.clear()
    assert response.status_code == 200
    return response.text


def test_the_nights_warnings_are_shown_escaped(data_dir):
    run = data_dir / "runs" / str(AS_OF)
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({
        "as_of": str(AS_OF), "counts": [],
        "warnings": ["tonight's export is byte-identical to the export of 2026-11-26 <b>"]}))
    html = page(data_dir)
    assert "Warning for 2026-11-27:</b> tonight&#x27;s export is byte-identical to the export of 2026-11-26 &lt;b&gt;" \
        in html


def test_no_response_is_kept_by_a_cache(data_dir):
    """Cache-Control: no-store on the page and on the files it serves (Data Docs, extracts)."""
    from fastapi.testclient import TestClient

    from iepwatch import ui

    docs = data_dir / "datadocs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html></html>")
    ui.app.dependency_overrides[ui._user_dep()] = lambda: object()
    try:
        client = TestClient(ui.app)
        for path in ("/", "/datadocs/index.html", "/datadocs/missing.html"):
            assert client.get(path).headers["cache-control"] == "no-store", path
    finally:
        ui.app.dependency_overrides.clear()
