"""A digest as the bytes of one MIME message (multipart text + HTML, its attachments), built here
rather than by the email package's generator: that was the largest cost of a night's mail at
state scale."""

from __future__ import annotations

import base64
import functools
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import NamedTuple

from iepwatch.digests import digest as digests


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
