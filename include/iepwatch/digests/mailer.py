"""SMTP for a night's digests: one connection through the SMTP provider's hook, the message's bytes
on the wire, and the thread that sends (and records) one digest at a time."""

from __future__ import annotations

import collections
import functools
import smtplib
from collections.abc import Callable

from iepwatch.digests import digest as digests
from iepwatch.digests.message import build_message
from iepwatch.errors import ConfigError, Unrecorded


class Mailer:
    """One SMTP connection for all of a night's digests, through the SMTP provider's hook (TLS/SSL and
    login from the Airflow connection), opened at the first digest and reopened once when the
    server drops it. The hook's own ``send_email_smtp`` builds an HTML-only message; a digest is
    multipart text + HTML, so it is sent through the client the hook opened."""

    def __init__(self, conn_id: str, fallback_from: str | None) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        self.hook, self.fallback_from, self.open = SmtpHook(smtp_conn_id=conn_id), fallback_from, False

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc) -> None:
        if self.open:
            self.hook.__exit__(None, None, None)

    def _client(self, fresh: bool = False):
        if fresh and self.open:
            self.hook.__exit__(None, None, None)
            self.open = False
        if not self.open:
            self.hook.get_conn()
            self.open = True
            client = self.hook._smtp_client
            client.data = functools.partial(_data, client)   # this client's DATA: see _data
        return self.hook._smtp_client

    def send(self, d: digests.Digest, content: dict[str, str]) -> str:
        for attempt in (0, 1):
            client = self._client(fresh=attempt == 1)
            try:
                client.ehlo_or_helo_if_needed()   # a dropped connection shows here too: reopened below
                eight_bit = client.has_extn("8bitmime")
                sender = self.hook.from_email or self.fallback_from
                built = build_message(d, content, sender, eight_bit)
                # explicit envelope: exactly the digest's recipients, never what a header might be made to say
                client.sendmail(sender or "", list(d.to), built.raw,
                                mail_options=["BODY=8BITMIME"] if eight_bit else [])
                return built.message_id
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def _data(client: smtplib.SMTP, msg: bytes) -> tuple[int, bytes]:
    """``smtplib.SMTP.data`` for a message of bytes, the same bytes on the wire, with its
    dot-stuffing done by ``stuff`` instead of smtplib's regex over the whole message (a large share
    of a night's mail at state scale)."""
    client.putcmd("data")
    code, reply = client.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    q = stuff(msg)
    client.send(q + (b".\r\n" if q.endswith(b"\r\n") else b"\r\n.\r\n"))
    return client.getreply()


def stuff(msg: bytes) -> bytes:
    """A period that starts a line doubled (RFC 5321 4.5.2), exactly as ``smtplib`` does: at the
    start of the message and after every LF."""
    return (b"." if msg.startswith(b".") else b"") + msg.replace(b"\n.", b"\n..")


class Courier:
    """Sends on a thread of its own, one digest at a time over the Mailer's one connection, and
    records each digest on that thread as soon as the server accepted it (``record``), while the
    calling thread prepares the next: the time the server takes to read a message is not idle
    time (at state scale it was as long as the rest of the stage), and a digest is recorded
    before the next one goes. ``submit`` hands back each digest's outcome, oldest first, once the
    next is queued; at most one digest waits behind the one being sent."""

    def __init__(self, mailer: Mailer, record: Callable[[digests.Digest, dict, str], None]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.mailer, self.record, self.pending = mailer, record, collections.deque()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp")

    def __enter__(self) -> Courier:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)   # on an error: what has not started is not sent

    def _deliver(self, d: digests.Digest, content: dict) -> str:
        message_id = self.mailer.send(d, content)
        try:
            self.record(d, content, message_id)
        except Exception as e:
            raise Unrecorded(f"the digest to coordinator {d.recipient} was sent but could not be recorded: "
                             f"{type(e).__name__}") from e
        return message_id

    def submit(self, d: digests.Digest, content: dict):
        """Queue ``d``; yields (digest, content, future of its Message-ID) of the one before it."""
        self.pending.append((d, content, self.pool.submit(self._deliver, d, content)))
        while len(self.pending) > 1:
            yield self.pending.popleft()

    def drain(self):
        while self.pending:
            yield self.pending.popleft()


def check_connection(conn_id: str) -> None:
    """A missing SMTP connection is a configuration error (fails at once), not a transient fault."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = SmtpHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigError(
            f"the SMTP connection '{conn_id}' (email.smtp_conn_id) is not defined: set it with "
            f"AIRFLOW_CONN_{conn_id.upper()}='smtp://HOST:PORT' (for a server without TLS: "
            "'smtp://HOST:PORT?disable_ssl=true&disable_tls=true') or `airflow connections add "
            f"{conn_id} --conn-type smtp --conn-host HOST --conn-port PORT`") from None
    if not conn.host:
        raise ConfigError(f"the SMTP connection '{conn_id}' (email.smtp_conn_id) has no host")
