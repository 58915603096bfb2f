"""Run alerts to the data team (config section ``alerts``), over the SMTP connection of the digests.

- every failed task: the SMTP provider's ``SmtpNotifier`` as ``on_failure_callback``
  (``RunAlertNotifier``: a missing connection or a mail server fault is one warning line,
  so the task's own reason stays the first thing its log says);
- a nightly run still unfinished at ``alerts.deadline_local_time``: an Airflow 3
  ``DeadlineAlert`` on the run's logical date, whose callback is the same notifier;
- a night that succeeded with findings for the data team (its warnings: calendar gaps, an export
  delivered twice, ...): one notice a night, through the SMTP provider's hook (``notify_warnings``).

Messages name the DAG, task, run and log link; never a student.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from iepwatch import run_record
from iepwatch.config import Config

log = logging.getLogger(__name__)

FAILURE_SUBJECT = "[iepwatch] {district}, night of {as_of}: {dag_id}.{task_id} failed ({error})"
FAILURE_TEXT = """The night of {as_of} ({district}) stopped: task {task_id} of {dag_id} failed (try {try_number}).

Why: {reason}

Its log (the first ERROR line says the same, a DATA ERROR names the file, column and lines):
{log_url}

Run {run_id}, logical date {logical_date} ({timezone}).
"""
ERROR_KINDS = ("DATA ERROR", "CONFIG ERROR", "HOST ERROR")   # what tasks.fail_fast says first
DEADLINE_SUBJECT = "[iepwatch] iep_nightly has not finished by {deadline} ({district})"
DEADLINE_BODY = """<p>The nightly IEP compliance run {{{{ dag_run.run_id if dag_run else '' }}}} has not finished
by {deadline} ({timezone}). Coordinators' emails and state extracts wait for it.</p>"""


