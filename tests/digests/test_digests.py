"""Coordinator emails over a real SMTP server on 127.0.0.1 (aiosmtpd), started by each test."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from builder import AS_OF
from helpers import mail_parts as parts
from helpers import run_dag
from helpers import send_digests as send

HELD = AS_OF - timedelta(days=40)


class Cells(HTMLParser):
    """The text of an HTML document, one entry per text node."""

    def __init__(self):
        super().__init__()
        self.cells = []

    def handle_data(self, data):
        if data.strip():
            self.cells.append(data.strip())


def overdue_student(ex, school: str, first="Ana", last="Lopez") -> str:
    s = ex.student(school=school, first=first, last=last)
    ex.meeting(s, held=AS_OF - timedelta(days=400), kind="annual", team=False, notice=False)
    return s


def test_each_coordinator_gets_only_their_schools_students(district, evaluate, smtp, data_dir):
    a = overdue_student(district, "SCH1", "Ana", "Lopez")
    b = overdue_student(district, "SCH2", "Ben", "Okafor")
    evaluate(district)
    summary = send(data_dir)
    assert sorted(summary["sent"]) == ["C1", "C2"]
    by_to = {m["To"]: m for m in smtp.messages()}
    assert set(by_to) == {"coord1@example.org", "coord2@example.org"}
    t1, h1 = parts(by_to["coord1@example.org"])
    t2, h2 = parts(by_to["coord2@example.org"])
    assert a in t1 and a in h1 and b not in t1 and b not in h1
    assert b in t2 and b in h2 and a not in t2 and a not in h2
    assert by_to["coord1@example.org"]["Subject"] == "IEP compliance — School 1 — 1 overdue, 0 due soon (2026-11-27)"


def test_multipart_text_and_html_parse(district, evaluate, smtp, data_dir):
    overdue_student(district, "SCH1")
    evaluate(district)
    send(data_dir)
    (msg,) = smtp.messages()
    assert msg.get_content_type() == "multipart/alternative"
    text, html = parts(msg)
    assert "Still open (1)" in text and "IEP reviewed at least once a year (overdue, high)" in text

    p = Cells()
    p.feed(html)
    assert "IEP reviewed at least once a year" in p.cells and "Still open (1)" in p.cells
    assert msg["Message-ID"].startswith("<iepwatch.2026-11-27.C1.")


def test_names_are_escaped_in_html(district, evaluate, smtp, data_dir):
    overdue_student(district, "SCH1", first="<script>alert(1)</script>", last="O'Neil & Sons")
    evaluate(district)
    send(data_dir, email_student_names="full")
    text, html = parts(smtp.messages()[0])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "O'Neil &amp; Sons" in html or "O&#39;Neil &amp; Sons" in html   # a text node needs no quote escaped
    p = Cells()
    p.feed(html)
    assert any("<script>alert(1)</script> O'Neil & Sons" in c for c in p.cells), "the name reads as text"
    assert "<script>alert(1)</script> O'Neil & Sons" in text, "plain text is not HTML"


def test_initials_mode_leaks_no_full_name(district, evaluate, smtp, data_dir):
    s = overdue_student(district, "SCH1", first="Marisol", last="Quintanilla")
    evaluate(district)
    send(data_dir)
    msg = smtp.messages()[0]
    raw = msg.as_string()
    text, html = parts(msg)
    for blob in (raw, text, html, msg["Subject"]):
        assert "Marisol" not in blob and "Quintanilla" not in blob
    assert f"{s} M.Q." in text


def test_lines_are_grouped_under_their_case_manager_with_the_fallback_labels(district, evaluate, smtp, data_dir):
    """Each case manager's group of a section is headed once, by name and id; a student without a
    case manager under 'No case manager'; a case manager without a name under 'Case manager (id)'."""
    named = [overdue_student(district, "SCH1"), overdue_student(district, "SCH1")]   # T12, "Staff 12"
    nobody = overdue_student(district, "SCH1")
    district.tables["students"][-1]["case_manager_staff_id"] = None
    unnamed = overdue_student(district, "SCH1")
    district.tables["students"][-1]["case_manager_staff_id"] = "T13"
    t13 = next(r for r in district.tables["staff"] if r["staff_id"] == "T13")
    t13["first_name"] = t13["last_name"] = None
    evaluate(district)
    send(data_dir)
    text, html = parts(smtp.messages()[0])
    text = text.replace("\r\n", "\n")
    groups = (("Staff 12 (T12)", named), ("Case manager (T13)", [unnamed]), ("No case manager", [nobody]))
    for label, students in groups:
        assert text.count(f"\n  {label}\n") == 1 and html.count(f">{label}</td>") == 1
        block = text.split(f"\n  {label}\n", 1)[1].split("\n\n", 1)[0]
        assert sorted(line.split()[1] for line in block.splitlines() if line.startswith("  - ")) == sorted(students)


def test_no_email_when_nothing_is_actionable(district, evaluate, smtp, data_dir):
    s = district.student(school="SCH1")
    district.meeting(s, held=HELD, kind="annual")        # compliant
    t = district.student(school="SCH2", status="exited")  # exited students are left out of emails
    district.meeting(t, held=AS_OF - timedelta(days=400), kind="annual", team=False, notice=False)
    evaluate(district)
    summary = send(data_dir)
    assert summary["sent"] == [] and sorted(summary["nothing_to_report"]) == ["C1", "C2"]
    assert smtp.messages() == []
    again = send(data_dir, send_empty_digest=True)
    assert sorted(again["sent"]) == ["C1", "C2"]
    assert "Nothing to report." in parts(smtp.messages()[0])[0]


def test_rerun_sends_nothing_new(district, evaluate, smtp, data_dir):
    overdue_student(district, "SCH1")
    overdue_student(district, "SCH2")
    evaluate(district)
    send(data_dir)
    assert len(smtp.messages()) == 2
    evaluate(district)                      # the night re-run: same exceptions
    summary = send(data_dir)
    assert summary["sent"] == [] and sorted(summary["already_sent"]) == ["C1", "C2"]
    assert len(smtp.messages()) == 2


def test_server_down_after_the_first_of_three_then_retry_sends_only_the_rest(evaluate, smtp, data_dir):
    from builder import Export

    from iepwatch.errors import SendError

    ex = Export.district(schools=3)
    for school in ("SCH1", "SCH2", "SCH3"):
        overdue_student(ex, school)
    evaluate(ex)
    smtp.stop()
    smtp.start(fail_after=1)                # accepts one message, then 451 for the rest
    with pytest.raises(SendError, match="2 digest\\(s\\) not sent, to staff id\\(s\\) C2, C3; 1 sent"):
        send(data_dir)
    smtp.stop()                             # now the server is gone altogether
    with pytest.raises(SendError, match="C2, C3"):
        send(data_dir)
    smtp.start()
    summary = send(data_dir)
    assert summary["sent"] == ["C2", "C3"] and summary["already_sent"] == ["C1"]
    assert sorted(m["To"] for m in smtp.messages()) == \
        ["coord1@example.org", "coord2@example.org", "coord3@example.org"]


def test_coordinator_with_several_schools_gets_one_email_with_a_section_each(district, evaluate, smtp, data_dir):
    district.add("coordinator_assignments", staff_id="C1", school_id="SCH2")
    overdue_student(district, "SCH1")
    overdue_student(district, "SCH2")
    evaluate(district)
    send(data_dir)
    to = sorted(m["To"] for m in smtp.messages())
    assert to == ["coord1@example.org", "coord2@example.org"]
    text, _ = parts(next(m for m in smtp.messages() if m["To"] == "coord1@example.org"))
    assert "== School 1 (SCH1) ==" in text and "== School 2 (SCH2) ==" in text


def test_school_without_coordinator_goes_to_the_fallback_address(district, evaluate, smtp, data_dir, caplog):
    district.tables["coordinator_assignments"] = [r for r in district.tables["coordinator_assignments"]
                                                  if r["school_id"] != "SCH2"]
    s = overdue_student(district, "SCH2")
    evaluate(district)
    summary = send(data_dir, fallback_address="sped-office@example.org")
    assert "FALLBACK" in summary["sent"]
    (msg,) = [m for m in smtp.messages() if m["To"] == "sped-office@example.org"]
    assert s in parts(msg)[0]
    assert "DATA PROBLEM: schools with exceptions but no coordinator: SCH2" in caplog.text


def test_new_violations_once_overdue_every_night_and_resolved_count(district, evaluate, smtp, data_dir):
    late = district.student(school="SCH1")
    m = district.meeting(late, held=HELD, kind="annual", notice=False)          # NOTICE_MISSING: violation
    overdue_student(district, "SCH1")
    evaluate(district)
    send(data_dir)
    first_text = parts(smtp.messages()[0])[0]
    # a first report marks nothing NEW (everything would be) and says it is the first
    assert "your first iepwatch report" in first_text and "[NEW]:" not in first_text
    # nothing is new on a first report: the violation is in the backlog, listed once
    notice = "Meeting notice sent to the parents before the meeting"
    assert "Still open (2)" in first_text and f"{notice} (violation, high)" in first_text
    assert "New since the last report" not in first_text
    district.notice(m, sent=HELD - timedelta(days=12))   # the notice is recorded: violation resolved
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt)
    second = [x for x in smtp.messages() if x["X-IEPWatch-As-Of"] == str(nxt)]
    text = parts(second[0])[0]
    assert "Still open (1)" in text and "[NEW]" not in text and "(violation" not in text
    assert "Resolved since the last report: 1" in text and "first iepwatch report" not in text
    # the resolved item is listed, before what is still open
    resolved = text.split("Resolved since the last report (1)")[1].split("Still open (1)")[0]
    assert f"- {late} " in resolved and f"{notice} (was violation)" in resolved


def test_html_preview_renders_with_chromium(tmp_path, chromium):
    """Render a digest to PNG for people to look at (skipped where Chromium is not installed)."""
    from tools.email_preview import render_png

    html = tmp_path / "digest.html"
    html.write_text("<html><body><h1>IEP compliance</h1><p>hello</p></body></html>")
    png = render_png(html, tmp_path / "digest.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


@pytest.fixture
def demo_night_with_mail(airflow_db, data_dir, tmp_path, smtp):
    from tools.demo import generate

    export = tmp_path / "export"
    generate(export, students=300, as_of=AS_OF)
    return lambda: run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})


def test_nightly_dag_sends_once_per_coordinator_and_rerun_sends_nothing(demo_night_with_mail, smtp):
    state, tis = demo_night_with_mail()
    assert state == "success", tis
    first = smtp.messages()
    assert len(first) == 4 and tis["send_coordinator_emails"] == ("success", 1), "8 schools, 4 coordinators"
    state, tis = demo_night_with_mail()
    assert state == "success"
    assert len(smtp.messages()) == 4, "re-running the night sends nothing twice"
    assert Path(smtp.outbox).exists()


@pytest.mark.parametrize("uri, says", [
    ("smtp://127.0.0.1:{port}", "disagree on SSL/TLS (WRONG_VERSION_NUMBER)"),   # SSL against a plain server
    ("smtp://no-such-host.invalid:25?disable_ssl=true", "is not known"),
])
def test_an_smtp_connection_that_cannot_work_is_a_configuration_error_not_a_retry(district, evaluate, smtp, data_dir,
                                                                                   monkeypatch, uri, says):
    """A TLS mismatch or an unknown host is configuration: retrying cannot fix it, so the task
    fails at once (ConfigError, never retried), naming the connection and what to set."""
    from iepwatch.errors import ConfigError

    overdue_student(district, "SCH1")
    evaluate(district)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", uri.format(port=smtp.port))
    with pytest.raises(ConfigError, match="smtp_default") as e:
        send(data_dir)
    assert says in str(e.value)
    assert smtp.messages() == []


def test_a_night_without_smtp_connection_fails_at_once_naming_it(airflow_db, data_dir, tmp_path, monkeypatch, capfd,
                                                                  caplog):
    """A missing connection is configuration, not a transient fault: no retries, the connection named."""
    from tools.demo import generate

    export = tmp_path / "export"
    generate(export, students=60, as_of=AS_OF)
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT")
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(export)})
    log = "".join(capfd.readouterr())
    assert state == "failed"
    assert tis["send_coordinator_emails"] == ("failed", 1), "failed once, without a retry"
    assert tis["build_exceptions"][0] == "success" and tis["build_data_docs"][0] == "success"
    assert tis["publish_night"][0] == "success" and tis["finish_night"][0] == "success", \
        "the night is published whole: the state's extracts do not wait on mail"
    errors = [ln for ln in log.splitlines() if "CONFIG ERROR" in ln and "raise " not in ln]
    assert errors and "the SMTP connection 'smtp_default' (email.smtp_conn_id) is not defined" in errors[0]
    assert "AIRFLOW_CONN_SMTP_DEFAULT" in errors[0]
    # the notifier's one warning: in the task's output or in the captured records, as Airflow's
    # logging is configured by the tests before this one
    notifier = [ln for ln in log.splitlines() if "[iepwatch.alerts]" in ln] + \
        [r.getMessage() for r in caplog.records if r.name == "iepwatch.alerts"]
    assert len(notifier) == 1
    assert "run alert to the data team not sent: the SMTP connection 'smtp_default' is not defined" in notifier[0]


def test_one_smtp_connection_serves_every_digest_of_the_night(district, evaluate, smtp, data_dir):
    """The stage is linear in digests: one login, one connection, not one per coordinator."""
    for school in ("SCH1", "SCH2"):
        overdue_student(district, school)
    evaluate(district)
    before = smtp.catcher.handler.sessions
    assert send(data_dir)["sent"] == ["C1", "C2"]
    assert smtp.catcher.handler.sessions - before == 1


def test_a_dropped_connection_is_reopened_once(district, evaluate, smtp, data_dir):
    for school in ("SCH1", "SCH2"):
        overdue_student(district, school)
    evaluate(district)
    smtp.catcher.handler.drop_after = 1          # the server closes the connection after the first digest
    assert send(data_dir)["sent"] == ["C1", "C2"]
    assert len(smtp.messages()) == 2 and smtp.catcher.handler.sessions == 2


def test_a_long_student_id_is_emailed_once_like_any_other(district, evaluate, smtp, data_dir):
    """The items a digest recorded key on the student's real id, however long (ids are opaque)."""
    long_id = "S" + "0" * 49                                  # 50 characters
    s = district.student(long_id)
    district.meeting(s, held=HELD, kind="annual", notice=False)   # NOTICE_MISSING: a violation, emailed once
    evaluate(district)
    send(data_dir)
    assert long_id in parts(smtp.messages()[0])[0]
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt)
    again = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(nxt)]
    assert not any(long_id in parts(m)[0] for m in again), "the violation was emailed the night before"


