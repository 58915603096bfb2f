"""The data team's page inside the Airflow UI (served by the plugin in plugins/, behind Airflow's login).

Run health first, then the extracts, the night's exceptions by school and by rule, trends and
the look-ahead (counts: any signed-in user), and the drill-down to the exception rows
(student-level: only users holding a role of ``ui.student_level_roles``, Op and Admin by
default, never Viewer). Every student-level view or download is written to Airflow's audit log;
no response is cached. Pages are Jinja templates (``templates/``); what they show is assembled
in ``iepwatch.ui.dashboard`` from the nights' files and Airflow's run records.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from iepwatch import run_record
from iepwatch.config import Config
from iepwatch.corrections import findings
from iepwatch.deployment import districts, rollup
from iepwatch.deployment.districts import KINDS, dag_id, split_dag_id
from iepwatch.district import district_context, load_config
from iepwatch.extracts import history
from iepwatch.extracts.engine import definitions
from iepwatch.night import as_of_date, is_as_of
from iepwatch.rules.evaluate import catalog
from iepwatch.rules.statuses import NAMES, STATUSES
from iepwatch.ui import dashboard

TEMPLATES = Path(__file__).resolve().parent / "templates"
COLORS = {"overdue": "#cf222e", "due_soon": "#bc4c00", "late": "#8250df", "violation": "#6639ba",
          "warning": "#6e7781", "exempt": "#1a7f37"}


log = logging.getLogger(__name__)

def _user_dep():
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


User = Annotated[object, Depends(_user_dep())]
app = FastAPI(title="iepwatch", docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(StarletteHTTPException)
async def _error_page(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """A refusal or a missing night as a page a person can read (with the way back), not JSON."""
    import html

    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    try:
        back = str(request.url_for("index"))
    except Exception:  # noqa: BLE001 - under a deployment's page the district's index has no name here
        back = request.scope.get("root_path", "") + "/"
    title = {401: "Sign in first", 403: "Not for your role", 404: "Not found"}.get(exc.status_code, "Request refused")
    body = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — iepwatch</title></head>"
            f"<body style=\"font-family: sans-serif; margin: 24px\"><h1>{title}</h1><p>{html.escape(detail)}</p>"
            f"<p><a href=\"{html.escape(back)}\">Back to the IEP compliance page</a></p>"
            "</body></html>")
    return HTMLResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


@app.middleware("http")
async def _no_store(request, call_next):
    """Nothing this app serves is kept by a browser or a proxy: its pages and files describe students."""
    response = await call_next(request)
    response.headers["Cache-Control"] = "no-store"
    return response


@functools.cache
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _name(user) -> str:
    return user.get_name() if hasattr(user, "get_name") else str(user)


def roles(user) -> set[str]:
    """The user's Airflow roles, lower case: the simple auth manager's one ``role``, or the FAB
    auth manager's ``roles``."""
    found = {getattr(user, "role", None)} | {getattr(r, "name", r) for r in getattr(user, "roles", None) or []}
    return {str(r).lower() for r in found if r}


def students_allowed(user, cfg: Config) -> bool:
    return bool(roles(user) & {r.lower() for r in cfg.ui.student_level_roles})


def submit_allowed(user, cfg: Config) -> bool:
    return bool(roles(user) & {r.lower() for r in cfg.ui.submit_roles})


def _require_students(user, cfg: Config, what: dict) -> None:
    """Student-level data for the allowed roles only; a refused attempt is in the audit log too."""
    if not students_allowed(user, cfg):
        try:
            _audit(user, "iepwatch.refused", what)
        except Exception as e:  # noqa: BLE001 - the refusal stands whether or not it is recorded
            log.warning("a refused request was not recorded in the audit log: %s", type(e).__name__)
        raise HTTPException(status_code=403, detail="student-level data needs one of the roles "
                                                    + ", ".join(cfg.ui.student_level_roles))


