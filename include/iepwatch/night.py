"""One night of the pipeline: its as-of date and what the tasks have learned about it.

The as-of date is the run's logical date in the district's time zone; every rule is
evaluated as of it and nothing reads the wall clock. Tasks pass a ``Night`` along (Airflow
serialises it to XCom with ``serialize``/``deserialize``): each task returns the night with
what it added (the export folder, the archived export's id, the load slot), so no task
works out again what an earlier one decided. A ``Night`` holds paths, ids and dates only,
never student data.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

AS_OF = re.compile(r"\d{4}-\d{2}-\d{2}")   # an as-of date as text (a folder, a param, a URL): checked before use


def is_as_of(text: object) -> bool:
    """Whether ``text`` is an as-of date written YYYY-MM-DD (a value that reaches a path is checked)."""
    return isinstance(text, str) and AS_OF.fullmatch(text) is not None


def as_of_date(logical_date: datetime, timezone: str) -> date:
    """The as-of date of a run: its logical date in the district's time zone."""
    return logical_date.astimezone(ZoneInfo(timezone)).date()


def logical_date(as_of: date, timezone: str) -> datetime:
    """The logical date that gives ``as_of`` (noon local, far from any DST edge): the inverse."""
    return datetime.combine(as_of, time(12), tzinfo=ZoneInfo(timezone))


def school_year_start(day: date, mm_dd: str) -> date:
    """The latest school-year start (``MM-DD``, e.g. ``07-01``) on or before ``day``."""
    month, dom = (int(x) for x in mm_dd.split("-"))
    start = date(day.year, month, dom)
    return start if start <= day else date(day.year - 1, month, dom)


@dataclass(frozen=True)
class Night:
    as_of: date
    export_dir: Path | None = None    # where the student system's export was found
    export_id: str | None = None      # the archived export (sha256 of its checksums, 16 hex)
    archive_dir: Path | None = None   # landing/<as-of>/<export_id>/
    slot: str | None = None           # the warehouse load slot holding this night's tables
    backfill: bool = False            # older than the published night: evaluated beside it, never emailed

    __version__ = 1

    @classmethod
    def of_run(cls, logical: datetime, timezone: str) -> Night:
        return cls(as_of_date(logical, timezone))

    def with_(self, **changes) -> Night:
        return dataclasses.replace(self, **changes)

    def logical_date(self, timezone: str) -> datetime:
        return logical_date(self.as_of, timezone)

    def event_extra(self) -> dict:
        """What the night's Asset events tell their consumers (state_reporting, the roll-up)."""
        return {"as_of": self.as_of.isoformat(), "export_id": self.export_id, "backfill": self.backfill}

    def require(self, *names: str) -> Night:
        """This night, after checking that earlier tasks filled ``names`` in (a wiring error otherwise)."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise RuntimeError(f"night {self.as_of} reached a task without {', '.join(missing)}")
        return self

    # Airflow's XCom serde: a plain, versioned dict.
    def serialize(self) -> dict:
        return {f.name: v if (v := getattr(self, f.name)) is None or isinstance(v, bool) else str(v)
                for f in dataclasses.fields(self)}

    @staticmethod
    def deserialize(data: dict, version: int) -> Night:
        if version > Night.__version__:
            raise TypeError(f"Night serialised by a newer version ({version})")
        return Night(as_of=date.fromisoformat(data["as_of"]),
                     export_dir=Path(data["export_dir"]) if data.get("export_dir") else None,
                     export_id=data.get("export_id"),
                     archive_dir=Path(data["archive_dir"]) if data.get("archive_dir") else None,
                     slot=data.get("slot"), backfill=bool(data.get("backfill", False)))