@pytest.mark.parametrize("eight_bit", [True, False])
def test_a_message_parses_back_to_its_text_and_html_whatever_its_lines(eight_bit):
    """8bit when the server takes it and no line is too long for SMTP; base64 otherwise."""
    import email
    import email.policy
    from datetime import date

    from iepwatch.digests.digest import Digest
    from iepwatch.digests.message import build_message

    d = Digest("C1", ["coord1@example.org"], "Coordinator", date(2026, 11, 27), [], 0, "District")
    for html, expect in (("<p>Café — short</p>\n", "8bit" if eight_bit else "base64"),
                         ("<p>" + "&amp;" * 400 + "</p>\n", "base64")):
        content = {"subject": "IEP — test", "text": "Café\n.\nline\n", "html": html, "sha256": "ab" * 32,
                   "attachments": []}
        built = build_message(d, content, "iepwatch@example.org", eight_bit)
        raw = built.raw
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text, html_part = (next(p for p in msg.walk() if p.get_content_type() == f"text/{k}")
                           for k in ("plain", "html"))
        assert html_part["Content-Transfer-Encoding"] == expect
        assert html_part.get_content().replace("\r\n", "\n").rstrip("\n") == html.rstrip("\n")
        assert text.get_content().replace("\r\n", "\n").rstrip("\n") == "Café\n.\nline"
        assert msg["Message-ID"] == built.message_id and msg["Subject"] == "IEP — test"
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_the_items_of_a_warehouse_from_before_are_kept():
    """ops.email_items was a table; its rows move to ops.digest_lines and stay emailed."""
    import duckdb

    from iepwatch.digests.digest import ensure_send_log
    from iepwatch.warehouse import create_schema

    con = duckdb.connect()
    con.execute("CREATE SCHEMA ops")
    con.execute("CREATE TABLE ops.email_sends (as_of DATE, staff_id VARCHAR, digest VARCHAR, message_id VARCHAR)")
    con.execute("INSERT INTO ops.email_sends VALUES ('2026-11-26', 'C1', 'x', '<m>')")
    con.execute("""CREATE TABLE ops.email_items (recipient VARCHAR, rule_id VARCHAR, student_id VARCHAR,
                   meeting_key VARCHAR, status VARCHAR, as_of DATE)""")
    con.execute("INSERT INTO ops.email_items VALUES ('C1', 'EVAL_60_DAY', 'S1', '', 'overdue', '2026-11-26')")
    create_schema(con)     # a writer's connection (warehouse.connect), then the digests' set-up
    ensure_send_log(con)
    ensure_send_log(con)   # idempotent
    assert con.execute("SELECT recipient, student_id, as_of::VARCHAR FROM ops.email_items").fetchall() == [
        ("C1", "S1", "2026-11-26")]
    assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'email_items'"
                       ).fetchone()[0] == "VIEW"


