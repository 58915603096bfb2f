"""part_c_transitions.csv, the optional file of children referred by Part C: gated like every file."""

from __future__ import annotations

from datetime import date

from builder import AS_OF
from helpers import run_night_in_process


def test_a_referral_after_the_third_birthday_and_an_unknown_child_are_quarantined(district, tmp_path, settings,
                                                                                  data_dir):
    import duckdb

    ok, late = district.student(birth="2024-01-10"), district.student(birth="2023-06-01")   # T 2027-01-10, 2026-06-01
    for s, referral in ((ok, "2026-10-01"), (late, "2026-06-02"), ("NOBODY", "2026-10-01")):
        district.add("part_c_transitions", student_id=s, referral_received_date=referral, part_c_eligible_date=None,
                     continued_part_c="N")
    settings({"quality": {"quarantine_threshold_pct": 100}})
    night = run_night_in_process(district.write(tmp_path / "export"), AS_OF)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        set_aside = con.execute("SELECT line, reason FROM quarantine.rows WHERE slot = ? AND table_name = "
                                "'part_c_transitions' ORDER BY line", [night.slot]).fetchall()
        kept = con.execute("SELECT student_id FROM core.part_c_transitions").fetchall()
    assert set_aside == [(3, "referral after the third birthday"), (4, "broken foreign key: student_id")]
    assert kept == [(ok,)]
    assert date(2027, 1, 10) > AS_OF
