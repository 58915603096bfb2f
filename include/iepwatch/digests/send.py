"""Send each recipient's digest once per night over the Airflow SMTP connection.

Every successful send is recorded in ``ops.email_sends`` before the next one starts, so
a retried or re-run task sends only what is missing. Logs name staff ids, never
addresses or students.
"""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate

from iepwatch.config import Config, ConfigError
from iepwatch.digests import digest as digests

log = logging.getLogger(__name__)


class SendError(RuntimeError):
    """Some digests could not be sent (a transient fault: the task is retried)."""


def build_message(d: digests.Digest, content: dict[str, str], from_email: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = content["subject"]
    if from_email:
        msg["From"] = from_email
    msg["To"] = ", ".join(d.to)
    domain = (from_email or "iepwatch.local").rsplit("@", 1)[-1].strip("> ")
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", d.recipient)
    msg["Message-ID"] = f"<iepwatch.{d.as_of}.{safe}.{content['sha256'][:16]}@{domain}>"
    msg["Date"] = formatdate(usegmt=True)
    msg["X-IEPWatch-As-Of"] = d.as_of.isoformat()
    msg.set_content(content["text"])
    msg.add_alternative(content["html"], subtype="html")
    return msg


def smtp_send(conn_id: str, d: digests.Digest, content: dict[str, str], fallback_from: str | None) -> str:
    """Send through the SMTP provider's hook (connection, TLS/SSL, auth from the Airflow connection).

    The hook's own ``send_email_smtp`` builds an HTML-only message; the digest is
    multipart text + HTML, so it is sent through the client the hook opened.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        msg = build_message(d, content, hook.from_email or fallback_from)
        # explicit envelope: exactly the digest's recipients, never what a header might be made to say
        hook._smtp_client.send_message(msg, from_addr=msg["From"], to_addrs=list(d.to))
    return msg["Message-ID"]


def check_connection(conn_id: str) -> None:
    """A missing SMTP connection is a configuration error (fails at once), not a transient fault."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = SmtpHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigError(
            f"the SMTP connection '{conn_id}' (email.smtp_conn_id) is not defined: set it with "
            f"AIRFLOW_CONN_{conn_id.upper()}='smtp://HOST:PORT' or `airflow connections add {conn_id} "
            "--conn-type smtp --conn-host HOST --conn-port PORT`") from None
    if not conn.host:
        raise ConfigError(f"the SMTP connection '{conn_id}' (email.smtp_conn_id) has no host")


def send_all(con, cfg: Config, as_of: date) -> dict:
    """Send every digest not yet sent for ``as_of``; raise SendError naming failed staff ids at the end."""
    check_connection(cfg.email.smtp_conn_id)
    digests.ensure_send_log(con)
    already = {r[0] for r in con.execute("SELECT staff_id FROM ops.email_sends WHERE as_of = ?", [as_of]).fetchall()}
    summary: dict[str, list[str]] = {"sent": [], "already_sent": [], "nothing_to_report": [], "failed": []}
    for d in digests.build(con, cfg, as_of):
        if d.recipient in already:
            summary["already_sent"].append(d.recipient)
            continue
        if not d.actionable and not cfg.email.send_empty_digest:
            summary["nothing_to_report"].append(d.recipient)
            continue
        if d.recipient == digests.FALLBACK:
            log.warning("DATA PROBLEM: schools with exceptions but no coordinator: %s (sent to the fallback address)",
                        ", ".join(s.school_id for s in d.schools))
        if not d.to:
            log.error("coordinator %s has no email address; digest not sent", d.recipient)
            summary["failed"].append(d.recipient)
            continue
        content = digests.render(d, cfg)
        try:
            message_id = smtp_send(cfg.email.smtp_conn_id, d, content, cfg.email.from_address)
        except smtplib.SMTPAuthenticationError:
            raise ConfigError(f"the SMTP server refused the login of connection '{cfg.email.smtp_conn_id}' "
                              "(email.smtp_conn_id): check its login and password") from None
        except Exception as e:  # noqa: BLE001 - every recipient is attempted; the failure is raised below
            reason = re.sub(r"[^\s<>@,;:'\"]+@[^\s<>,;:'\"]+", "<address>", str(e))[:200]
            log.error("sending to coordinator %s failed: %s: %s", d.recipient, type(e).__name__, reason)
            summary["failed"].append(d.recipient)
            continue
        digests.record_sent(con, d, content["sha256"], message_id)
        summary["sent"].append(d.recipient)
        log.info("sent the %s digest to coordinator %s", as_of, d.recipient)
    if summary["failed"]:
        raise SendError(f"{len(summary['failed'])} digest(s) not sent, to staff id(s) "
                        f"{', '.join(summary['failed'])}; {len(summary['sent'])} sent; a retry sends only the missing")
    return summary