def attachments(msg) -> dict[str, bytes]:
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.walk() if p.get_filename()}


def test_new_marks_what_was_first_detected_since_the_last_report(district, evaluate, smtp, data_dir):
    """NEW follows first_detected_on: after a first report, only an exception first detected since
    the previous report is marked, and the summary counts it."""
    old = overdue_student(district, "SCH1")
    evaluate(district)
    send(data_dir)
    fresh = overdue_student(district, "SCH1", first="Bo", last="Diaz")
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt)
    text = parts([x for x in smtp.messages() if x["X-IEPWatch-As-Of"] == str(nxt)][0])[0]
    assert f"- {fresh} B.D. [NEW]:" in text and f"- {old} A.L.:" in text
    assert "New since the last report: 1" in text and "first iepwatch report" not in text


def test_every_new_item_is_listed_beyond_the_cap_and_new_means_one_thing(district, evaluate, smtp, data_dir):
    """New is one thing everywhere, first detected since the last report: the subject, the
    summary, the badge and the CSV's column agree; and a new item is in the body even beyond its
    section's cap, never only in the attachment."""
    import csv
    import io

    old = []
    for days in (440, 460, 480):   # overdue by 75, 95 and 115 days: more urgent than the new one
        s = district.student(school="SCH1")
        district.meeting(s, held=AS_OF - timedelta(days=days), kind="annual")
        old.append(s)
    evaluate(district)
    send(data_dir, max_rows_per_section=2)
    fresh = district.student(school="SCH1")
    district.meeting(fresh, held=AS_OF - timedelta(days=370), kind="annual")   # overdue by 6 days
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt, max_rows_per_section=2)
    msg = [x for x in smtp.messages() if x["X-IEPWatch-As-Of"] == str(nxt)][0]
    text, html = parts(msg)
    assert "[NEW]" in text.split(f"- {fresh} ")[1].splitlines()[0] and fresh in html
    new = text.split("New since the last report (1)")[1].split("Still open (3)")[0]
    assert f"- {fresh} " in new and "showing 2 of 3, the most urgent" in text
    assert old[2] in text and old[1] in text and old[0] not in text   # the least urgent old one: CSV only
    assert "New since the last report: 1" in text and msg["Subject"].endswith(f", 1 new ({nxt})")
    assert "held late, violations and warnings: those not in an earlier report" in text
    rows = list(csv.DictReader(io.StringIO(attachments(msg)[f"iepwatch-{nxt}-C1.csv"].decode())))
    assert {r["student_id"]: r["new"] for r in rows} == {**{s: "N" for s in old}, fresh: "Y"}
    assert {r["student_id"]: r["section"] for r in rows} == {**{s: "backlog" for s in old}, fresh: "new"}
    assert {r["status"] for r in rows} == {"overdue"}


