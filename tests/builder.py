"""Small synthetic exports written by the tests, in the contract's CSV format."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from iepwatch.ingest.contract import TABLES

AS_OF = date(2026, 11, 27)


def d(x: date | str | None) -> str | None:
    return x.isoformat() if isinstance(x, date) else x


class Export:
    """A district as lists of rows; ``write`` produces the night's folder."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict]] = {t.name: [] for t in TABLES}
        self._n = 0

    def add(self, table: str, **row) -> dict:
        self.tables[table].append(row)
        return row

    def next_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:04d}"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            with (folder / t.file).open("w", newline="", encoding="utf-8") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(t.columns)
                for row in self.tables[t.name]:
                    w.writerow(["" if row.get(c) is None else d(row.get(c)) for c in t.columns])
        return folder

    # --- a small valid district -------------------------------------------------
    @classmethod
    def district(cls, schools: int = 2) -> Export:
        ex = cls()
        for s in range(1, schools + 1):
            ex.add("schools", school_id=f"SCH{s}", school_name=f"School {s}",
                   state_school_code=f"1964733600000{s}", district_code="1964733")
            for role, n in (("general_education_teacher", 1), ("special_education_teacher", 2),
                            ("lea_representative", 3), ("school_psychologist", 4)):
                ex.add("staff", staff_id=f"T{s}{n}", first_name="Staff", last_name=f"{s}{n}",
                       email=f"t{s}{n}@example.org", primary_role=role)
            ex.add("staff", staff_id=f"C{s}", first_name="Coord", last_name=f"{s}",
                   email=f"coord{s}@example.org", primary_role="coordinator")
            ex.add("coordinator_assignments", staff_id=f"C{s}", school_id=f"SCH{s}")
        return ex

    def student(self, student_id: str | None = None, *, school: str = "SCH1", birth: date | str = "2015-03-01",
                status: str = "active", sped: str = "eligible", regular: str = "Y",
                first: str = "Ana", last: str = "Lopez", exit_date=None) -> str:
        sid = student_id or self.next_id("S")
        s = school[-1]
        self.add("students", student_id=sid, state_student_id=f"9{sid}", first_name=first, last_name=last,
                 birth_date=birth, gender="f", grade_level="05", school_id=school,
                 case_manager_staff_id=f"T{s}2", enrollment_status=status,
                 exit_date=exit_date or (AS_OF - timedelta(days=10) if status == "exited" else None),
                 sped_status=sped, in_regular_education=regular)
        self.add("guardians", guardian_id=f"G{sid}", student_id=sid, first_name="Pat", last_name=last,
                 relationship="parent")
        return sid

    def evaluation(self, student_id: str, *, consent, completed=None, eligibility=None, outcome="eligible",
                   kind: str = "initial", delay=None, waived=None) -> str:
        eid = self.next_id("E")
        self.add("evaluations", evaluation_id=eid, student_id=student_id, evaluation_type=kind,
                 referral_date=d(consent), consent_received_date=consent, evaluation_completed_date=completed,
                 eligibility_determination_date=eligibility, eligibility_outcome=outcome,
                 delay_reason_code=delay, reevaluation_waived_date=waived)
        return eid

    def meeting(self, student_id: str, *, held=None, scheduled=None, kind: str = "annual",
                status: str | None = None, reviewed: str | None = None, transition: str = "N",
                team: bool = True, notice: bool = True, request_id: str | None = None) -> str:
        """A meeting; held ones get the full team attending and a complete notice 14 days before."""
        mid = self.next_id("M")
        status = status or ("held" if held else "scheduled")
        reviewed = reviewed or ("Y" if kind in ("initial", "annual") else "N")
        self.add("meetings", meeting_id=mid, student_id=student_id, meeting_type=kind, status=status,
                 scheduled_date=scheduled or held, held_date=held if status == "held" else None,
                 iep_reviewed=reviewed, includes_transition=transition, format="in_person",
                 parent_request_id=request_id)
        school = next(s["school_id"] for s in self.tables["students"] if s["student_id"] == student_id)[-1]
        if team and status == "held":
            self.participant(mid, "guardian", f"G{student_id}", "parent")
            for role, n in (("general_education_teacher", 1), ("special_education_teacher", 2),
                            ("lea_representative", 3), ("evaluation_interpreter", 4)):
                self.participant(mid, "staff", f"T{school}{n}", role)
        if notice and status == "held":
            self.notice(mid, sent=date.fromisoformat(d(held)) - timedelta(days=14))
        return mid

    def participant(self, meeting_id: str, person_type: str, person_id: str | None, role: str,
                    attendance: str = "attended", mode: str | None = "in_person", **excusal) -> dict:
        return self.add("meeting_participants", meeting_id=meeting_id, person_type=person_type,
                        person_id=person_id, team_role=role, attendance=attendance,
                        attendance_mode=mode if attendance == "attended" else None, **excusal)

    def notice(self, meeting_id: str, *, sent, **flags) -> dict:
        row = {"states_purpose": "Y", "states_time": "Y", "states_location": "Y", "states_attendees": "Y",
               "states_transition_purpose": "N", "invites_student": "N", "parent_waived_notice_period": "N"}
        row.update(flags)
        return self.add("meeting_notices", notice_id=self.next_id("N"), meeting_id=meeting_id, sent_date=sent,
                        delivery_method="mail", **row)
