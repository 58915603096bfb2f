"""The exception statuses: one list, read by the rules' SQL, the emails and the UI page.

``email`` says when a coordinator's digest lists a row of that status: ``open`` rows every
night while they stay open, ``once`` rows on the first digest after they were detected,
``never`` not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Status:
    name: str
    severity: Literal["high", "medium", "low"]
    actionable: bool
    email: Literal["open", "once", "never"]
    meaning: str
    label: str = ""      # in a coordinator's words (the digest): the name unless said otherwise

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))


STATUSES: tuple[Status, ...] = (
    Status("overdue", "high", True, "open", "the deadline has passed and the required event has not happened"),
    Status("due_soon", "medium", True, "open", "the deadline is within the warning window; the event has not happened"),
    Status("late", "high", False, "once", "the event happened after the deadline (a recorded non-compliance)",
           "held late"),
    Status("violation", "high", False, "once", "a held meeting broke a meeting-level rule"),
    Status("warning", "low", False, "once", "worth a coordinator's attention, not a federal violation"),
    Status("exempt", "low", False, "never", "overdue or late, with an accepted delay reason"),
)
BY_NAME = {s.name: s for s in STATUSES}
NAMES = tuple(s.name for s in STATUSES)
LABELS = {s.name: s.label for s in STATUSES}
OPEN = tuple(s.name for s in STATUSES if s.email == "open")
ONCE = tuple(s.name for s in STATUSES if s.email == "once")


def sql_list(names: tuple[str, ...]) -> str:
    """``'overdue', 'due_soon'`` for an IN (...) list in SQL."""
    return ", ".join(f"'{n}'" for n in names)


def severity_sql(column: str) -> str:
    """A SQL CASE giving each status's severity."""
    return "CASE " + column + " " + " ".join(f"WHEN '{s.name}' THEN '{s.severity}'" for s in STATUSES) + " END"


def rank_sql(column: str) -> str:
    """A SQL CASE ordering statuses as listed (most urgent first)."""
    return "CASE " + column + " " + " ".join(f"WHEN '{s.name}' THEN {i}" for i, s in enumerate(STATUSES)) + " END"