def test_summary_counts_and_rows_grouped_by_case_manager_with_severity(district, evaluate, smtp, data_dir):
    a = overdue_student(district, "SCH1", first="Al", last="One")
    b = overdue_student(district, "SCH1", first="Bea", last="Two")
    c = overdue_student(district, "SCH1", first="Cy", last="Three")
    district.tables["students"][1]["case_manager_staff_id"] = "T13"     # b: another case manager
    soon = district.student(school="SCH1")
    district.meeting(soon, held=AS_OF - timedelta(days=360), kind="annual")   # annual review due in 5 days
    evaluate(district)
    send(data_dir)
    text, html = parts(smtp.messages()[0])
    assert "Overdue: 3 | Due soon: 1 | Held late: 0 | Violations: 0 | Warnings: 0" in text
    assert "Act in the next 5 school days: 1" in text
    act, overdue = text.split("Act in the next 5 school days (1)")[1].split("Still open (3)")
    # T12's students together, then T13's: a and c are not split by b
    assert overdue.index("Staff 12 (T12)") < overdue.index(a) < overdue.index(c) < overdue.index("Staff 13 (T13)") \
        < overdue.index(b)
    assert "(overdue, high)" in overdue and f"- {soon} " in act and "(due soon, medium)" in act
    p = Cells()
    p.feed(html)
    assert "Staff 13 (T13)" in p.cells and "overdue · high" in p.cells and "due soon · medium" in p.cells
    assert 'style="' in html and "<style" not in html, "the CSS is inlined for mail clients"


