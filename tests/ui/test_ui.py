"""The iepwatch page's content, rendered by its FastAPI app (login and serving: test_airflow_ui)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builder import AS_OF


@pytest.fixture(autouse=True)
def no_airflow_runs(monkeypatch):
    """The page's content from the night's files alone: the Airflow runs of other tests (one
    metadata database for the session) are not this district's. The real runs: test_airflow_ui."""
    from iepwatch.ui import page as ui

    monkeypatch.setattr(ui, "airflow_runs", lambda: [])
    monkeypatch.setattr(ui, "nightly_paused", lambda: None)


def page(data_dir) -> str:
    from fastapi.testclient import TestClient

    from iepwatch.ui import page as ui

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
    assert "Warning for 2026-11-27:</b> tonight&#39;s export is byte-identical to the export of 2026-11-26 &lt;b&gt;" \
        in html


def test_no_response_is_kept_by_a_cache(data_dir):
    """Cache-Control: no-store on the page and on the files it serves (Data Docs, extracts)."""
    from fastapi.testclient import TestClient

    from iepwatch.ui import page as ui

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


class Member:
    """An Airflow user as the simple auth manager gives it to the page (a login and one role)."""

    def __init__(self, role: str) -> None:
        self.username, self.role = role, role

    def get_name(self) -> str:
        return self.username


def client_as(role: str):
    from fastapi.testclient import TestClient

    from iepwatch.ui import page as ui

    ui.app.dependency_overrides[ui._user_dep()] = lambda: Member(role)
    return TestClient(ui.app)


def test_a_viewer_sees_counts_and_gets_403_for_student_rows_an_op_sees_them_audited(
        district, evaluate, data_dir, airflow_db):
    from datetime import timedelta

    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from iepwatch.ui import page as ui

    s = district.student(school="SCH1")
    district.meeting(s, held=AS_OF - timedelta(days=400), kind="annual")            # overdue
    soon = district.student(school="SCH2")
    district.meeting(soon, held=AS_OF - timedelta(days=320), kind="annual")         # due in 45 days
    evaluate(district)
    try:
        viewer = client_as("viewer")
        page = viewer.get("/")
        assert page.status_code == 200 and f"Exceptions as of {AS_OF}" in page.text
        assert s not in page.text and "counts only" in page.text
        assert "Timelines" in page.text and "300.324(b)(1)(i)" in page.text   # rules by group, with citations
        for path in (f"/exceptions?as_of={AS_OF}", f"/exceptions.csv?as_of={AS_OF}"):
            refused = viewer.get(path)
            assert refused.status_code == 403, path
            assert refused.headers["content-type"].startswith("text/html"), "a page a person can read, not JSON"
            assert "<h1>Not for your role</h1>" in refused.text and "needs one of the roles op, admin" in refused.text
            assert "Back to the IEP compliance page" in refused.text
        op = client_as("op")
        rows = op.get(f"/exceptions?as_of={AS_OF}&status=overdue&school=SCH1")
        assert rows.status_code == 200 and s in rows.text and "1 row." in rows.text
        assert 'id="by-rule"' in rows.text and "rule=IEP_ANNUAL_REVIEW" in rows.text   # school -> rule -> rows
        by_rule = op.get(f"/exceptions?as_of={AS_OF}&status=overdue&school=SCH1&rule=IEP_ANNUAL_REVIEW")
        assert s in by_rule.text and 'id="by-rule"' not in by_rule.text
        assert op.get(f"/exceptions?as_of={AS_OF}&status=due_soon").text.count(s) == 0
        one = op.get(f"/exceptions?as_of={AS_OF}&student={s}")   # where a digest's row links to
        assert one.status_code == 200 and "1 row." in one.text and f'name="student" size="10" value="{s}"' in one.text
        assert op.get(f"/exceptions?as_of={AS_OF}&student=S-NOBODY").text.count(s) == 0
        assert op.get(f"/exceptions?as_of={AS_OF}&new_since=bad").status_code == 422
        assert op.get("/exceptions?as_of=../../etc").status_code == 404
        csv = op.get(f"/exceptions.csv?as_of={AS_OF}")
        assert csv.status_code == 200 and s in csv.text
        look = op.get("/").text.split('id="lookahead-schools"')[1].split("</table>")[0]
        assert "SCH2" in look and "<td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">1</td>" in look
    finally:
        ui.app.dependency_overrides.clear()
    with create_session() as session:
        seen = session.execute(select(Log.event, Log.owner).where(Log.event.like("iepwatch.%"))).all()
    assert ("iepwatch.exceptions_view", "op") in seen and ("iepwatch.exceptions_download", "op") in seen
    assert all(owner == "op" for event, owner in seen if event != "iepwatch.refused"), "a refused request is no view"
    assert seen.count(("iepwatch.refused", "viewer")) >= 2, "each refused attempt is in the audit log"