def _audit(user, event: str, what: dict) -> None:
    """A student-level view or download, in Airflow's audit log (Browse > Audit Log): who and what."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    name = _name(user)
    with create_session() as session:
        session.add(Log(event=event, owner=name, owner_display_name=name, extra=json.dumps(what)))


def _inside(base: Path, *parts: str) -> Path:
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base.resolve()) or not path.is_file():
        raise HTTPException(status_code=404)
    return path


def _night(cfg: Config, as_of: str | None) -> str:
    """A night that has files (the newest when none is asked for); a value that reaches a path is checked."""
    if as_of is None:
        nights = run_record.nights(cfg.data_dir)
        if not nights:
            raise HTTPException(status_code=404, detail="no night has been processed yet")
        return nights[-1]
    if not is_as_of(as_of) or not cfg.run_dir(as_of).is_dir():
        raise HTTPException(status_code=404, detail="no such night")
    return as_of


def airflow_runs(limit: int = 60) -> list[dict]:
    """The latest runs of the district's two DAGs from Airflow's metadata database, with their
    failed tasks (each run's ``dag_id`` is the DAG's kind: ``iep_nightly`` or ``state_reporting``)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    cfg = load_config()
    tz = cfg.district.timezone
    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id.in_([dag_id(k, cfg.district_id) for k in KINDS]))
                               .order_by(DagRun.run_after.desc()).limit(limit)).all()
        failed: dict[tuple, dict[str, list]] = {}
        for ti in session.scalars(select(TaskInstance).where(
                TaskInstance.run_id.in_([r.run_id for r in runs]),
                TaskInstance.state.in_(["failed", "upstream_failed"]))):
            state = str(getattr(ti.state, "value", ti.state))
            kind = failed.setdefault((ti.dag_id, ti.run_id), {"failed": [], "upstream_failed": []})
            kind[state].append({"task_id": ti.task_id, "log_url": ti.log_url} if state == "failed" else ti.task_id)
        out = []
        for r in runs:
            tasks = failed.get((r.dag_id, r.run_id), {"failed": [], "upstream_failed": []})
            out.append({"dag_id": split_dag_id(r.dag_id)[0],
                        "as_of": as_of_date(r.logical_date or r.run_after, tz).isoformat(),
                        "state": str(getattr(r.state, "value", r.state)), "end_date": r.end_date,
                        "failed_tasks": sorted(t["task_id"] for t in tasks["failed"]),
                        "task_logs": {t["task_id"]: t["log_url"] for t in tasks["failed"]},
                        "upstream_failed": sorted(tasks["upstream_failed"])})
        return out