def test_a_long_section_lists_its_most_urgent_and_attaches_every_row_as_csv(district, evaluate, smtp, data_dir):
    import csv
    import io

    ids = []
    for days in (400, 420, 440):   # overdue by 35, 55, 75 days
        s = district.student(school="SCH1")
        district.meeting(s, held=AS_OF - timedelta(days=days), kind="annual")
        ids.append(s)
    evaluate(district)
    send(data_dir, max_rows_per_section=2)
    msg = smtp.messages()[0]
    text, _ = parts(msg)
    assert "Still open (3)" in text and "showing 2 of 3, the most urgent" in text
    assert ids[2] in text and ids[1] in text and ids[0] not in text   # the least overdue is in the CSV only
    files = attachments(msg)
    rows = list(csv.DictReader(io.StringIO(files["iepwatch-2026-11-27-C1.csv"].decode())))
    assert sorted(r["student_id"] for r in rows) == sorted(ids)
    assert {r["status"] for r in rows} == {"overdue"} and all(r["case_manager"] == "Staff 12 (T12)" for r in rows)
    send(data_dir, as_of=AS_OF)   # recorded: all three were emailed, the CSV ones too
    from iepwatch import warehouse
    from iepwatch.district import load_config

    with warehouse.connect(load_config()) as con:
        assert con.execute("SELECT count(*) FROM ops.email_items WHERE recipient = 'C1'").fetchone()[0] == 3


def test_short_digest_has_no_csv_and_the_calendar_holds_the_next_30_days(district, evaluate, smtp, data_dir):
    from icalendar import Calendar

    overdue_student(district, "SCH1")                                   # overdue: not in the calendar
    soon = district.student(school="SCH1")
    district.meeting(soon, held=AS_OF - timedelta(days=340), kind="annual")   # due in 25 days
    later = district.student(school="SCH1")
    district.meeting(later, held=AS_OF - timedelta(days=330), kind="annual")  # due in 35 days: not open yet
    evaluate(district)
    send(data_dir)
    files = attachments(smtp.messages()[0])
    assert list(files) == ["iepwatch-2026-11-27-C1-due.ics"]
    cal = Calendar.from_ical(files["iepwatch-2026-11-27-C1-due.ics"])
    events = cal.walk("VEVENT")
    assert len(events) == 1 and soon in str(events[0]["summary"])
    assert events[0].decoded("dtstart") == AS_OF + timedelta(days=25)
    assert "Ana" not in files["iepwatch-2026-11-27-C1-due.ics"].decode(), "no student names"


def test_the_calendar_is_a_feed_what_to_do_a_stable_name_and_a_resolved_item_cancelled(district, evaluate, smtp,
                                                                                       data_dir):
    """Each event says what to do and by when; its UID stays and its SEQUENCE grows from night to
    night; an item of the last calendar that is no longer open comes back cancelled; the
    calendar's name is the same every night."""
    from icalendar import Calendar

    soon = district.student(school="SCH1")
    district.meeting(soon, held=AS_OF - timedelta(days=340), kind="annual")   # review due in 25 days
    stays = district.student(school="SCH1")
    district.meeting(stays, held=AS_OF - timedelta(days=345), kind="annual")  # due in 20 days
    evaluate(district)
    send(data_dir)
    nxt = AS_OF + timedelta(days=1)
    district.meeting(soon, held=nxt, kind="annual")                           # the review is held
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt)

    def events(as_of):
        msg = next(m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(as_of))
        cal = Calendar.from_ical(attachments(msg)[f"iepwatch-{as_of}-C1-due.ics"])
        return str(cal["x-wr-calname"]), {str(e["summary"]).split(" — student ")[1].split(",")[0]: e
                                          for e in cal.walk("VEVENT")}

    name1, first = events(AS_OF)
    name2, second = events(nxt)
    assert name1 == name2 == "IEP deadlines — Demo Unified School District"
    assert "STATUS" not in first[soon] and str(first[soon]["description"]).startswith(
        f"Hold the annual IEP review meeting by {AS_OF + timedelta(days=25)}.")
    assert str(second[soon]["status"]) == "CANCELLED" and str(second[soon]["summary"]).startswith("Resolved: ")
    assert second[soon]["uid"] == first[soon]["uid"] and second[stays]["uid"] == first[stays]["uid"]
    assert second[soon]["sequence"] == second[stays]["sequence"] == first[stays]["sequence"] + 1
    assert "STATUS" not in second[stays] and second[soon].decoded("dtstart") == AS_OF + timedelta(days=25)