def default_args(cfg: Config) -> dict:
    """Task defaults of every iepwatch DAG: owner, the warehouse pool, retries with backoff, alerts."""
    return {
        "owner": cfg.district.owner,
        "pool": cfg.district.pool,  # one slot: DuckDB takes one writing process per file
        "retries": 2,      # for transient faults; bad data fails at once (AirflowFailException)
        "retry_delay": timedelta(seconds=cfg.district.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": failure_notifier(cfg),
        "email_on_failure": False,  # the notifier sends through the SMTP connection instead
        "email_on_retry": False,
    }


def _plain(value: object, most: int = 300) -> str:
    """A value for a header or a line: its first line, control characters out, cut to ``most``."""
    line = (str(value).strip().splitlines() or [""])[0]
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= most else line[: most - 1] + "…"


def _night_and_reason(context, timezone: str) -> tuple[str, str, str]:
    """The failed run's night (its as-of date, or its ``as_of`` param), the error's first line, its kind."""
    from iepwatch.night import as_of_date

    run = context.get("dag_run")
    logical = getattr(run, "logical_date", None)
    as_of = (context.get("params") or {}).get("as_of") or (as_of_date(logical, timezone).isoformat()
                                                             if logical else "unknown")
    error = context.get("exception")
    reason = _plain(error) if error is not None else "no error was handed to the alert: see the log"
    kind = next((k for k in ERROR_KINDS if reason.startswith(k)), type(error).__name__ if error else "unknown")
    return str(as_of), reason, kind


def _task(ti) -> str:
    """The failed task instance's name: its task id, and a mapped instance's index (build_extract[1])."""
    index = getattr(ti, "map_index", -1)
    return getattr(ti, "task_id", "?") + (f"[{index}]" if isinstance(index, int) and index >= 0 else "")


def record_failure(context, data_dir, timezone: str) -> None:
    """The failed task and the first line of its error in the night's run record (``failures.json``),
    for run health on the page: what failed and why, without opening the log."""
    from iepwatch.files import write_json
    from iepwatch.night import is_as_of

    as_of, reason, _ = _night_and_reason(context, timezone)
    if not is_as_of(as_of):
        return
    path = run_record.folder(Path(data_dir), as_of) / run_record.FAILURES
    failures = json.loads(path.read_text()) if path.exists() else {}
    ti = context.get("ti")
    failures[_task(ti)] = {"dag_id": getattr(context.get("dag"), "dag_id", "?"), "error": reason,
                                             "try_number": getattr(ti, "try_number", None)}
    write_json(path, failures)


def failure_message(context, district: str, timezone: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a failed task's alert: the district, the night (the run's
    as-of date, or its ``as_of`` param), the task, the error's kind and its first line, the log."""
    import html

    ti, run = context.get("ti"), context.get("dag_run")
    logical = getattr(run, "logical_date", None)
    as_of, reason, kind = _night_and_reason(context, timezone)
    values = {"district": _plain(district, 80), "as_of": as_of, "dag_id": getattr(context.get("dag"), "dag_id", "?"),
              "task_id": _task(ti), "try_number": getattr(ti, "try_number", "?"),
              "error": kind, "reason": reason, "log_url": getattr(ti, "log_url", "") or "(no link)",
              "run_id": getattr(run, "run_id", "?"), "timezone": timezone,
              "logical_date": logical.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if logical else "none"}
    subject = _plain(FAILURE_SUBJECT.format(**values), 200)
    text = FAILURE_TEXT.format(**values)
    body = html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>")
    link = html.escape(values["log_url"])
    body = body.replace(link, f'<a href="{link}">{link}</a>', 1) if values["log_url"] != "(no link)" else body
    return subject, text, f"<html><body><p>{body}</p></body></html>"


class RunAlertNotifier(SmtpNotifier):
    """The provider's notifier with a message of our own (the night, the reason, a plain-text part
    beside the HTML), quiet about its own faults: they must not bury the task's reason."""

    def __init__(self, *, district: str = "", timezone: str = "UTC", data_dir: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.district, self.timezone, self.data_dir = district, timezone, data_dir

    def notify(self, context) -> None:
        from email.message import EmailMessage

        from airflow.providers.smtp.hooks.smtp import SmtpHook

        if self.data_dir:
            try:
                record_failure(context, self.data_dir, self.timezone)
            except Exception as e:  # noqa: BLE001 - the record must never replace the failure it reports
                log.warning("the failure could not be added to the night's run record: %s", type(e).__name__)
        try:
            SmtpHook.get_connection(self.smtp_conn_id)
        except Exception:  # noqa: BLE001 - not found, whatever the Airflow version calls it
            log.warning("run alert to the data team not sent: the SMTP connection '%s' is not defined",
                        self.smtp_conn_id)
            return
        try:
            subject, text, html_body = failure_message(context, self.district, self.timezone)
            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as hook:
                msg = EmailMessage()
                msg["Subject"], msg["To"] = subject, self.to
                msg["From"] = hook.from_email or self.from_email
                msg.set_content(text)
                msg.add_alternative(html_body, subtype="html")
                # the hook's send_email_smtp writes HTML only: the message goes through the client it opened
                hook._smtp_client.send_message(msg)
        except Exception as e:  # noqa: BLE001 - an alert must never replace the failure it reports
            log.warning("run alert to the data team not sent: %s", type(e).__name__)


class DeadlineNotifier(SmtpNotifier):
    """The deadline alert's notifier (run by the triggerer): a night not finished by the morning is
    news for a scheduled run only. A manual run or a backfill of a past night starts after its
    deadline, so it would alert at once; it is logged and skipped (the run's own failure alerts
    still apply)."""

    def __init__(self, *, fallback_from: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fallback_from = fallback_from

    def _build_email_content(self, smtp, context) -> None:
        """From: the connection's sender, else the configured one, as every other mail of ours."""
        if self.from_email is None and smtp.from_email is None:
            self.from_email = self.fallback_from
        super()._build_email_content(smtp, context)

    async def async_notify(self, context) -> None:
        run = (context or {}).get("dag_run") or {}
        run_type = run.get("run_type") if isinstance(run, dict) else getattr(run, "run_type", None)
        if run_type is not None and str(getattr(run_type, "value", run_type)) != "scheduled":
            log.info("deadline alert not sent: run %s is a %s run, not a scheduled night",
                     run.get("run_id") if isinstance(run, dict) else getattr(run, "run_id", "?"), run_type)
            return
        await super().async_notify(context)


def failure_notifier(cfg: Config) -> RunAlertNotifier:
    return RunAlertNotifier(to=cfg.alerts.data_team_address, smtp_conn_id=cfg.email.smtp_conn_id,
                            from_email=cfg.email.from_address, district=cfg.district.name,
                            timezone=cfg.district.timezone, data_dir=str(cfg.data_dir))


def deadline_interval(schedule: str, deadline_local_time: str) -> timedelta:
    """Time from the nightly's scheduled fire time (``M H * * *``) to the deadline, same or next day."""
    minute, hour = (int(x) for x in schedule.split()[:2])
    h, m = (int(x) for x in deadline_local_time.split(":"))
    delta = timedelta(hours=h, minutes=m) - timedelta(hours=hour, minutes=minute)
    return delta if delta > timedelta(0) else delta + timedelta(days=1)


def deadline_alert(cfg: Config):
    """The nightly's DeadlineAlert, or None when IEPWATCH_DISABLE_DEADLINE=1.

    Airflow 3.3.2's ``dag.test()`` (``airflow dags test``) fails at the end of a run of a DAG with
    a DeadlineAlert: ``DagRun.update_state`` looks each alert up by id but gets its serialized
    dict. Scheduled runs are not affected. ``make nightly`` and the tests that call
    ``dag.test()`` set the variable; the ``airflow standalone`` test runs with the alert.
    """
    import os

    if os.environ.get("IEPWATCH_DISABLE_DEADLINE") == "1":
        return None
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    deadline = cfg.alerts.deadline_local_time
    fmt = {"deadline": deadline, "district": cfg.district.name, "timezone": cfg.district.timezone}
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=deadline_interval(cfg.district.schedule, deadline),
        callback=AsyncCallback(DeadlineNotifier, kwargs={
            "to": cfg.alerts.data_team_address, "smtp_conn_id": cfg.email.smtp_conn_id,
            "fallback_from": cfg.email.from_address,
            "subject": DEADLINE_SUBJECT.format(**fmt), "html_content": DEADLINE_BODY.format(**fmt)}),
        name="nightly not finished by the morning",
    )


WARNINGS_SUBJECT = "[iepwatch] {district}: {n} warning{s} for the night of {as_of}"


def notify_warnings(cfg: Config, as_of, warnings: list[str]) -> bool:
    """The night's warnings to the data team, once a night (a marker in the run's folder); a mail
    fault is logged, never raised: the night's own work is done. Returns whether it was sent."""
    import html

    marker = cfg.run_dir(as_of) / run_record.WARNINGS_NOTIFIED
    if not warnings or marker.exists():
        return False
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    subject = WARNINGS_SUBJECT.format(district=cfg.district.name, n=len(warnings), s="s" if len(warnings) > 1 else "",
                                      as_of=as_of)
    body = (f"<p>The night of {as_of} finished; it has findings for the data team (no student is named "
            f"here):</p><ul>{items}</ul><p>They are also on the iepwatch page (run health).</p>")
    if not mail_data_team(cfg, subject, body):
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(subject + "\n")
    return True


REPUBLISHED_SUBJECT = "[iepwatch] {district}: the night of {as_of} was published again from a replaced export"


def notify_republished(cfg: Config, as_of, old_export: str, new_export: str, digests: int) -> bool:
    """A night published again from another export after its digests went out: the data team is
    told at once (the coordinators' digests of that night are not sent twice)."""
    subject = REPUBLISHED_SUBJECT.format(district=cfg.district.name, as_of=as_of)
    body = (f"<p>The night of {as_of} was published again from a replaced export ({new_export}; it was "
            f"{old_export}) after its {digests} coordinator digest{'s' if digests != 1 else ''} had gone out. "
            "They are not sent again: each coordinator's next digest reports from the replaced data. The "
            "night's exceptions.csv and the iepwatch page show the replaced night now; the extracts follow it."
            "</p>")
    return mail_data_team(cfg, subject, body)


def mail_data_team(cfg: Config, subject: str, html_body: str) -> bool:
    """One notice to the data team through the SMTP provider's hook; a mail fault is logged, never
    raised (a notice must never fail the night it reports on). Returns whether it was sent."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    try:
        with SmtpHook(smtp_conn_id=cfg.email.smtp_conn_id) as hook:
            hook.send_email_smtp(to=cfg.alerts.data_team_address, subject=subject, html_content=html_body,
                                 from_email=hook.from_email or cfg.email.from_address)
    except Exception as e:  # noqa: BLE001 - a notice must never fail the night it reports on
        log.warning("notice to the data team not sent: %s", type(e).__name__)
        return False
    return True