def test_run_health_names_a_failed_night_and_a_stale_one(data_dir):
    from datetime import UTC, datetime

    from iepwatch.district import load_config
    from iepwatch.ui import dashboard

    cfg = load_config()
    run = data_dir / "runs" / str(AS_OF)
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"as_of": str(AS_OF), "counts": [], "warnings": []}))
    (run / "emails.json").write_text(json.dumps({"sent": 3, "failed": 1, "failed_ids": ["C9"], "already_sent": 0,
                                                 "nothing_to_report": 0}))
    (run / "quarantine.csv").write_text("table,line,reason\nstudents,4,x\nstudents,9,y\n")
    finished = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)   # 02:30 in Los Angeles
    runs = [{"dag_id": "iep_nightly", "as_of": str(AS_OF), "state": "failed", "end_date": finished,
             "failed_tasks": ["send_coordinator_emails"]}]
    # the schedule is 02:00 Los Angeles with a 06:00 deadline: on the 27th at 07:00 local the 27th is due
    (latest,) = dashboard.summaries(cfg, 1)
    h = dashboard.health(cfg, runs, datetime(2026, 11, 27, 15, 0, tzinfo=UTC), latest)
    assert h.expected == str(AS_OF) and h.stale and not h.ok
    assert h.failed_tasks == ["send_coordinator_emails"] and h.quarantined == 2 and h.emails["failed"] == 1
    assert h.finished == "2026-11-27 02:30 PST"
    # at 05:00 local the 27th's night may still be running: yesterday's is what is expected
    early = dashboard.health(cfg, runs, datetime(2026, 11, 27, 13, 0, tzinfo=UTC), latest)
    assert early.expected == "2026-11-26"
    ok = dashboard.health(cfg, [{**runs[0], "state": "success", "failed_tasks": []}],
                          datetime(2026, 11, 27, 15, 0, tzinfo=UTC), latest)
    assert not ok.stale and not ok.ok, "a night with a failed email is not healthy"
    (run / "emails.json").write_text(json.dumps({"sent": 4, "failed": 0, "failed_ids": [], "already_sent": 0,
                                                 "nothing_to_report": 0}))
    assert dashboard.health(cfg, [{**runs[0], "state": "success", "failed_tasks": []}],
                            datetime(2026, 11, 27, 15, 0, tzinfo=UTC), latest).ok
    # nine days later the demo's night is stale while the schedule runs, healthy while it is off
    later = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    success = [{**runs[0], "state": "success", "failed_tasks": []}]
    assert dashboard.health(cfg, success, later, latest).stale
    off = dashboard.health(cfg, success, later, latest, paused=True)
    assert off.expected is None and not off.stale and off.ok, "a paused nightly expects no night"


def test_the_page_shows_red_when_stale(data_dir):
    from iepwatch.ui import page as ui

    try:
        html = client_as("viewer").get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert "No night has been processed yet." in html and 'id="stale"' in html
    assert 'id="schedule-off"' not in html


def test_a_paused_nightly_is_not_stale_and_the_page_says_how_to_run_a_night(data_dir, monkeypatch):
    from iepwatch.ui import page as ui

    monkeypatch.setattr(ui, "nightly_paused", lambda: True)
    try:
        html = client_as("viewer").get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert 'id="stale"' not in html and 'id="schedule-off"' in html
    assert "make nightly DATE=YYYY-MM-DD" in html and "turn the nightly on in the DAG list" in html