def test_the_email_reads_at_390_px_and_on_a_desktop(district, evaluate, smtp, data_dir, tmp_path, chromium):
    """In headless Chromium: no sideways scrolling at 390 px, every section and the summary
    visible, the NEW badge styled unlike a section heading (checked on the DOM, screenshots kept)."""
    from cdp import browser

    for i in range(6):
        s = overdue_student(district, "SCH1", first="Maximiliano", last=f"Verylongfamilyname{i}")
        district.tables["students"][-1]["case_manager_staff_id"] = "T13" if i % 2 else "T12"
        if i == 0:
            district.meeting(s, held=AS_OF - timedelta(days=40), kind="annual", notice=False)   # a violation
    evaluate(district)
    send(data_dir)
    district.student(school="SCH1")
    overdue_student(district, "SCH1", first="Nuevo", last="Later")
    nxt = AS_OF + timedelta(days=1)
    evaluate(district, as_of=nxt)
    send(data_dir, as_of=nxt)
    html = parts([x for x in smtp.messages() if x["X-IEPWatch-As-Of"] == str(nxt)][0])[1]
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    shots = Path(data_dir) / "screenshots"
    for width in (390, 1200):
        with browser(width=width, height=900) as b:
            b.open(page.as_uri(), settle=0.3)
            assert b.evaluate("document.documentElement.scrollWidth") <= width, f"sideways scrolling at {width} px"
            assert b.evaluate("document.querySelectorAll('h3').length") >= 1
            badge = b.evaluate("[...document.querySelectorAll('span')].filter(s => s.textContent === 'NEW')"
                               ".map(s => getComputedStyle(s).backgroundColor)")
            assert badge, "a NEW badge on the next night's new item"
            headings = b.evaluate("[...document.querySelectorAll('h3')].map(h => [h.textContent, "
                                  "getComputedStyle(h.parentElement).backgroundColor])")
            assert all(bg in ("rgba(0, 0, 0, 0)", "transparent") for _, bg in headings), "sections are not tinted"
            assert all(bg not in ("rgba(0, 0, 0, 0)", "transparent") for bg in badge)
            cells = b.evaluate("[...document.querySelectorAll('td')].map(t => t.getBoundingClientRect().right)")
            assert max(cells) <= width
            b.screenshot(shots / f"email-{width}.png", full_page=True)
    assert (shots / "email-390.png").stat().st_size > 10_000


def test_the_demo_districts_own_digests_read_at_390_px(data_dir, smtp, settings, tmp_path, chromium):
    """Not a small synthetic digest: the demo district's real ones (2,000 students, long details,
    case managers, several schools), each opened in headless Chromium at a phone's 390 px: no
    sideways scrolling, no cell past the edge."""
    from cdp import browser
    from helpers import run_night_in_process

    from tools.demo import generate

    export = tmp_path / "export" / str(AS_OF)
    generate(export, students=2000, as_of=AS_OF)
    settings({})
    run_night_in_process(export, AS_OF, emails=True)
    pages = []
    for i, msg in enumerate(smtp.messages()):
        page = tmp_path / f"digest-{i}.html"
        page.write_text(parts(msg)[1], encoding="utf-8")
        pages.append(page)
    assert len(pages) == 4
    with browser(width=390, height=900) as b:
        for page in pages:
            b.open(page.as_uri(), settle=0.2)
            width = b.evaluate("document.documentElement.scrollWidth")
            right = b.evaluate("Math.max(...[...document.querySelectorAll('td, th')]"
                               ".map(t => t.getBoundingClientRect().right))")
            assert width <= 390 and right <= 390, (page.name, width, right)
        b.screenshot(Path(data_dir) / "screenshots" / "demo-email-390.png", full_page=True)


def test_a_digest_the_journal_cannot_take_fails_the_task_naming_its_coordinator(district, evaluate, smtp, data_dir):
    """The sending thread records each digest the server accepted in the night's journal before the
    next goes; when that write fails (here the night's folder is not a folder), the task fails
    naming the coordinator, with the error as its cause, not counted as a failed send."""
    from iepwatch.district import load_config
    from iepwatch.errors import Unrecorded

    overdue_student(district, "SCH1")
    overdue_student(district, "SCH2")
    evaluate(district)
    night = load_config().run_dir(AS_OF)
    night.rename(night.with_name("moved"))
    night.write_text("not a folder")
    with pytest.raises(Unrecorded, match="coordinator C1 was sent but could not be recorded") as raised:
        send(data_dir)
    assert isinstance(raised.value.__cause__, OSError)
    assert "coord1@example.org" in [m["To"] for m in smtp.messages()]