def nightly_paused() -> bool | None:
    """Whether the district's nightly is paused in Airflow (None: Airflow does not know it yet).
    It is created paused (a first ``make airflow`` runs no night the export root has no export
    for): the page then says how to run a night and does not call the last one stale."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(DagModel.is_paused).where(
            DagModel.dag_id == dag_id("iep_nightly", load_config().district_id)))


def _page(name: str, user, cfg: Config, **ctx) -> str:
    return _env().get_template(name).render(cfg=cfg, user_name=_name(user),
                                            students_allowed=students_allowed(user, cfg), **ctx)


@app.get("/", response_class=HTMLResponse)
def index(user: User) -> str:
    cfg = load_config()
    try:
        runs, paused, airflow_error = airflow_runs(), nightly_paused(), None
    except Exception as e:  # noqa: BLE001 - the page still shows what the files say
        runs, paused, airflow_error = [], None, type(e).__name__
    nights = dashboard.summaries(cfg, cfg.ui.trend_nights)
    summary = nights[-1] if nights else None
    h = dashboard.health(cfg, runs, datetime.now(UTC), summary, paused=bool(paused))
    defs = definitions(cfg)
    level = {n: d.student_level for n, d in defs.items()}
    extracts = [{**m, "student_level": level.get(m["report"], True)} for m in dashboard.extracts(cfg)][:30]
    gens = {n: history.generations(cfg.paths.extracts_dir / n)[:5] for n in sorted(level)}
    tz = ZoneInfo(cfg.district.timezone)
    for g in (g for gs in gens.values() for g in gs if g["submitted"]):   # when, in the district's time
        g["submitted"]["local"] = datetime.fromisoformat(g["submitted"]["at"]).astimezone(tz).strftime(
            "%Y-%m-%d %H:%M %Z")
    ctx = {"h": h, "airflow_error": airflow_error, "paused": paused,
           "ledger": dashboard.findings(cfg, summary["as_of"] if summary else None),
           "export_root": cfg.paths.export_root,
           "nightly_dag": dag_id("iep_nightly", cfg.district_id),
           "summary": summary, "extracts": extracts,
           "statuses": STATUSES, "colors": COLORS, "generations": gens, "student_level": level,
           "submit_allowed": submit_allowed(user, cfg), "opens_from": findings.OPENS_FROM,
           "report_titles": {n: d.raw.get("title", "") for n, d in defs.items()}}
    if summary:
        t = dashboard.trends(nights)
        ctx |= {"c": dashboard.counts(summary), "groups": dashboard.rule_groups(cfg), "t": t,
                "charts": {"district": dashboard.chart({k: t["district"][k] for k in ("overdue", "due_soon")},
                                                       days=t["days"])},
                "la": dashboard.lookahead(summary)}
    return _page("page.html.j2", user, cfg, **ctx)


@app.get("/exceptions", response_class=HTMLResponse)
def exceptions(request: Request, user: User, as_of: str | None = None, sort: str = "urgency") -> str:
    """The drill-down: a night's exception rows, filtered and sorted (student-level, audited)."""
    cfg = load_config()
    _require_students(user, cfg, {"page": "exceptions", "as_of": str(as_of)})
    as_of = _night(cfg, as_of)
    filters = {k: v for k in dashboard.FILTERS if (v := request.query_params.get(k))}
    if filters.get("new_since") and not is_as_of(filters["new_since"]):
        raise HTTPException(status_code=422, detail="new_since: a date YYYY-MM-DD")
    sort = sort if sort in dashboard.SORTS else "urgency"
    total, rows, by_rule = dashboard.exception_rows(cfg, as_of, filters, sort)
    _audit(user, "iepwatch.exceptions_view", {"as_of": as_of, "filters": filters, "rows": len(rows)})
    summary = json.loads((cfg.run_dir(as_of) / run_record.SUMMARY).read_text())
    titles = {k: v["title"] for k, v in catalog(cfg).items()}
    schools = sorted({(c["school_id"], c["school_name"] or c["school_id"]) for c in summary["counts"]})
    manager_names = summary.get("case_managers", {})   # one name per staff id (the night's summary)
    manager_names |= {r["case_manager_staff_id"]: manager_names.get(r["case_manager_staff_id"],
                                                                     r["case_manager_staff_id"])
                      for r in rows if r["case_manager_staff_id"]}
    managers = sorted(manager_names.items(), key=lambda m: (m[1], m[0]))
    choices = [("school", "school", schools),
               ("rule", "rule", [(r["rule_id"], r["title"]) for _, rs in dashboard.rule_groups(cfg) for r in rs]),
               ("status", "status", [(n, n.replace("_", " ")) for n in NAMES]),
               ("severity", "severity", [(s, s) for s in ("high", "medium", "low")]),
               ("case_manager", "case manager", managers)]
    from urllib.parse import urlencode

    rule_links = {r: "exceptions?" + urlencode({"as_of": as_of, **filters, "rule": r, "sort": sort}) for r in by_rule}
    return _page("exceptions.html.j2", user, cfg, as_of=as_of, rows=rows, total=total, filters=filters,
                 sort=sort, sorts=list(dashboard.SORTS), choices=choices, titles=titles, by_rule=by_rule,
                 rule_links=rule_links, statuses=NAMES, school_names=dict(schools), manager_names=manager_names)


@app.get("/findings", response_class=HTMLResponse)
def finding(user: User, as_of: str, finding: str) -> str:
    """A finding's drill-down: its instances with status and evidence, its prong-2 records
    (student-level, audited)."""
    cfg = load_config()
    _require_students(user, cfg, {"page": "findings", "as_of": str(as_of), "finding": str(finding)[:64]})
    as_of = _night(cfg, as_of)
    ledger = dashboard.findings(cfg, as_of)
    found = next((f for f in (ledger or {}).get("findings", []) if f["finding_id"] == finding), None)
    if found is None:
        raise HTTPException(status_code=404, detail="no such finding on this night")
    cases = dashboard.finding_cases(cfg, ledger["as_of"], finding)
    _audit(user, "iepwatch.finding_view", {"as_of": as_of, "finding": finding, "rows": len(cases)})
    return _page("finding.html.j2", user, cfg, as_of=as_of, ledger=ledger, f=found,
                 instances=[c for c in cases if c["kind"] == "instance"],
                 review=[c for c in cases if c["kind"] == "review"])


@app.get("/exceptions.csv")
def exceptions_csv(user: User, as_of: str | None = None) -> FileResponse:
    """A night's exceptions.csv (student-level, audited)."""
    cfg = load_config()
    _require_students(user, cfg, {"file": "exceptions.csv", "as_of": str(as_of)})
    as_of = _night(cfg, as_of)
    path = _inside(run_record.root(cfg.data_dir), as_of, run_record.EXCEPTIONS)
    _audit(user, "iepwatch.exceptions_download", {"as_of": as_of, "file": "exceptions.csv"})
    return FileResponse(path, filename=f"exceptions_{as_of}.csv")


