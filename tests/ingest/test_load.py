"""The loader (``iepwatch.ingest.load``) on its own: its tables are loaded two at a time, so each must
still keep its file's line numbers, and every file that cannot be read is named at once."""

from __future__ import annotations

import csv

import pytest
from builder import AS_OF

from iepwatch import warehouse
from iepwatch.errors import DataError
from iepwatch.ingest import load


def test_every_staged_row_keeps_its_file_line(district, tmp_path, cfg):
    folder = district.write(tmp_path / "export")
    with warehouse.connect(cfg) as con:
        slot, loaded = load.load_staging(con, folder, AS_OF, "e1")
        for table, info in loaded.items():
            with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as f:
                data = list(csv.reader(f))
            first = data[0][0]
            staged = con.execute(f'SELECT _line, "{first}" FROM staging.{table} ORDER BY _line').fetchall()
            assert info["rows"] == len(data) - 1 == len(staged)
            assert staged == [(n, row[0] or None) for n, row in enumerate(data[1:], start=2)], table


def test_every_file_that_cannot_be_read_is_named_in_one_error(district, tmp_path, cfg):
    folder = district.write(tmp_path / "export")
    for name in ("meetings.csv", "students.csv"):   # a row of the wrong width in each
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8") + "only,three,fields\n", encoding="utf-8")
    with warehouse.connect(cfg) as con, pytest.raises(DataError) as failed:
        load.load_staging(con, folder, AS_OF, "e1")
    message = str(failed.value)
    assert message.index("students.csv: cannot read") < message.index("meetings.csv: cannot read"), message


def test_published_views_leave_out_the_quarantined_lines_only(district, tmp_path, cfg):
    from iepwatch.ingest import gate
    from iepwatch.quality.suites import load_suites

    district.student()
    bad = district.student()
    student = next(s for s in district.tables["students"] if s["student_id"] == bad)
    student["sped_status"] = "not-a-status"   # quarantined: a code outside the suite's set
    folder = district.write(tmp_path / "export")
    with warehouse.connect(cfg) as con:
        slot, loaded = load.load_staging(con, folder, AS_OF, "e1")
        gate.quarantine(con, load_suites("ingest", AS_OF), slot, AS_OF, threshold_pct=100)
        load.publish(con, slot, AS_OF, "e1")
        published = {t: con.execute(f"SELECT count(*) FROM core.{t}").fetchone()[0] for t in loaded}
        held_back = dict(con.execute("SELECT table_name, count(*) FROM quarantine.rows GROUP BY 1").fetchall())
        assert con.execute("SELECT count(*) FROM core.students WHERE student_id = ?",
                           [student["student_id"]]).fetchone()[0] == 0
    assert held_back["students"] == 1 and set(held_back) < set(loaded), held_back
    assert published == {t: info["rows"] - held_back.get(t, 0) for t, info in loaded.items()}


@pytest.mark.parametrize(("min_rows", "fails"), [(10, False), (1, False), (0, True)])
def test_a_small_tables_few_bad_rows_do_not_fail_the_load(district, tmp_path, cfg, min_rows, fails):
    """One bad row of three is a third of the table, over the 5 % threshold; it fails the load only
    once more bad rows than ``quality.quarantine_threshold_min_rows`` count (the row is set aside
    either way)."""
    from iepwatch.ingest import gate
    from iepwatch.quality.suites import load_suites

    for _ in range(3):
        district.student()
    district.tables["students"][1]["sped_status"] = "not-a-status"
    folder = district.write(tmp_path / "export")
    with warehouse.connect(cfg) as con:
        slot, _ = load.load_staging(con, folder, AS_OF, "e1")
        quarantine = lambda: gate.quarantine(con, load_suites("ingest", AS_OF), slot, AS_OF,  # noqa: E731
                                             threshold_pct=5, threshold_min_rows=min_rows)
        if fails:
            with pytest.raises(DataError, match=r"students\.csv: 1 of 3 rows quarantined \(33\.3%, threshold 5% "
                                                r"once more than 0\)"):
                quarantine()
        else:
            assert quarantine().quarantined["students"] == 1


def test_after_a_quoted_line_break_lines_are_the_files_physical_lines(district, tmp_path, settings, data_dir):
    """A quoted field holding a line break makes a record two lines long: the rows after it are
    named by the line they start on in the file (what an editor shows), not by their record
    number, and exactly the quarantined rows are left out of the night."""
    from helpers import run_night_in_process

    from iepwatch.district import load_config

    settings({"quality": {"quarantine_threshold_pct": 100}})
    ok = district.student()
    broken = district.student(last="Lopez\nGarcia")        # lines 3-4: a line break in a name (quarantined)
    bad = district.student()
    next(r for r in district.tables["students"] if r["student_id"] == bad)["sped_status"] = "not-a-status"
    folder = district.write(tmp_path / "export")
    assert (folder / "students.csv").read_text().count("\n") == len(district.tables["students"]) + 2
    run_night_in_process(folder, AS_OF)
    with (load_config().run_dir(AS_OF) / "quarantine.csv").open(newline="") as f:
        listed = {(r["line"], r["reason"]) for r in csv.DictReader(f) if r["file"] == "students.csv"}
    assert listed == {("3", "control character in a name (first_name, last_name)"),
                      ("5", "invalid code in sped_status")}, listed
    with warehouse.connect(load_config(), read_only=True) as con:
        published = {r[0] for r in con.execute("SELECT student_id FROM core.students").fetchall()}
    assert ok in published and not {broken, bad} & published