def test_sends_the_send_log_refuses_stay_in_the_journal_and_a_retry_records_them_without_sending(
        district, evaluate, smtp, data_dir):
    """The journal's digests go to ops.email_sends in one transaction when the stage ends. When the
    warehouse refuses them (a CHECK constraint here), the task fails saying so and the journal
    keeps them; the next try adds them first and sends nothing again."""
    import duckdb

    from iepwatch import warehouse
    from iepwatch.digests.journal import Journal
    from iepwatch.district import load_config
    from iepwatch.errors import Unrecorded

    overdue_student(district, "SCH1")
    overdue_student(district, "SCH2")
    evaluate(district)
    with warehouse.connect(load_config()) as con:
        con.execute("""CREATE OR REPLACE TABLE ops.email_sends (as_of DATE, staff_id VARCHAR, digest VARCHAR,
                       message_id VARCHAR, PRIMARY KEY (as_of, staff_id), CHECK (staff_id <> 'C2'))""")
    with pytest.raises(Unrecorded, match=r"2 digest\(s\) sent for 2026-11-27 could not be added") as raised:
        send(data_dir)
    assert isinstance(raised.value.__cause__, duckdb.ConstraintException)
    assert sorted(m["To"] for m in smtp.messages()) == ["coord1@example.org", "coord2@example.org"]
    journal = load_config().run_dir(AS_OF) / Journal.NAME
    assert [r[0] for r in Journal(journal).read()] == ["C1", "C2"]
    with warehouse.connect(load_config()) as con:
        assert con.execute("SELECT count(*) FROM ops.email_sends").fetchone() == (0,)   # all or nothing
        con.execute("ALTER TABLE ops.email_sends RENAME TO email_sends_refusing")
    summary = send(data_dir)
    assert summary["sent"] == [] and summary["already_sent"] == ["C1", "C2"]
    assert len(smtp.messages()) == 2 and not journal.exists()
    with warehouse.connect(load_config()) as con:
        ids = {m["To"]: m["Message-ID"] for m in smtp.messages()}
        assert con.execute("SELECT staff_id, message_id FROM ops.email_sends ORDER BY 1").fetchall() == [
            ("C1", ids["coord1@example.org"]), ("C2", ids["coord2@example.org"])]
        assert con.execute("SELECT count(*) FROM ops.email_items").fetchone() == (2,)


def test_a_journal_line_cut_short_by_a_crash_is_not_a_record(tmp_path):
    """A task killed while writing a line leaves it without its newline: that digest was not
    recorded (its retry sends it), and every whole line before it was."""
    from iepwatch.digests.journal import Journal

    j = Journal(tmp_path / "runs" / Journal.NAME)
    assert j.read() == []
    j.append("C1", "ab" * 32, "<m1@x>")
    j.append("C2", "cd" * 32, "<m2@x>")
    j.close()
    with j.path.open("ab") as f:
        f.write(b'["C3", "ef')
    assert j.read() == [("C1", "ab" * 32, "<m1@x>"), ("C2", "cd" * 32, "<m2@x>")]


def test_a_night_of_many_digests_renders_in_a_worker_and_each_goes_to_its_own(evaluate, smtp, data_dir):
    """More digests than Renderer.INLINE_BELOW: rendered in the worker process, sent in order, each
    coordinator's only their school's student, every send recorded once."""
    from builder import Export

    from iepwatch import warehouse
    from iepwatch.digests.renderer import Renderer
    from iepwatch.district import load_config

    n = Renderer.INLINE_BELOW + 5
    ex = Export.district(schools=n)
    students = {}
    for i in range(1, n + 1):
        students[f"C{i}"] = overdue_student(ex, f"SCH{i}")
        ex.tables["students"][-1]["case_manager_staff_id"] = f"T{i}2"   # the builder's default keys on one digit
    second = overdue_student(ex, f"SCH{n}")   # the last digest is long: it has the CSV (made by the task)
    ex.tables["students"][-1]["case_manager_staff_id"] = f"T{n}2"
    evaluate(ex)
    summary = send(data_dir, max_rows_per_section=1)
    assert len(summary["sent"]) == n and summary["sent"] == sorted(summary["sent"])
    messages = {m["To"]: m for m in smtp.messages()}
    assert len(messages) == n
    for coord, student in students.items():
        msg = messages[f"coord{coord[1:]}@example.org"]
        text = parts(msg)[0]
        assert student in text and not any(s in text for c, s in students.items() if c != coord)
        csv = attachments(msg).get(f"iepwatch-2026-11-27-{coord}.csv")
        if coord == f"C{n}":
            assert csv and student.encode() in csv and second.encode() in csv
        else:
            assert csv is None
    with warehouse.connect(load_config()) as con:
        assert con.execute("SELECT count(*), count(DISTINCT staff_id) FROM ops.email_sends").fetchone() == (n, n)


@pytest.mark.parametrize(("name", "value"), [
    ("To", "coord1@example.org"), ("Subject", "IEP deadlines: 3 overdue at Lincoln Elementary"),
    ("Subject", "IEP deadlines — 3 overdue at École Saint-Jean"), ("Subject", "IEP deadlines " + "x" * 120),
    ("From", "IEP Watch <iepwatch@example.org>"), ("Message-ID", "<iepwatch.2026-11-27.C1.0123abcd@example.org>")])
def test_a_header_is_written_as_the_email_package_writes_it(name, value):
    """The short ASCII headers written directly are the email package's bytes; the rest is its own."""
    from email.message import EmailMessage
    from email.policy import SMTP

    from iepwatch.digests.message import _header

    msg = EmailMessage(policy=SMTP)
    msg[name] = value
    assert _header(name, value) == SMTP.fold_binary(name, msg[name])


@pytest.mark.parametrize("value", ["IEP deadlines\r\nBcc: someone@example.net", "IEP\ndeadlines"])
def test_a_header_with_a_line_break_is_refused(value):
    from iepwatch.digests.message import _header

    with pytest.raises(ValueError):
        _header("Subject", value)