def test_trends_over_nights_and_the_drill_down_sorts(district, evaluate, data_dir, airflow_db):
    """Two nights: the trend table and chart carry both, with the resolved count; the rows sort."""
    from datetime import timedelta

    from iepwatch.ui import page as ui

    late = district.student(school="SCH1")
    m = district.meeting(late, held=AS_OF - timedelta(days=40), kind="annual", notice=False)   # a violation
    a = district.student(school="SCH1")
    district.meeting(a, held=AS_OF - timedelta(days=380), kind="annual")    # overdue 15 days
    b = district.student(school="SCH2")
    district.meeting(b, held=AS_OF - timedelta(days=420), kind="annual")    # overdue 55 days
    evaluate(district)
    district.notice(m, sent=AS_OF - timedelta(days=54))                     # resolved the next night
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    try:
        op = client_as("op")
        html = op.get("/").text
        trend = html.split('id="trend-table"')[1].split("</table>")[0]
        # newest first: overdue 2, violation 0, resolved 1; then the first night: violation 1
        assert trend.index(str(nxt)) < trend.index(str(AS_OF))
        rows = [r for r in trend.split("<tr>") if "<td>" in r]
        assert rows[0].count('<td class="n">') == 5 and '<td class="n">1</td></tr>' in rows[0]   # resolved 1
        assert 'id="trend-district"' in html and "<polyline" in html and "<script src" not in html
        by_overdue = op.get(f"/exceptions?as_of={nxt}&status=overdue&sort=days_overdue").text
        assert by_overdue.index(b) < by_overdue.index(a)
        by_student = op.get(f"/exceptions?as_of={nxt}&status=overdue&sort=student").text
        assert by_student.index(min(a, b)) < by_student.index(max(a, b))
        assert op.get(f"/exceptions?as_of={nxt}&severity=high&case_manager=T22").text.count(b) >= 1
        assert a not in op.get(f"/exceptions?as_of={nxt}&case_manager=T22").text.split('id="rows"')[1]
        drill = op.get(f"/exceptions?as_of={nxt}").text
        options = drill.split('name="case_manager"')[1].split("</select>")[0]
        assert options.count('value="T22"') == 1 and ">Staff 22</option>" in options, "one option per staff member"
        assert 'title="T22">Staff 22</td>' in drill.split('id="rows"')[1], "rows name the case manager"
        assert 'title="SCH2">' in drill.split('id="rows"')[1] and 'title="SCH2">SCH2<' not in drill
    finally:
        ui.app.dependency_overrides.clear()


def test_a_generation_is_marked_submitted_from_the_page_by_an_allowed_role_only(district, evaluate, data_dir,
                                                                                airflow_db):
    from datetime import timedelta

    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from helpers import extract_text
    from sqlalchemy import select

    from iepwatch.district import load_config
    from iepwatch.extracts import history
    from iepwatch.ui import page as ui

    s = district.student(school="SCH1")
    district.meeting(s, held=AS_OF - timedelta(days=30), kind="annual")
    evaluate(district)
    cfg = load_config()
    extract_text("compliance_student_list")   # built, checked, published
    url = f"/generations/compliance_student_list/{AS_OF}/1/submit"
    try:
        viewer = client_as("viewer")
        assert "Mark submitted" not in viewer.get("/").text
        assert viewer.post(url, headers={"origin": "http://testserver"}).status_code == 403
        assert viewer.get(f"/generations/compliance_student_list/{AS_OF}/1/changes.csv").status_code == 403
        op = client_as("op")
        page = op.get("/").text
        assert 'id="generations"' in page and "Mark submitted" in page
        form = {"confirm": "yes", "confirmation": "CA-2026-000123"}
        evil = op.post(url, headers={"origin": "http://evil.example"}, data=form)
        assert evil.status_code == 403, "not from the page"
        assert op.post(url, headers={"origin": "http://testserver"},
                       data={"confirmation": "CA-2026-000123"}).status_code == 400, "not confirmed"
        assert op.post(url, headers={"origin": "http://testserver"},
                       data={"confirm": "yes", "confirmation": "x\r\nBcc: a@b"}).status_code == 400
        done = op.post(url, headers={"origin": "http://testserver"}, data=form, follow_redirects=False)
        assert done.status_code == 303
        assert op.get("/generations/compliance_student_list/2026-11-27/9/changes.csv").status_code == 404
        assert op.get(f"/generations/compliance_student_list/{AS_OF}/1/changes.csv").status_code == 200
    finally:
        ui.app.dependency_overrides.clear()
    (g,) = history.generations(cfg.paths.extracts_dir / "compliance_student_list")
    assert g["submitted"]["by"] == "op" and g["submitted"]["confirmation"] == "CA-2026-000123"
    # a newer generation of the night, with other bytes, is flagged against the submitted one
    district.meeting(s, held=AS_OF - timedelta(days=3), kind="annual")
    evaluate(district)
    extract_text("compliance_student_list")
    newer, submitted = history.generations(cfg.paths.extracts_dir / "compliance_student_list")
    assert newer["differs_from_submitted"] == 1 and submitted["differs_from_submitted"] is None
    try:
        page = client_as("op").get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert "Differs from generation 1, the one submitted to the state." in page
    assert "state confirmation CA-2026-000123" in page and " PST" in page.split("state confirmation")[0][-40:]
    with create_session() as session:
        events = session.execute(select(Log.event, Log.owner).where(Log.event == "iepwatch.extract_submitted")).all()
    assert events == [("iepwatch.extract_submitted", "op")]


