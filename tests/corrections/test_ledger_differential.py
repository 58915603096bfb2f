"""The findings ledger's meeting-rule findings on a generated district, against an independent
reading of docs/corrections.md in plain Python: each case's status and evidence (prong 1) and
each finding's L and count of compliant records after it (prong 2), for every meeting rule.

The findings are issued over the past year and a half, district-wide or for one school; their
cases are held meetings before the issued date, with a few a student or meeting the export does
not have. The meetings' verdicts come from the federal reference (tests/rules/federal_reference.py),
of any date: a finding reaches back before the reporting window, where the rules report nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from helpers import read_records, run_night_in_process, write_records
from rules.federal_reference import meeting_verdicts, shake

STUDENTS = 1_500
RULES = ("TEAM_PARENT", "TEAM_GENERAL_ED_TEACHER", "TEAM_LEA_REPRESENTATIVE", "EXCUSAL_INVALID",
         "NOTICE_MISSING", "NOTICE_LEAD_TIME", "NOTICE_CONTENT", "TRANSITION_NOTICE", "TRANSITION_STUDENT_ABSENT")


def make_findings(export, folder, as_of: date, seed: int) -> None:
    """Two findings of each meeting rule: issued 10 to 540 days before the night, one district-wide,
    one for a school; up to 12 cases each, held meetings before the issued date, and sometimes a
    case of a meeting the export does not have, or of a student it does not have."""
    rnd = random.Random(seed)
    schools = [s["school_id"] for s in read_records(export / "schools.csv")]
    held = sorted((m for m in read_records(export / "meetings.csv") if m["status"] == "held"),
                  key=lambda m: (m["held_date"], m["meeting_id"]))
    findings, cases = [], []
    for rule in RULES:
        for k, scope in enumerate(("", rnd.choice(schools))):
            fid = f"F-{rule}-{k}"
            issued = as_of - timedelta(days=rnd.randint(10, 540))
            findings.append({"finding_id": fid, "issued_date": issued.isoformat(), "requirement": rule,
                             "citation": "300.321-322", "scope_school_ids": scope, "note": ""})
            before = [m for m in held if m["held_date"] < issued.isoformat()]
            for m in rnd.sample(before, min(12, len(before))):
                cases.append({"finding_id": fid, "student_id": m["student_id"], "meeting_id": m["meeting_id"],
                              "due_date": ""})
            if rnd.random() < 0.5 and before:
                cases.append({"finding_id": fid, "student_id": before[0]["student_id"], "meeting_id": "M-NONE",
                              "due_date": ""})
            if rnd.random() < 0.3 and before:
                cases.append({"finding_id": fid, "student_id": "S-NONE", "meeting_id": before[-1]["meeting_id"],
                              "due_date": ""})
    folder.mkdir(parents=True, exist_ok=True)
    write_records(folder / "findings.csv", findings)
    write_records(folder / "finding_instances.csv", cases)


def reference(tables: dict, findings: list[dict], cases: list[dict], as_of: date, prong2_records: int):
    """(case statuses: (finding, student, meeting) -> status or ("corrected", meeting),
    prong 2: finding -> (L, compliant records after L, met))."""
    from iepwatch.corrections.ledger import transition_rules

    transition_only = set(transition_rules())   # the catalog's rules of transition meetings
    students = {s["student_id"]: s for s in tables["students"]}
    verdicts = meeting_verdicts(tables)
    held = sorted(((mid, sid, day) for mid, (sid, day, _) in verdicts.items() if day <= as_of),
                  key=lambda x: (x[2], x[0]))
    broken = {(rule, mid) for mid, (_, _, rules) in verdicts.items() for rule, _ in rules}
    transition = {m["meeting_id"] for m in tables["meetings"] if m["includes_transition"] == "Y"}

    def counted(rule, mid):   # a rule of transition meetings counts the meetings that include transition
        return rule not in transition_only or mid in transition

    by_id = {f["finding_id"]: f for f in findings if f["issued_date"] <= as_of}
    status = {}
    for c in cases:
        f = by_id.get(c["finding_id"])
        if f is None:
            continue
        rule, sid, m0 = f["requirement"], c["student_id"], c["meeting_id"]
        key = (c["finding_id"], sid, m0)
        s = students.get(sid)
        if s is None:
            status[key] = "unmatched"
            continue
        first = verdicts.get(m0)
        later = [mid for mid, msid, day in held
                 if first and first[0] == sid and msid == sid and day > first[1]
                 and counted(rule, mid) and (rule, mid) not in broken]
        gone = s["enrollment_status"] == "exited" and s["exit_date"] is not None and s["exit_date"] <= as_of
        status[key] = ("corrected", later[0]) if later else "no_longer_in_jurisdiction" if gone else \
            "unmatched" if not first or first[0] != sid else "not_corrected"
    prong2 = {}
    for fid, f in by_id.items():
        scope = [x for x in (f["scope_school_ids"] or "").split(";") if x]
        records = [(day, (f["requirement"], mid) not in broken) for mid, sid, day in held
                   if day > f["issued_date"] and counted(f["requirement"], mid)
                   and (not scope or students[sid]["school_id"] in scope)]
        since = max([f["issued_date"], *(day for day, ok in records if not ok)])
        after = sum(1 for day, ok in records if day > since)
        prong2[fid] = (since, after, after >= prong2_records)
    return status, prong2


@pytest.mark.parametrize(("as_of", "seed"), [(date(2026, 11, 27), 11), (date(2027, 7, 2), 12)])
def test_meeting_findings_equal_the_independent_reading(as_of, seed, data_dir, tmp_path, settings):
    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.ingest.contract import TABLES
    from iepwatch.tasks import iep_nightly as t
    from tools.demo import generate

    settings({"quality": {"quarantine_threshold_pct": 100}, "corrections": {"prong2_records": 10}})
    export = tmp_path / "export" / as_of.isoformat()
    generate(export, students=STUDENTS, as_of=as_of)
    shake(export, as_of, seed)
    folder = data_dir / "findings"
    make_findings(export, folder, as_of, seed)
    t.update_corrections_ledger(run_night_in_process(export, as_of))
    with warehouse.connect(load_config(), read_only=True) as con:
        tables = {tb.name: warehouse.rows(con, f"SELECT * FROM core.{tb.name}") for tb in TABLES}
        got_cases = {(r["finding_id"], r["student_id"], r["meeting_key"]):
                     ("corrected", r["evidence_meeting_id"]) if r["status"] == "corrected" else r["status"]
                     for r in warehouse.rows(con, "SELECT * FROM corrections.instance_checks WHERE as_of = ?",
                                             [as_of])}
        got_prong2 = {r["finding_id"]: (r["since"], r["compliant_after"], r["met"])
                      for r in warehouse.rows(con, "SELECT * FROM corrections.prong2_checks WHERE as_of = ?",
                                              [as_of])}
    findings = [{**f, "issued_date": date.fromisoformat(f["issued_date"])}
                for f in read_records(folder / "findings.csv")]
    status, prong2 = reference(tables, findings, read_records(folder / "finding_instances.csv"), as_of, 10)
    wrong = {k: (v, got_cases.get(k)) for k, v in status.items() if got_cases.get(k) != v}
    assert not wrong and got_cases.keys() == status.keys(), \
        f"{len(wrong)} cases differ, e.g. {list(wrong.items())[:5]}"
    wrong = {k: (v, got_prong2.get(k)) for k, v in prong2.items() if got_prong2.get(k) != v}
    assert not wrong and got_prong2.keys() == prong2.keys(), \
        f"{len(wrong)} findings differ, e.g. {list(wrong.items())[:5]}"
    # the data reach both sides of every status and of prong 2
    assert {s if isinstance(s, str) else s[0] for s in status.values()} >= \
        {"corrected", "not_corrected", "unmatched", "no_longer_in_jurisdiction"}
    assert {met for _, _, met in prong2.values()} == {True, False}