@pytest.mark.parametrize("raw", [b"a\r\n.b\r\n", b".first\r\n..two\r\n", b"x\n.y\r.z\r\n.", b"no period\r\n",
                                 b"\r\n.\r\n", b"."])
def test_a_period_starting_a_line_is_doubled_as_smtplib_doubles_it(raw):
    import smtplib

    from iepwatch.digests.mailer import stuff

    assert stuff(raw) == smtplib._quote_periods(raw)


def test_lines_starting_with_a_period_arrive_as_they_were_built(smtp):
    """The message the server receives is the one built, byte for byte, whatever its periods."""
    from datetime import date

    from iepwatch.digests.digest import Digest
    from iepwatch.digests.mailer import Mailer

    d = Digest("C1", ["coord1@example.org"], "Coordinator", date(2026, 11, 27), [], 0, "District")
    content = {"subject": "IEP test", "text": ".\n..two\n.three\nend", "html": "<p>\n.</p>", "sha256": "cd" * 32,
               "attachments": []}
    with Mailer("smtp_default", None) as mailer:
        for _ in range(2):   # twice on one connection: the DATA of the first ended where it should
            mailer.send(d, content)
    got = sorted(smtp.outbox.glob("*.eml"))
    assert len(got) == 1   # both sends carry the same Message-ID: the catcher keeps one file
    text, html = parts(smtp.messages()[0])
    assert text == ".\r\n..two\r\n.three\r\nend" and html == "<p>\r\n.</p>"
    assert smtp.catcher.received == 2


def _icalendar_event(as_of, due_date, rule_id, student_id, meeting_key, rule, school, action="",
                     cancelled=False) -> bytes:
    """The event as the icalendar library writes it (what digest._event must write)."""
    import hashlib
    from datetime import UTC, datetime, time

    from icalendar import Event

    from iepwatch.digests.digest import CALENDAR_EPOCH, plain

    e = Event()
    e.add("uid", hashlib.sha256("\x00".join((rule_id, student_id, meeting_key)).encode()).hexdigest()[:32]
          + "@iepwatch")
    e.add("dtstamp", datetime.combine(as_of, time(), UTC))
    e.add("dtstart", due_date)
    e.add("summary", f"{'Resolved' if cancelled else 'IEP due'}: {rule} — student {student_id}, {plain(school, 80)}")
    e.add("sequence", (as_of - CALENDAR_EPOCH).days)
    todo = "no longer open: nothing to do" if cancelled else f"{action or rule} by {due_date.isoformat()}"
    e.add("description", f"{todo}. Student {student_id}, {plain(school, 80)}; as of {as_of.isoformat()} (iepwatch).")
    if cancelled:
        e.add("status", "CANCELLED")
    return e.to_ical()


def test_a_calendar_event_is_written_as_icalendar_writes_it():
    """Folds at every position (backslash and caret escapes, 2-, 3- and 4-byte characters at the
    cut), TEXT escapes, newlines, years before 1000: the same bytes as the library."""
    import random
    from datetime import date

    from iepwatch.digests.digest import _event

    rng = random.Random(12)
    alphabet = ["a", "Z", " ", "\\", "^", ",", ";", "é", "—", "😀", "\n", "\r", "N", ":", '"']
    cases = [(date(2026, 11, 27), date(2026, 12, 3), "IEP_ANNUAL_REVIEW", "S1", "", "IEP reviewed", "Lincoln"),
             (date(999, 1, 2), date(1000, 3, 4), "R", "S\\N2", "M1", "x" * 200, "École — Élémentaire")]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 160)))
        cut = rng.randrange(0, len(text) + 1)
        cases.append((date(2026, 11, 27), date(2027, 1, 15), "TEAM_PARENT", f"S{rng.randrange(10**6)}", "M9",
                      text[:cut], text[cut:]))
    for i, case in enumerate(cases):
        as_of, due, rule_id, student, meeting, rule, school = case
        action, cancelled = (rule[:20], i % 3 == 1) if i % 2 else ("", i % 3 == 0)
        assert _event(as_of, due, rule_id, student, meeting, "due_soon", rule, school, action, cancelled=cancelled) == \
            _icalendar_event(as_of, due, rule_id, student, meeting, rule, school, action, cancelled), case


def test_a_digest_on_its_way_when_the_night_fails_is_still_recorded_sent(evaluate, smtp, data_dir, monkeypatch):
    """The second digest cannot be rendered while the first is being sent: the task fails, the
    first (which the server took) is recorded, and the retry sends only the other two."""
    from builder import Export

    from iepwatch.digests import digest as digests

    ex = Export.district(schools=3)
    for school in ("SCH1", "SCH2", "SCH3"):
        overdue_student(ex, school)
    evaluate(ex)
    render = digests.render

    def failing(d, cfg):
        if d.recipient == "C2":
            raise RuntimeError("template error")
        return render(d, cfg)

    monkeypatch.setattr(digests, "render", failing)
    with pytest.raises(RuntimeError, match="template error"):
        send(data_dir)
    assert [m["To"] for m in smtp.messages()] == ["coord1@example.org"]
    monkeypatch.setattr(digests, "render", render)
    summary = send(data_dir)
    assert summary["already_sent"] == ["C1"] and summary["sent"] == ["C2", "C3"]
    assert len(smtp.messages()) == 3
