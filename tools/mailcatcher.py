"""A local SMTP server for the demo and the tests: every message lands in an outbox folder.

    python -m tools.mailcatcher --port 8025 --outbox data/outbox

The pipeline's code path is the production one (real SMTP through the Airflow
connection); only the server differs. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import socket
import threading
from pathlib import Path


class _Outbox:
    def __init__(self, folder: Path, fail_after: int | None = None) -> None:
        self.folder, self.fail_after, self.received = folder, fail_after, 0
        self.sessions = 0            # SMTP connections that said EHLO/HELO (for the tests)
        self.drop_after: int | None = None   # close the connection after this many messages (for the tests)
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd's name
        if session.host_name is None:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.fail_after is not None and self.received >= self.fail_after:
            return "451 4.3.0 Service temporarily unavailable"
        data = envelope.original_content or envelope.content
        # the envelope recipients (where the server really delivers), kept as a header of the saved copy
        data = b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n" + data
        head = data.split(b"\r\n\r\n", 1)[0]   # the headers only: parsing a whole large message is slow
        found = re.search(rb"^Message-ID:\s*<?([^>\r\n]*)", head, re.MULTILINE | re.IGNORECASE)
        msg_id = found.group(1).decode("ascii", "replace") if found else f"message-{self.received}"
        name = re.sub(r"[^A-Za-z0-9.@-]", "_", msg_id)
        (self.folder / f"{name}.eml").write_bytes(data)
        self.received += 1
        if self.drop_after is not None and self.received == self.drop_after:
            server.transport.close()     # as a server that drops idle or long connections
        return "250 OK"


def connection_uri(port: int) -> str:
    """The Airflow SMTP connection of a mail catcher on 127.0.0.1 (no TLS; a sender address)."""
    return f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=iepwatch%40example.org"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailCatcher:
    """``with MailCatcher(outbox, port) as mc:`` runs the server in a thread."""

    def __init__(self, outbox: Path, port: int = 0, fail_after: int | None = None) -> None:
        """``port`` 0 picks a free port (``self.port`` says which)."""
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)   # aiosmtpd's per-command chatter
        self.port = port or free_port()
        self.handler = _Outbox(Path(outbox), fail_after)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailCatcher:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> int:
        return self.handler.received


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8025)
    ap.add_argument("--outbox", type=Path, required=True)
    args = ap.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with MailCatcher(args.outbox, args.port):
        print(f"mail catcher on 127.0.0.1:{args.port}, writing to {args.outbox}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
