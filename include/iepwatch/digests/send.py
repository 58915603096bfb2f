"""Send each recipient's digest once per night over the Airflow SMTP connection.

Every successful send is recorded as soon as the server accepted it, on the sending thread
before the next digest goes (in the night's send journal, added to ``ops.email_sends`` when the
stage ends), so a retried or re-run task sends only what is missing. The parts: ``message``
(the bytes), ``mailer`` (SMTP and the sending thread), ``renderer`` (the worker process),
``journal``; this module puts them together. Logs name staff ids, never addresses or students.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import ssl
from datetime import date

from iepwatch import run_record
from iepwatch.config import Config
from iepwatch.digests import digest as digests
from iepwatch.digests.journal import Journal
from iepwatch.digests.mailer import Courier, Mailer, check_connection
from iepwatch.digests.renderer import Renderer
from iepwatch.errors import ConfigError, SendError, Unrecorded
from iepwatch.files import write_json

log = logging.getLogger(__name__)


def write_report(path, as_of: date, summary: dict[str, list[str]]) -> None:
    """The night's sending, for the data team's page: counts per outcome and the staff ids that
    failed (no addresses, no students), written atomically even when the task then fails."""
    write_json(path, {"as_of": as_of.isoformat(), **{k: len(v) for k, v in summary.items()},
                      "failed_ids": summary["failed"]})


def send_all(con, cfg: Config, as_of: date) -> dict:
    """Send every digest not yet sent for ``as_of``; raise SendError naming failed staff ids at the end."""
    check_connection(cfg.email.smtp_conn_id)
    digests.ensure_send_log(con)
    journal = Journal(cfg.run_dir(as_of) / Journal.NAME)
    if recovered := journal.fold(con, as_of):   # a try that died before its end
        log.warning("%d digest(s) sent by an earlier try of %s recorded from its journal", recovered, as_of)
    already = {r[0] for r in con.execute("SELECT staff_id FROM ops.email_sends WHERE as_of = ?", [as_of]).fetchall()}
    summary: dict[str, list[str]] = {"sent": [], "already_sent": [], "nothing_to_report": [], "failed": []}
    try:
        _send(con, cfg, as_of, journal, already, summary)
    except BaseException:   # what the server took is recorded all the same, if the warehouse can
        with contextlib.suppress(Exception):
            journal.fold(con, as_of)
        raise
    journal.fold(con, as_of)
    write_report(cfg.run_dir(as_of) / run_record.EMAILS, as_of, summary)
    if summary["failed"]:
        failed = summary["failed"]
        named = ", ".join(failed[:20]) + (f" and {len(failed) - 20} more" if len(failed) > 20 else "")
        raise SendError(f"{len(failed)} digest(s) not sent, to staff id(s) {named}; {len(summary['sent'])} sent; "
                        "a retry sends only the missing")
    return summary


def _send(con, cfg: Config, as_of: date, journal: Journal, already: set[str], summary: dict[str, list[str]]) -> None:
    """Every digest of ``digests.build`` that is due, rendered, sent and journaled in order."""
    with Mailer(cfg.email.smtp_conn_id, cfg.email.from_address) as mailer, Renderer(cfg) as renderer, \
            Courier(mailer, lambda d, content, message_id: journal.append(
                d.recipient, content["sha256"], message_id)) as courier:
        def settle(d: digests.Digest, content: dict, sending) -> None:
            try:
                sending.result()
            except Unrecorded:   # not a failed send: the task fails, naming the coordinator
                raise
            except smtplib.SMTPAuthenticationError:
                raise ConfigError(f"the SMTP server refused the login of connection '{cfg.email.smtp_conn_id}' "
                                  "(email.smtp_conn_id): check its login and password") from None
            except ssl.SSLError as e:   # the connection's SSL/TLS does not match the server's: retrying cannot help
                raise ConfigError(f"the SMTP connection '{cfg.email.smtp_conn_id}' (email.smtp_conn_id) and its "
                                  f"server disagree on SSL/TLS ({e.reason or type(e).__name__}): set disable_ssl / "
                                  "disable_tls in the connection as the server expects (a server without TLS: "
                                  "?disable_ssl=true&disable_tls=true)") from None
            except socket.gaierror as e:   # the host name is not known
                raise ConfigError(f"the SMTP server host of connection '{cfg.email.smtp_conn_id}' (email.smtp_conn_id) "
                                  f"is not known: {e.strerror}") from None
            except Exception as e:  # noqa: BLE001 - every recipient is attempted; the failure is raised below
                reason = re.sub(r"[^\s<>@,;:'\"]+@[^\s<>,;:'\"]+", "<address>", str(e))[:200]
                log.error("sending to coordinator %s failed: %s: %s", d.recipient, type(e).__name__, reason)
                summary["failed"].append(d.recipient)
                return
            summary["sent"].append(d.recipient)
            log.info("sent the %s digest to coordinator %s", as_of, d.recipient)

        def dispatch(d: digests.Digest, content: dict) -> None:
            for sent in courier.submit(d, content):
                settle(*sent)

        try:
            for d in digests.build(con, cfg, as_of):
                if d.recipient in already:
                    summary["already_sent"].append(d.recipient)
                    continue
                if not d.actionable and not cfg.email.send_empty_digest:
                    summary["nothing_to_report"].append(d.recipient)
                    continue
                if d.recipient == digests.FALLBACK:
                    log.warning("DATA PROBLEM: schools with exceptions but no coordinator: %s "
                                "(sent to the fallback address)", ", ".join(s.school_id for s in d.schools))
                if not d.to:
                    log.error("coordinator %s has no email address; digest not sent", d.recipient)
                    summary["failed"].append(d.recipient)
                    continue
                for ready in renderer.submit(d):
                    dispatch(*ready)
            for ready in renderer.drain():
                dispatch(*ready)
            for sent in courier.drain():
                settle(*sent)
        except BaseException:   # a digest already on its way is still recorded if the server takes it
            for d, content, sending in courier.drain():
                if not sending.cancel():
                    with contextlib.suppress(Exception):
                        settle(d, content, sending)
            raise