def test_run_health_tells_the_task_that_failed_from_those_not_run_and_links_its_log(data_dir, monkeypatch):
    """One task failed and eight were not run because of it: run health names the one, with its
    log, and lists the others apart."""
    from iepwatch.ui import page as ui

    log = "http://127.0.0.1:8080/dags/iep_nightly/runs/manual__x/tasks/find_export?try_number=1"
    runs = [{"dag_id": "iep_nightly", "as_of": str(AS_OF), "state": "failed", "end_date": None,
             "failed_tasks": ["find_export"], "task_logs": {"find_export": log},
             "upstream_failed": ["archive_export", "load_staging"]}]
    monkeypatch.setattr(ui, "airflow_runs", lambda: runs)
    night = data_dir / "runs" / str(AS_OF)
    night.mkdir(parents=True)
    (night / "failures.json").write_text(json.dumps({"find_export": {
        "dag_id": "iep_nightly", "error": "DATA ERROR: no export <folder> for the night", "try_number": 1}}))
    html = page(data_dir)
    reason = '<th>Why find_export failed</th><td class="reason">DATA ERROR: no export &lt;folder&gt; for the night'
    assert reason in html
    failed = html.split('id="health-failed">')[1].split("</td>")[0]
    assert failed == f'<a href="{log.replace("&", "&amp;")}">find_export</a> (its log)'
    not_run = html.split('id="health-upstream">')[1].split("</td>")[0]
    assert not_run.startswith("archive_export, load_staging") and "an earlier task failed" in not_run


def test_run_health_shows_the_last_checked_nights_quarantine_with_its_file(data_dir, monkeypatch):
    """A night that failed before its rows were checked has no quarantine of its own: run health
    shows the last checked night's, with a link to its quarantine.csv, which any user may read
    (file, line and reason: no values)."""
    from fastapi.testclient import TestClient

    from iepwatch.ui import page as ui

    checked = data_dir / "runs" / "2026-11-26"
    checked.mkdir(parents=True)
    (checked / "quarantine.csv").write_text("file,line,reason\nstudents.csv,4,x\nstudents.csv,9,y\n")
    runs = [{"dag_id": "iep_nightly", "as_of": str(AS_OF), "state": "failed", "end_date": None,
             "failed_tasks": ["find_export"]}]
    monkeypatch.setattr(ui, "airflow_runs", lambda: runs)
    cell = page(data_dir).split('id="health-quarantine">')[1].split("</td>")[0]
    assert cell.startswith("2 on the night of 2026-11-26, the last one checked")
    assert 'href="quarantine.csv?as_of=2026-11-26"' in cell
    ui.app.dependency_overrides[ui._user_dep()] = lambda: Member("viewer")
    try:
        client = TestClient(ui.app)
        got = client.get("/quarantine.csv", params={"as_of": "2026-11-26"})
        assert got.status_code == 200 and got.text.startswith("file,line,reason\nstudents.csv,4,x")
        assert client.get("/quarantine.csv", params={"as_of": "../../etc"}).status_code == 404
    finally:
        ui.app.dependency_overrides.clear()


