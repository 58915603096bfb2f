"""The night's send journal: each digest the server accepted, recorded before the next one goes."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from iepwatch import run_record
from iepwatch.digests import digest as digests
from iepwatch.errors import Unrecorded


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
