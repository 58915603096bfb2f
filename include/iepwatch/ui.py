"""The data team's page inside the Airflow UI (served by the plugin in plugins/, behind Airflow's login).

Shows tonight's exceptions per school and rule (counts only), links to the Data Docs and
the latest extracts. Every route requires an Airflow user (JWT bearer token or the UI's
session cookie). It reads files the nightly run writes, never the DuckDB warehouse, so it
cannot block a run's writer.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from iepwatch.config import load_config


def _user_dep():
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


User = Annotated[object, Depends(_user_dep())]
app = FastAPI(title="iepwatch", docs_url=None, redoc_url=None, openapi_url=None)


@app.middleware("http")
async def _no_store(request, call_next):
    """Nothing this app serves is kept by a browser or a proxy: its pages and files describe students."""
    response = await call_next(request)
    response.headers["Cache-Control"] = "no-store"
    return response


def _inside(base: Path, *parts: str) -> Path:
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base.resolve()) or not path.is_file():
        raise HTTPException(status_code=404)
    return path


def _latest_summary(data_dir: Path) -> dict | None:
    runs = sorted((data_dir / "runs").glob("*/summary.json"))
    return json.loads(runs[-1].read_text()) if runs else None


@app.get("/", response_class=HTMLResponse)
def index(user: User) -> str:
    from iepwatch.rules import catalog
    from iepwatch.statuses import NAMES as statuses

    cfg = load_config()
    summary = _latest_summary(cfg.data_dir)
    e = html.escape
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>iepwatch</title><style>"
           "body{font-family:sans-serif;margin:24px;color:#1b1f24} table{border-collapse:collapse;font-size:13px}"
           "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left} th{background:#f6f8fa}"
           ".n{text-align:right} .warning{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px}"
           "</style></head><body>",
           f"<h1>IEP compliance — {e(cfg.district.name)}</h1>"]
    if summary is None:
        out.append("<p>No night has been processed yet.</p>")
    else:
        for warning in summary.get("warnings", []):
            out.append(f"<p class='warning'><b>Warning for {e(summary['as_of'])}:</b> {e(warning)}</p>")
        out.append(f"<h2>Exceptions as of {e(summary['as_of'])}</h2><table><tr><th>School</th><th>Rule</th>"
                   + "".join(f"<th class=n>{s}</th>" for s in statuses) + "</tr>")
        cells: dict[tuple, dict] = {}
        for c in summary["counts"]:
            cells.setdefault((c["school_name"] or c["school_id"], c["rule_id"]), {})[c["status"]] = c["n"]
        for (school, rule), by in sorted(cells.items()):
            title = catalog(cfg).get(rule, {}).get("title", rule)
            out.append(f"<tr><td>{e(school)}</td><td title='{e(rule)}'>{e(title)}</td>"
                       + "".join(f"<td class=n>{by.get(s, '')}</td>" for s in statuses) + "</tr>")
        out.append("</table>")
    out.append("<h2>Data quality</h2><p><a href='datadocs/index.html'>Great Expectations Data Docs</a> · "
               "<a href='datadocs/extracts/index.html'>extract validations</a></p><h2>Latest extracts</h2><ul>")
    for manifest in sorted(cfg.paths.extracts_dir.glob("*/*/manifest.json")):
        m = json.loads(manifest.read_text())
        for f in m["files"]:
            href = f"extracts/{m['report']}/{m['as_of']}/{f['name']}"
            out.append(f"<li>{e(m['report'])} {e(m['as_of'])}: <a href='{e(href)}'>{e(f['name'])}</a> "
                       f"({f['rows']} rows, sha256 {e(f['sha256'][:12])}…)</li>")
    out.append("</ul></body></html>")
    return "".join(out)


@app.get("/datadocs/{path:path}")
def datadocs(path: str, user: User) -> FileResponse:
    return FileResponse(_inside(load_config().paths.datadocs_dir, path))


def _audit(user, event: str, what: str) -> None:
    """A student-level view or download, in Airflow's audit log (Browse > Audit Log): who and what."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    name = user.get_name() if hasattr(user, "get_name") else str(user)
    with create_session() as session:
        session.add(Log(event=event, owner=name, owner_display_name=name, extra=what))


@app.get("/extracts/{report}/{as_of}/{name}")
def extract(report: str, as_of: str, name: str, user: User) -> FileResponse:
    """An extract file (student-level): every download is in the audit log."""
    path = _inside(load_config().paths.extracts_dir, report, as_of, name)
    _audit(user, "iepwatch.extract_download", json.dumps({"report": report, "as_of": as_of, "file": name}))
    return FileResponse(path, filename=name)
