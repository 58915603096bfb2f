"""The student-system export contract: file names, columns and their types.

Only the *shape* lives here (what the loader needs to read a file). Every
check on the values (codes, keys, foreign keys, date order) lives in the
Great Expectations suites under ``expectations/``, which are the one
definition the quality gate runs.
"""

from __future__ import annotations

from dataclasses import dataclass

# What no value may carry into a file or a mail (RE2 / Python regex class body): control
# characters, NUL included, and the text-direction overrides.
CONTROL_CHARS = "\\x00-\\x1f\\x7f"
DIRECTION_OVERRIDES = "\u202a-\u202e\u2066-\u2069"

# Column kinds. ``date`` is cast to DATE on publish, ``flag`` is normalised
# to upper-case Y/N on load, everything else stays text.
ID, TEXT, DATE, FLAG, CODE = "id", "text", "date", "flag", "code"


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    optional_columns: frozenset[str] = frozenset()   # may be missing from the file: read as NULL
    optional_file: bool = False                      # the whole file may be missing: an empty table

    @property
    def required_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.optional_columns]

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    def of_kind(self, kind: str) -> list[str]:
        return [c for c, k in self.columns.items() if k == kind]


def _t(name: str, pk: tuple[str, ...], *, optional: tuple[str, ...] = (), optional_file: bool = False,
       **cols: str) -> Table:
    return Table(name, dict(cols), pk, frozenset(optional), optional_file)


# Load order respects foreign keys (parents first).
TABLES: tuple[Table, ...] = (
    _t("schools", ("school_id",), school_id=ID, school_name=TEXT, state_school_code=TEXT,
       district_code=TEXT),
    _t("staff", ("staff_id",), staff_id=ID, first_name=TEXT, last_name=TEXT, email=TEXT,
       primary_role=CODE),
    _t("coordinator_assignments", ("staff_id", "school_id"), staff_id=ID, school_id=ID),
    _t("students", ("student_id",), student_id=ID, state_student_id=TEXT, first_name=TEXT,
       last_name=TEXT, birth_date=DATE, gender=CODE, grade_level=CODE, school_id=ID,
       case_manager_staff_id=ID, enrollment_status=CODE, exit_date=DATE, sped_status=CODE,
       in_regular_education=FLAG),
    _t("guardians", ("guardian_id",), guardian_id=ID, student_id=ID, first_name=TEXT,
       last_name=TEXT, relationship=CODE),
    _t("evaluations", ("evaluation_id",), evaluation_id=ID, student_id=ID, evaluation_type=CODE,
       referral_date=DATE, consent_received_date=DATE, evaluation_completed_date=DATE,
       eligibility_determination_date=DATE, eligibility_outcome=CODE, delay_reason_code=CODE,
       reevaluation_waived_date=DATE, services_consent_refused_date=DATE,
       optional=("services_consent_refused_date",)),
    _t("parent_requests", ("request_id",), request_id=ID, student_id=ID, received_date=DATE,
       in_writing=FLAG),
    _t("meetings", ("meeting_id",), meeting_id=ID, student_id=ID, meeting_type=CODE, status=CODE,
       scheduled_date=DATE, held_date=DATE, iep_reviewed=FLAG, includes_transition=FLAG,
       format=CODE, parent_request_id=ID),
    _t("meeting_notices", ("notice_id",), notice_id=ID, meeting_id=ID, sent_date=DATE,
       delivery_method=CODE, states_purpose=FLAG, states_time=FLAG, states_location=FLAG,
       states_attendees=FLAG, states_transition_purpose=FLAG, invites_student=FLAG,
       parent_waived_notice_period=FLAG),
    _t("meeting_participants", ("meeting_id", "person_type", "person_id", "team_role"),
       meeting_id=ID, person_type=CODE, person_id=ID, team_role=CODE, attendance=CODE,
       attendance_mode=CODE, excusal_parent_consent_date=DATE,
       excusal_district_agreement_date=DATE, excusal_area_discussed=FLAG,
       written_input_date=DATE),
    _t("parent_contact_attempts", ("attempt_id",), attempt_id=ID, meeting_id=ID,
       attempt_date=DATE, method=CODE),
    _t("ieps", ("iep_id",), iep_id=ID, student_id=ID, meeting_id=ID, begin_date=DATE,
       end_date=DATE, status=CODE, has_transition_plan=FLAG),
    # Optional files: required only by a state pack that counts school days / leaves breaks out
    # (the calendar) or extends a timeline by absences (the absences).
    _t("school_calendar", ("calendar_date", "school_id"), school_id=ID, calendar_date=DATE, in_session=FLAG,
       note=TEXT, optional=("note",), optional_file=True),
    _t("student_absences", ("student_id", "absence_date"), student_id=ID, absence_date=DATE, optional_file=True),
    # Children referred by Part C (early intervention): PART_C_TRANSITION_BY_3 and Indicator B12.
    _t("part_c_transitions", ("student_id",), student_id=ID, referral_received_date=DATE, part_c_eligible_date=DATE,
       continued_part_c=FLAG, optional=("part_c_eligible_date", "continued_part_c"), optional_file=True),
)

BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
