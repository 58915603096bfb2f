"""Send each recipient's digest once per night over the Airflow SMTP connection.

Every successful send is recorded as soon as the server accepted it, on the sending thread
before the next digest goes (in the night's send journal, added to ``ops.email_sends`` when the
stage ends), so a retried or re-run task sends only what is missing.
Logs name staff ids, never addresses or students.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import json
import logging
import os
import re
import smtplib
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import NamedTuple

from iepwatch import run_record
from iepwatch.config import Config
from iepwatch.digests import digest as digests
from iepwatch.errors import ConfigError, SendError, Unrecorded

log = logging.getLogger(__name__)


class Built(NamedTuple):
    message_id: str
    raw: bytes


def build_message(d: digests.Digest, content: dict[str, str], from_email: str | None,
                  eight_bit: bool = False) -> Built:
    """The whole message as bytes: multipart/alternative, text then HTML, inside multipart/mixed
    with the digest's attachments (its CSV, its calendar) when it has any. The parts are
    assembled here because the email package's generator writes a body line by line in Python,
    the largest cost of a night's mail at state scale; the headers go through ``_header``. A
    part goes as 8bit when the server accepts 8BITMIME and no line is longer than SMTP allows
    (no encoding, and a third of the lines of base64 for the server to read), else as base64
    (encoded in C)."""
    domain = (from_email or "iepwatch.local").rsplit("@", 1)[-1].strip("> ")
    message_id = f"<iepwatch.{d.as_of}.{digests.safe_token(d.recipient)}.{content['sha256'][:16]}@{domain}>"
    # "=" and "_" never occur in a base64 line; the boundaries differ from each other
    alt, mixed = (f"=_iepwatch_{k}_{content['sha256'][:32]}" for k in ("alt", "mix"))
    parts = [(f'text/{kind}; charset="utf-8"', None, content[key].encode("utf-8"))
             for kind, key in (("plain", "text"), ("html", "html"))]
    body = _multipart(alt, parts, eight_bit)
    if content["attachments"]:
        body = _multipart(mixed, [(f'multipart/alternative; boundary="{alt}"', None, body)]
                          + [(f'{a.mime}; charset="utf-8"; name="{a.filename}"', a.filename, a.data)
                             for a in content["attachments"]], eight_bit)
        ctype = f'multipart/mixed; boundary="{mixed}"'
    else:
        ctype = f'multipart/alternative; boundary="{alt}"'
    head = [_header("Subject", content["subject"]), *([_header("From", from_email)] if from_email else []),
            _header("To", ", ".join(d.to)), _header("Message-ID", message_id),
            _header("Date", formatdate(usegmt=True)), _header("X-IEPWatch-As-Of", d.as_of.isoformat()),
            _header("MIME-Version", "1.0"), _header("Content-Type", ctype)]
    return Built(message_id, b"".join([*head, b"\r\n", body]))


@functools.lru_cache(maxsize=64)
def _header(name: str, value: str) -> bytes:
    """One header line. A short printable ASCII value (an address, a Message-ID, a date: most of
    a digest's headers) is written as it is, which is what the email package writes for it; any
    other value goes through the email package, which encodes it (RFC 2047), folds it, and
    refuses a line break in it. Parsing every header with the email package cost a tenth of a
    night's mail at state scale."""
    if value.isascii() and value.isprintable() and len(name) + len(value) + 2 <= 78:
        return f"{name}: {value}\r\n".encode("ascii")
    msg = EmailMessage(policy=SMTP)
    msg[name] = value
    return msg.policy.fold_binary(name, msg[name])


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]], eight_bit: bool) -> bytes:
    """The body of a multipart: each (content type, attachment file name or None, data); a nested
    multipart goes as it is, a leaf as 8bit or base64 (see build_message)."""
    sep, out = boundary.encode(), []
    for ctype, filename, data in parts:
        out += [b"--", sep, b"\r\nContent-Type: ", ctype.encode(), b"\r\n"]
        if filename:
            out += [b'Content-Disposition: attachment; filename="', filename.encode(), b'"\r\n']
        if ctype.startswith("multipart/"):
            out += [b"\r\n", data]
            continue
        if eight_bit and max(map(len, data.split(b"\n"))) < LINE_MOST and sep not in data:
            cte, data = b"8bit", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        else:
            cte, data = b"base64", base64.encodebytes(data).replace(b"\n", b"\r\n")
        out += [b"Content-Transfer-Encoding: ", cte, b"\r\n\r\n", data, b"" if data.endswith(b"\n") else b"\r\n"]
    out += [b"--", sep, b"--\r\n"]
    return b"".join(out)


LINE_MOST = 990   # octets in a line, with room to spare: SMTP's limit is 998


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