def test_trends_leave_a_missing_nights_gap_and_say_what_resolved_means():
    """Nights of the 25th, 26th and 28th: the chart spaces them by date (the 27th's gap stays
    open), the table says a night is missing, and resolved is explained."""
    from iepwatch.ui import dashboard

    nights = [{"as_of": d, "counts": [{"school_id": "S", "school_name": "S", "status": "overdue", "n": n}],
               "resolved": []} for d, n in (("2026-11-25", 3), ("2026-11-26", 4), ("2026-11-28", 2))]
    t = dashboard.trends(nights)
    assert t["days"] == [0, 1, 3] and t["missing"] == [0, 0, 1]
    xs = [float(p.split(",")[0]) for p in dashboard.chart({"overdue": t["district"]["overdue"]},
                                                          days=t["days"])["lines"]["overdue"].split()]
    assert abs((xs[2] - xs[1]) - 2 * (xs[1] - xs[0])) < 0.5, xs   # two days apart, not one step


def test_the_findings_ledger_on_the_page_counts_for_all_cases_for_student_roles_audited(
        district, data_dir, settings, tmp_path, airflow_db, monkeypatch):
    """A finding with one corrected and one open case: every role sees its status, deadline, days
    left, cases corrected of total and prong 2's progress; the drill-down to the cases is the
    op's (audited), a viewer's is refused."""
    from datetime import date

    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from corrections.test_ledger import finding, write_findings
    from helpers import run_night_in_process
    from sqlalchemy import select

    from iepwatch.tasks import iep_nightly as t
    from iepwatch.ui import page as ui

    done, todo = district.student(), district.student()
    district.evaluation(done, consent=date(2026, 1, 5), completed=date(2026, 4, 1), eligibility=date(2026, 4, 1),
                        outcome="not_eligible")
    district.evaluation(todo, consent=date(2026, 3, 2))
    write_findings(data_dir, [finding("F-B11", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F-B11", "student_id": done, "due_date": "2026-03-06"},
                    {"finding_id": "F-B11", "student_id": todo, "due_date": "2026-05-01"}])
    settings({"quality": {"quarantine_threshold_pct": 100}})
    t.update_corrections_ledger(run_night_in_process(district.write(tmp_path / "export"), AS_OF))
    try:
        html = client_as("viewer").get("/").text
        table = html.split('id="findings-table"')[1].split("</table>")[0]
        assert "F-B11" in table and "2027-06-01" in table and f"<td class=\"n\">{186}</td>" in table
        assert "1 of 2" in table and "0 of 10 since 2026-06-01" in table and "findings?as_of" not in table
        assert done not in html and todo not in html
        assert client_as("viewer").get(f"/findings?as_of={AS_OF}&finding=F-B11").status_code == 403
        op = client_as("op")
        assert "findings?as_of=" in op.get("/").text
        page = op.get(f"/findings?as_of={AS_OF}&finding=F-B11")
        assert page.status_code == 200 and done in page.text and todo in page.text
        rows = page.text.split('id="instances"')[1].split("</table>")[0]
        assert "2026-04-01" in rows and "not corrected" in rows
        assert op.get(f"/findings?as_of={AS_OF}&finding=NOPE").status_code == 404
    finally:
        ui.app.dependency_overrides.clear()
    with create_session() as session:
        seen = session.execute(select(Log.event, Log.owner).where(Log.event == "iepwatch.finding_view")).all()
    assert ("iepwatch.finding_view", "op") in seen


def test_a_finding_is_opened_from_a_b11_detail_generation_and_the_next_ledger_reads_it(
        district, evaluate, data_dir, airflow_db):
    """An op opens finding F-B11 from the kept B11 detail: its cases are the children in (a) and
    not in (b), appended to the findings folder; the ledger then checks them. A viewer, another
    origin, a bad id or an id already used are refused; the opening is audited."""
    from datetime import date

    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from helpers import extract_text
    from sqlalchemy import select

    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.tasks import iep_nightly as t
    from iepwatch.ui import page as ui

    late, timely = district.student(), district.student()
    district.evaluation(late, consent=date(2026, 8, 1))                    # due 2026-09-30, overdue: in (a) only
    district.evaluation(timely, consent=date(2026, 8, 1), completed=date(2026, 9, 1), eligibility=date(2026, 9, 1),
                        outcome="not_eligible")                            # in (a) and (b)
    evaluate(district)
    cfg = load_config()
    extract_text("indicator_b11_detail")   # built, checked, published
    url = f"/generations/indicator_b11_detail/{AS_OF}/1/finding"
    form = {"finding_id": "CA-F-2026-17", "issued_date": "2026-11-20", "citation": "34 CFR 300.301(c)(1)"}
    here = {"origin": "http://testserver"}
    try:
        assert client_as("viewer").post(url, headers=here, data=form).status_code == 403
        op = client_as("op")
        assert "Open a finding of the state from this file" in op.get("/").text
        assert op.post(url, headers={"origin": "http://evil.example"}, data=form).status_code == 403
        assert op.post(url, headers=here, data={**form, "finding_id": "../x"}).status_code == 400
        assert op.post(url, headers=here, data=form, follow_redirects=False).status_code == 303
        assert op.post(url, headers=here, data=form).status_code == 409, "the id is taken now"
    finally:
        ui.app.dependency_overrides.clear()
    folder = data_dir / "findings"
    assert "CA-F-2026-17,2026-11-20,EVAL_60_DAY,34 CFR 300.301(c)(1)," in (folder / "findings.csv").read_text()
    assert (folder / "finding_instances.csv").read_text().splitlines()[1:] == [f"CA-F-2026-17,{late},,2026-09-30"]
    from helpers import run_night_in_process

    t.update_corrections_ledger(run_night_in_process(district.write(data_dir.parent / "again"), AS_OF))
    with warehouse.connect(cfg, read_only=True) as con:
        assert con.execute("SELECT student_id, status FROM corrections.ledger_instances").fetchall() == \
            [(late, "not_corrected")]
    with create_session() as session:
        assert session.execute(select(Log.owner).where(Log.event == "iepwatch.finding_opened")).scalars().all() \
            == ["op"]


def test_the_page_reads_at_390_px(district, data_dir, settings, tmp_path, airflow_db, monkeypatch, chromium):
    """In headless Chromium at a phone's 390 px, as the op (the widest page: drill-down links): the
    schedule-off notice with its long paths and the findings table, no sideways scrolling of the
    page (a wide table scrolls inside itself) and no paragraph past the edge."""
    from datetime import date

    from cdp import browser
    from corrections.test_ledger import finding, write_findings
    from helpers import run_night_in_process

    from iepwatch.tasks import iep_nightly as t
    from iepwatch.ui import page as ui

    monkeypatch.setattr(ui, "nightly_paused", lambda: True)
    todo = district.student()
    district.evaluation(todo, consent=date(2026, 3, 2))
    write_findings(data_dir, [finding("F-B11", date(2026, 6, 1), "EVAL_60_DAY")],
                   [{"finding_id": "F-B11", "student_id": todo, "due_date": "2026-05-01"}])
    settings({"quality": {"quarantine_threshold_pct": 100}})
    t.update_corrections_ledger(run_night_in_process(district.write(tmp_path / "export"), AS_OF))
    try:
        html = client_as("op").get("/").text
    finally:
        ui.app.dependency_overrides.clear()
    assert 'id="schedule-off"' in html and 'id="findings-table"' in html
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    with browser(width=390, height=900) as b:
        b.open(page.as_uri(), settle=0.2)
        assert b.evaluate("document.documentElement.scrollWidth") <= 390
        right = b.evaluate("Math.max(...[...document.querySelectorAll('p, li, h1, h2, table')]"
                           ".map(e => e.getBoundingClientRect().right))")
        assert right <= 390, right
        b.screenshot(Path(data_dir) / "screenshots" / "page-390.png", full_page=True)
