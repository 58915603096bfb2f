"""The data team's failure alert says which night failed and why, in text and HTML (its sending
through a real SMTP server in a failed night: tests/ingest/test_ingest.py::test_missing_file)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from iepwatch.alerts import failure_message
from iepwatch.night import logical_date


def context(error, as_of="2026-11-28", params=None):
    run = SimpleNamespace(logical_date=logical_date(__import__("datetime").date.fromisoformat(as_of),
                                                    "America/Los_Angeles"),
                          run_id="manual__2026-11-28T20:00:00+00:00")
    ti = SimpleNamespace(task_id="load_staging", try_number=1, log_url="http://127.0.0.1:8080/log?x=<1>")
    return {"ti": ti, "dag_run": run, "dag": SimpleNamespace(dag_id="iep_nightly"), "exception": error,
            "params": params or {}}


def test_the_subject_names_the_district_the_night_the_task_and_the_kind_of_error():
    error = AirflowFailException("DATA ERROR: ieps.csv: the file is missing\nTraceback (most recent call last):")
    subject, text, html = failure_message(context(error), "Demo Unified", "America/Los_Angeles")
    assert subject == "[iepwatch] Demo Unified, night of 2026-11-28: iep_nightly.load_staging failed (DATA ERROR)"
    assert "Why: DATA ERROR: ieps.csv: the file is missing\n" in text and "Traceback" not in text
    assert "http://127.0.0.1:8080/log?x=<1>" in text and "logical date 2026-11-28 12:00 (America/Los_Angeles)" in text
    assert '<a href="http://127.0.0.1:8080/log?x=&lt;1&gt;">' in html and "<1>" not in html


def test_another_error_is_named_by_its_class_and_a_night_by_its_param():
    subject, text, _ = failure_message(context(ConnectionRefusedError(111, "Connection refused"),
                                               params={"as_of": "2026-11-20"}), "Demo Unified", "UTC")
    assert subject.endswith("night of 2026-11-20: iep_nightly.load_staging failed (ConnectionRefusedError)")


def test_a_value_reaching_the_subject_is_one_printable_line():
    subject, _, _ = failure_message(context(RuntimeError("x")), "North\r\nBcc: someone@example.org", "UTC")
    assert "\n" not in subject and "\r" not in subject and "Bcc" not in subject


def test_a_failure_is_recorded_in_the_nights_run_record_for_run_health(tmp_path):
    import json

    from iepwatch.alerts import record_failure

    error = AirflowFailException("DATA ERROR: ieps.csv: the file is missing")
    record_failure(context(error), tmp_path, "America/Los_Angeles")
    path = tmp_path / "runs" / "2026-11-28" / "failures.json"
    assert json.loads(path.read_text()) == {"load_staging": {
        "dag_id": "iep_nightly", "error": "DATA ERROR: ieps.csv: the file is missing", "try_number": 1}}


def test_one_notifier_sends_each_failure_of_a_run_under_its_own_task_and_log(smtp, tmp_path):
    """The DAG's one notifier instance, called for three failures of one state_reporting run (two
    instances of a mapped task, then another task): three alerts, each naming its own task (and
    index) and its own log, never the first one's."""
    from airflow.sdk import DAG

    from iepwatch.alerts import RunAlertNotifier

    notifier = RunAlertNotifier(to="data-team@example.org", smtp_conn_id="smtp_default", from_email="a@example.org",
                                district="Demo Unified", timezone="America/Los_Angeles", data_dir=str(tmp_path))
    failures = (("build_extract", 1), ("build_extract", 0), ("publish_extracts", -1))
    for task_id, index in failures:
        c = context(AirflowFailException(f"DATA ERROR: {task_id} {index}"), params={"as_of": "2026-11-28"})
        c["ti"] = SimpleNamespace(task_id=task_id, map_index=index, try_number=1,
                                  log_url=f"http://127.0.0.1:8080/log/{task_id}/{index}")
        c["dag"] = DAG(dag_id="state_reporting", schedule=None)
        notifier(c)
    sent = smtp.messages()
    assert [m["Subject"].split(": ", 1)[1] for m in sent] == [
        "state_reporting.build_extract[1] failed (DATA ERROR)", "state_reporting.build_extract[0] failed (DATA ERROR)",
        "state_reporting.publish_extracts failed (DATA ERROR)"]
    for m, (task_id, index) in zip(sent, failures, strict=True):
        text = m.get_body(("plain",)).get_content()
        assert f"http://127.0.0.1:8080/log/{task_id}/{index}" in text and f"DATA ERROR: {task_id} {index}" in text


@pytest.mark.parametrize("connection_sender", [True, False])
def test_every_alert_comes_from_the_digests_sender(smtp, monkeypatch, settings, connection_sender):
    """The failure alert and the deadline alert, as the DAG builds them, are sent From the address
    the digests use: the SMTP connection's from_email, else ``email.from_address`` (the deadline
    alert once used the second even when the connection set the first)."""
    import asyncio

    from airflow.sdk import DAG

    from iepwatch.alerts import DeadlineNotifier, deadline_alert, failure_notifier
    from iepwatch.district import load_config
    from tools.mailcatcher import connection_uri

    settings({"email": {"from_address": "alerts@district.example"}})
    if not connection_sender:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                           connection_uri(smtp.port).replace("&from_email=iepwatch%40example.org", ""))
    monkeypatch.setenv("IEPWATCH_DISABLE_DEADLINE", "0")
    cfg = load_config()
    failure_notifier(cfg)({**context(AirflowFailException("DATA ERROR: x")),
                           "dag": DAG(dag_id="iep_nightly", schedule=None),
                           "ti": SimpleNamespace(task_id="load_staging", map_index=-1, try_number=1, log_url="")})
    deadline = DeadlineNotifier(**deadline_alert(cfg).callback.kwargs)
    asyncio.run(deadline.async_notify({"dag_run": {"run_type": "scheduled", "run_id": "scheduled__x"}}))
    expected = "iepwatch@example.org" if connection_sender else "alerts@district.example"
    assert [m["From"] for m in smtp.messages()] == [expected, expected]