class Renderer:
    """Renders digests (templates, CSS inlining, the calendar: pure CPU) in a worker process while
    this one queries the warehouse and talks SMTP, so the two overlap on two cores. Digests come
    back in the order they went in, at most ``AHEAD`` in flight; the sending and its log stay
    here, one digest at a time. A night of ``INLINE_BELOW`` digests or fewer renders in-process
    (a worker's start-up is not worth it), and so does a task that may not start processes: under
    the Celery executor the task descends from a daemonic pool process, and Python refuses a
    daemonic process children."""

    AHEAD = 16
    INLINE_BELOW = 20

    def __init__(self, cfg: Config) -> None:
        self.cfg, self.pool, self.pending, self.waiting = cfg, None, [], []

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, d: digests.Digest):
        """Queue ``d``; yields the (digest, content) pairs that are ready to send, in order."""
        if self.pool is None:
            self.waiting.append(d)
            if len(self.waiting) <= self.INLINE_BELOW:
                return
            if _daemonic():
                yield from self.drain()
                return
            self._start()
            for w in self.waiting:
                self.pending.append((w, self.pool.submit(_render_in_worker, w)))
            self.waiting = []
        else:
            self.pending.append((d, self.pool.submit(_render_in_worker, d)))
        while len(self.pending) > self.AHEAD:
            yield self._ready()

    def drain(self):
        for w in self.waiting:
            yield w, digests.render(w, self.cfg)
        self.waiting = []
        while self.pending:
            yield self._ready()

    def _ready(self) -> tuple[digests.Digest, dict]:
        w, future = self.pending.pop(0)
        content = future.result()
        content["attachments"] = [*w.attachments, *content["attachments"]]
        return w, content

    def _start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: this process holds DuckDB's threads and Airflow's state
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_worker_config, initargs=(self.cfg,))


_WORKER_CONFIG: list[Config] = []   # the rendering worker's configuration, set once when it starts


def _worker_config(cfg: Config) -> None:
    _WORKER_CONFIG[:] = [cfg]


def _render_in_worker(d: digests.Digest) -> dict:
    """``digests.render`` in the worker, handing back the attachments it made (the calendar) but
    not the digest's own (its CSV, which the task holds): sent back, they doubled the bytes
    pickled between the two processes."""
    content = digests.render(d, _WORKER_CONFIG[0])
    content["attachments"] = content["attachments"][len(d.attachments):]
    return content


class Journal:
    """The night's record of the digests the server accepted (``<run dir>/emails-sent.jsonl``):
    a line each (staff id, content sha256, Message-ID), written and synced to disk as soon as
    the server accepted the digest, before the next one goes. Recording each digest in the
    warehouse instead took a DuckDB statement and commit on the sending thread for every
    digest. The lines go to ``ops.email_sends`` in one transaction when
    the stage ends (``fold``), or at the start of the next try when the task died before that.
    Only the task that holds the warehouse's one writer writes it, and no other process can
    open the warehouse meanwhile, so no reader of the send log sees the difference."""

    NAME = run_record.EMAIL_JOURNAL

    def __init__(self, path: Path) -> None:
        self.path, self.file = path, None

    def append(self, staff_id: str, sha256: str, message_id: str) -> None:
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "ab")  # noqa: SIM115 - open across appends, closed by close()
        self.file.write(json.dumps([staff_id, sha256, message_id]).encode() + b"\n")
        self.file.flush()
        os.fdatasync(self.file.fileno())

    def read(self) -> list[tuple[str, str, str]]:
        """Its whole lines. A last line without its newline was cut short (the task died while
        writing it): that digest is not recorded, as if the task had died just before."""
        if not self.path.exists():
            return []
        return [tuple(json.loads(line)) for line in self.path.read_bytes().split(b"\n")[:-1]]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def fold(self, con, as_of: date) -> int:
        """Its digests added to the send log (``digest.record_sent``), then the journal removed;
        Unrecorded when the warehouse refuses them (they stay here for the next try)."""
        self.close()
        if not self.path.exists():
            return 0
        sends = self.read()
        try:
            recorded = digests.record_sent(con, as_of, sends)
        except Exception as e:
            raise Unrecorded(f"{len(sends)} digest(s) sent for {as_of} could not be added to the send log "
                             f"(ops.email_sends): {type(e).__name__}; they stay in {self.path}, and the next try "
                             "adds them without sending them again") from e
        self.path.unlink()   # with a line cut short, if any: its digest was not recorded
        return recorded


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


def _daemonic() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


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


def write_report(path, as_of: date, summary: dict[str, list[str]]) -> None:
    """The night's sending, for the data team's page: counts per outcome and the staff ids that
    failed (no addresses, no students), written atomically even when the task then fails."""
    from iepwatch.files import write_json

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