@app.get("/quarantine.csv")
def quarantine_csv(user: User, as_of: str) -> FileResponse:
    """A night's quarantine.csv: file, line and reason of each row set aside, no values (counts
    level: any signed-in user)."""
    cfg = load_config()
    as_of = _night(cfg, as_of)
    return FileResponse(_inside(run_record.root(cfg.data_dir), as_of, run_record.QUARANTINE),
                        filename=f"quarantine_{as_of}.csv")


@app.get("/datadocs/{path:path}")
def datadocs(path: str, user: User) -> FileResponse:
    return FileResponse(_inside(load_config().paths.datadocs_dir, path))


@app.get("/extracts/{report}/{as_of}/{name}")
def extract(report: str, as_of: str, name: str, user: User) -> FileResponse:
    """An extract file: a student-level one only for allowed roles; every download is in the audit log."""
    cfg = load_config()
    d = definitions(cfg).get(report)
    if d is None or d.student_level:
        _require_students(user, cfg, {"report": report, "as_of": as_of, "file": name})
    path = _inside(cfg.paths.extracts_dir, report, as_of, name)
    _audit(user, "iepwatch.extract_download", {"report": report, "as_of": as_of, "file": name})
    return FileResponse(path, filename=name)


def _generation(cfg: Config, report: str, as_of: str, n: int) -> Path:
    """A generation's folder, every part of its path checked."""
    if report not in definitions(cfg) or not is_as_of(as_of) or not 0 < n < 1000:
        raise HTTPException(status_code=404)
    kept = history.folder(cfg.paths.extracts_dir / report, as_of, n)
    if not (kept / "generation.json").is_file():
        raise HTTPException(status_code=404)
    return kept


@app.get("/generations/{report}/{as_of}/{n}/{name}")
def generation_file(report: str, as_of: str, n: int, name: str, user: User) -> FileResponse:
    """A kept generation's file or its change report (student-level unless the format is counts)."""
    cfg = load_config()
    folder = _generation(cfg, report, as_of, n)
    if definitions(cfg)[report].student_level:
        _require_students(user, cfg, {"report": report, "as_of": as_of, "generation": n, "file": name})
    path = _inside(folder, name)
    _audit(user, "iepwatch.extract_download", {"report": report, "as_of": as_of, "generation": n, "file": name})
    return FileResponse(path, filename=f"{report}_{as_of}_g{n:03d}_{name}" if name == "changes.csv" else name)


CONFIRMATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}")   # the state's confirmation number
CITATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,()§_/-]{0,79}")   # a finding's citation, as the state wrote it


@app.post("/generations/{report}/{as_of}/{n}/submit")
async def submit(request: Request, report: str, as_of: str, n: int, user: User) -> RedirectResponse:
    """Mark a generation as submitted to the state: kept for good, never overwritten; audited.
    Only from this page (the request's Origin must be this server), confirmed by the person
    (``confirm=yes``) with the state's confirmation number."""
    cfg = load_config()
    if not submit_allowed(user, cfg):
        raise HTTPException(status_code=403, detail="marking a submission needs one of the roles "
                                                    + ", ".join(cfg.ui.submit_roles))
    _same_origin(request, "a submission is marked from the iepwatch page only")
    _generation(cfg, report, as_of, n)   # checked: 404 unless it exists
    form = await request.form()
    confirmation = str(form.get("confirmation", "")).strip()
    if form.get("confirm") != "yes" or not CONFIRMATION.fullmatch(confirmation):
        raise HTTPException(status_code=400, detail="confirm the submission and give the state's confirmation "
                                                    "number (letters, digits, space . _ / -; up to 40)")
    at = datetime.now(UTC).isoformat(timespec="seconds")   # when a person marked it: the clock is the fact
    mark = history.mark_submitted(cfg.paths.extracts_dir / report, as_of, n, _name(user), at, confirmation)
    _audit(user, "iepwatch.extract_submitted", {"report": report, "as_of": as_of, "generation": n, "by": mark["by"],
                                                "confirmation": mark.get("confirmation", "")})
    return RedirectResponse(url=str(request.url_for("index")) + "#history", status_code=303)


def _same_origin(request: Request, refusal: str) -> None:
    """A change only from this page: the request's Origin (or Referer) is this server."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if not origin.startswith(f"{request.url.scheme}://{request.url.netloc}"):
        raise HTTPException(status_code=403, detail=refusal)


@app.post("/generations/{report}/{as_of}/{n}/finding")
async def open_finding(request: Request, report: str, as_of: str, n: int, user: User) -> RedirectResponse:
    """Open a finding of the state from a kept B11 or B13 detail generation (docs/corrections.md):
    the state's finding id, issued date and citation typed in; its cases are the generation's
    noncompliant children, appended to the findings folder; the next night's ledger reads them.
    The roles that may submit to the state, from this page only; audited."""
    cfg = load_config()
    if not submit_allowed(user, cfg):
        raise HTTPException(status_code=403, detail="opening a finding needs one of the roles "
                                                    + ", ".join(cfg.ui.submit_roles))
    _same_origin(request, "a finding is opened from the iepwatch page only")
    if report not in findings.OPENS_FROM:
        raise HTTPException(status_code=404)
    kept = _generation(cfg, report, as_of, n)
    form = await request.form()
    finding_id, issued = str(form.get("finding_id", "")).strip(), str(form.get("issued_date", "")).strip()
    citation = str(form.get("citation", "")).strip()
    if not re.fullmatch(findings.FINDING_ID, finding_id) or not is_as_of(issued) \
            or not CITATION.fullmatch(citation):
        raise HTTPException(status_code=400, detail="a finding id (letters, digits . _ -; up to 40), the issued "
                                                    "date (YYYY-MM-DD) and the state's citation")
    g = json.loads((kept / "generation.json").read_text())
    try:
        opened = findings.open_from_generation(cfg.corrections.folder, report, kept / g["file"], finding_id, issued,
                                               citation, cfg.pack.initial_rule)
    except ValueError as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    _audit(user, "iepwatch.finding_opened", {"report": report, "as_of": as_of, "generation": n, "cases": opened})
    return RedirectResponse(url=str(request.url_for("index")) + "#findings", status_code=303)


# --- a deployment of many districts: its page, each district's page below d/<id>/ -------------

def _for_district(district: str, inner):
    """``inner`` (the district page's app) working for ``district``: every ``load_config()`` of
    the request is that district's, so no page ever mixes two districts' files."""
    async def asgi(scope, receive, send):
        with district_context(district):
            await inner(scope, receive, send)

    return asgi


def deployment_app(dep) -> FastAPI:
    """The deployment's page (districts and the roll-up: counts only) with each district's page
    mounted at ``d/<id>/``."""
    root = FastAPI(title="iepwatch deployment", docs_url=None, redoc_url=None, openapi_url=None)
    root.middleware("http")(_no_store)

    @root.get("/", response_class=HTMLResponse)
    def deployment_index(user: User) -> str:
        configs, districts = dep.configs(), []
        for cfg in configs:
            nights = dashboard.summaries(cfg, 1)
            last = nights[-1] if nights else None
            districts.append({"id": cfg.district_id, "name": cfg.district.name, "tz": cfg.district.timezone,
                              "pack": cfg.rules.state_pack, "as_of": last["as_of"] if last else None,
                              "by_status": dashboard.counts(last)["district"] if last else {}})
        rollups = rollup.published(dep)
        indicators = []
        if rollups:
            (file,) = [f["name"] for f in rollups[0]["files"] if f["name"].startswith("rollup_indicators")]
            indicators = _csv_rows(dep.rollup_dir / rollups[0]["as_of"] / file)
        cfg = configs[0]
        return _env().get_template("deployment.html.j2").render(
            cfg=cfg, page_name=dep.name, user_name=_name(user), students_allowed=students_allowed(user, cfg),
            districts=districts, rollups=rollups[:10], indicators=indicators, statuses=NAMES, colors=COLORS)

    @root.get("/rollup/{as_of}/{name}")
    def rollup_file(as_of: str, name: str, user: User) -> FileResponse:
        if not is_as_of(as_of):
            raise HTTPException(status_code=404)
        return FileResponse(_inside(dep.rollup_dir, as_of, name), filename=name)

    for district in dep.districts:
        root.mount(f"/d/{district}", _for_district(district, app))
    return root


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def plugin_app() -> FastAPI:
    """What the plugin serves at /iepwatch: the district's page, or a deployment's."""
    dep = districts.active()
    return deployment_app(dep) if dep else app
