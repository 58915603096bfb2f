"""The night's export: complete or not started, archived and verified on every reuse, a re-delivery noticed."""

from __future__ import annotations

import json
import shutil

import pytest
from builder import AS_OF
from helpers import (
    NEXT,
    assert_failed_fast,
    assert_nothing_published_and_raw_kept,
    rows,
    run_dag,
    run_next_night,
    snapshot,
    write_rows,
)

from iepwatch import errors
from iepwatch.errors import DataError
from iepwatch.ingest import sources
from iepwatch.ingest.contract import TABLES


def cut_in_half(path):
    """The file as the student system leaves it while still writing: cut at a line boundary."""
    data = rows(path)
    write_rows(path, data[: len(data) // 2])
    return len(data) - 1, len(data) // 2 - 1


def write_marker(folder, with_sha: bool = True) -> dict:
    files = {t.file: {"rows": len(rows(folder / t.file)) - 1} for t in TABLES}
    if with_sha:
        for name, spec in files.items():
            spec["sha256"] = sources.sha256_file(folder / name)
    (folder / sources.MARKER).write_text(json.dumps({"files": files}))
    return files


def test_a_half_written_file_fails_the_shrink_gate_and_publishes_nothing(after_good_night, data_dir,
                                                                        published_night, capfd):
    before, now = cut_in_half(after_good_night / "meeting_participants.csv")
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "validate_export", "meeting_participants.csv",
                       f"{now:,} rows tonight against {before:,} in the published night of {AS_OF}",
                       "quality.max_table_shrink_pct (25%)", "allow_shrink=true")
    assert "send_coordinator_emails" not in tis or tis["send_coordinator_emails"][0] != "success"
    assert_nothing_published_and_raw_kept(data_dir, published_night, after_good_night)


def test_an_expected_drop_is_published_when_the_run_says_so(after_good_night, data_dir, capfd):
    before, now = cut_in_half(after_good_night / "meeting_participants.csv")
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(after_good_night), "allow_shrink": True})
    assert state == "success", tis
    assert len(snapshot(data_dir / "warehouse.duckdb")["meeting_participants"]) == now
    warnings = (data_dir / "runs" / str(NEXT) / "warnings.txt").read_text()
    assert f"expected drop (allow_shrink): meeting_participants.csv: {now:,} rows tonight" in warnings


def test_a_file_cut_after_the_completion_marker_fails_the_load(after_good_night, data_dir, published_night, capfd):
    marker = write_marker(after_good_night, with_sha=False)
    before, now = cut_in_half(after_good_night / "guardians.csv")
    assert marker["guardians.csv"]["rows"] == before
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "load_staging", "Export incomplete",
                       f"guardians.csv: {now:,} rows read, {before:,} in export_complete.json")
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")


def test_a_checksum_that_differs_from_the_marker_fails_before_anything_is_loaded(after_good_night, data_dir,
                                                                                 published_night, capfd):
    write_marker(after_good_night)
    cut_in_half(after_good_night / "ieps.csv")
    state, tis, log = run_next_night(after_good_night, capfd)
    assert_failed_fast(state, tis, log, "archive_export", "ieps.csv: sha256 differs from export_complete.json")
    assert not (data_dir / "landing" / str(NEXT)).exists() or not any((data_dir / "landing" / str(NEXT)).iterdir())
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")


def test_a_complete_marker_is_archived_with_the_export(after_good_night, data_dir, capfd):
    write_marker(after_good_night)
    state, tis, _ = run_next_night(after_good_night, capfd)
    assert state == "success", tis
    (archived,) = (data_dir / "landing" / str(NEXT)).iterdir()
    assert (archived / sources.MARKER).read_bytes() == (after_good_night / sources.MARKER).read_bytes()


def test_marker_problems_are_named(tmp_path):
    marker = {"students.csv": {"rows": 3}, "ieps.csv": {"rows": 1, "sha256": "00"}}
    with pytest.raises(DataError) as e:
        sources.check_marker(marker, {"students.csv": {"sha256": "ab"}, "ieps.csv": {"sha256": "ff"},
                                      "staff.csv": {"sha256": "cd"}})
    assert str(e.value) == ("Export incomplete, nothing loaded: staff.csv: in the folder but not in "
                            "export_complete.json; ieps.csv: sha256 differs from export_complete.json (the file is "
                            "not the one the student system finished)")
    (tmp_path / sources.MARKER).write_text('{"files": {"students.csv": {"rows": "many"}}}')
    with pytest.raises(DataError, match="not a valid completion marker"):
        sources.read_marker(tmp_path)


def test_a_required_marker_that_is_missing_is_waited_for_not_a_data_error(tmp_path, settings):
    from iepwatch.district import load_config

    settings({"quality": {"require_completion_marker": True}})
    (tmp_path / "students.csv").write_text("student_id\n")
    with pytest.raises(errors.ExportNotReady, match="has no export_complete.json yet"):
        sources.find_export(load_config(), AS_OF, str(tmp_path))
    (tmp_path / sources.MARKER).write_text('{"files": {}}')
    assert sources.find_export(load_config(), AS_OF, str(tmp_path)) == tmp_path


def test_a_tampered_archive_is_a_data_error_on_reuse(published_night, data_dir, demo_export, capfd):
    shutil.copytree(published_night, data_dir)
    (archived,) = (data_dir / "landing" / str(AS_OF)).iterdir()
    students = archived / "students.csv"
    students.chmod(0o644)
    data = rows(students)
    write_rows(students, data[:-1])                     # one student deleted from the archived copy
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(demo_export)})
    log = "".join(capfd.readouterr())
    assert_failed_fast(state, tis, log, "archive_export", "was tampered with",
                       "students.csv: sha256 differs from the export's")
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")


def test_an_archive_changed_with_its_manifest_is_still_caught(published_night, data_dir, demo_export, capfd):
    """A file and the manifest beside it both changed: the archive is checked against the source's
    checksums, just computed, so the changed data is not published under the export's id."""
    import hashlib

    shutil.copytree(published_night, data_dir)
    (archived,) = (data_dir / "landing" / str(AS_OF)).iterdir()
    students = archived / "students.csv"
    students.chmod(0o644)
    write_rows(students, rows(students)[:-1])
    manifest = archived / sources.MANIFEST
    manifest.chmod(0o644)
    m = json.loads(manifest.read_text())
    m["files"]["students.csv"] = {"sha256": hashlib.sha256(students.read_bytes()).hexdigest(),
                                  "bytes": students.stat().st_size}
    manifest.write_text(json.dumps(m))
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(demo_export)})
    log = "".join(capfd.readouterr())
    assert_failed_fast(state, tis, log, "archive_export", "was tampered with",
                       "students.csv: sha256 differs from the export's")
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")


def test_yesterdays_export_delivered_again_is_warned_about(after_good_night, data_dir, capfd, caplog):
    state, tis, log = run_next_night(after_good_night, capfd)     # the same files as the night before
    assert state == "success", tis
    expected = f"tonight's export is byte-identical to the export of {AS_OF}"
    assert any(r.levelname == "WARNING" and expected in r.getMessage() for r in caplog.records)
    assert expected in (data_dir / "runs" / str(NEXT) / "warnings.txt").read_text()
    summary = json.loads((data_dir / "runs" / str(NEXT) / "summary.json").read_text())
    assert any(expected in w for w in summary["warnings"])


def test_not_enough_disk_space_fails_before_anything_is_written(district, tmp_path, settings, data_dir):
    from airflow.sdk.exceptions import AirflowFailException

    from iepwatch.night import Night
    from iepwatch.tasks import iep_nightly as t

    settings({"quality": {"min_free_disk_mb": 10**9}})      # a petabyte of margin: no disk has it
    folder = district.write(tmp_path / "export")
    with pytest.raises(AirflowFailException, match=r"^HOST ERROR: not enough disk space in .* MB free, the night "
                                                   r"needs about .* MB .*nothing was changed"):
        t.archive_export(Night(AS_OF, export_dir=folder))
    assert not (data_dir / "landing").exists()


def test_a_file_rewritten_while_it_is_archived_leaves_no_archive(demo_export, data_dir, monkeypatch, tmp_path):
    """The student system rewrites a file between its checksum and its copy (files are hashed and
    copied two at a time): the archive refuses the copy and leaves nothing in the landing folder.
    The files it keeps carry their own checksums in its manifest."""
    from iepwatch.district import load_config

    export = tmp_path / "export"
    shutil.copytree(demo_export, export)
    copy = shutil.copy2

    def rewritten_first(src, dst):
        if src.name == "ieps.csv":
            write_rows(src, rows(src)[:-1])   # the last IEP removed while the night reads the folder
        return copy(src, dst)

    monkeypatch.setattr(sources.shutil, "copy2", rewritten_first)
    with pytest.raises(OSError, match="ieps.csv changed while it was being archived"):
        sources.archive(load_config(), AS_OF, export)
    assert not [p for p in (data_dir / "landing" / str(AS_OF)).iterdir()]
    monkeypatch.setattr(sources.shutil, "copy2", copy)
    kept = sources.archive(load_config(), AS_OF, export)
    manifest = json.loads((kept.path / sources.MANIFEST).read_text())["files"]
    assert {n: sources.sha256_file(kept.path / n) for n in manifest} == {n: m["sha256"] for n, m in manifest.items()}
    assert sorted(manifest) == sorted(p.name for p in export.iterdir())


def test_an_export_root_that_does_not_exist_and_a_data_folder_that_cannot_be_written_are_named(
        tmp_path, settings, data_dir, monkeypatch):
    """A CONFIG ERROR naming the setting and what set it, at once: not a traceback, not an export
    "not there yet"."""
    import pytest
    from airflow.sdk.exceptions import AirflowFailException
    from builder import AS_OF
    from helpers import logical_date

    from iepwatch.tasks import iep_nightly as t

    settings({})
    monkeypatch.setenv("IEPWATCH_EXPORT_ROOT", str(tmp_path / "no-such-root"))
    with pytest.raises(AirflowFailException, match=r"CONFIG ERROR: paths.export_root .*no-such-root \(set by "
                                                   r"IEPWATCH_EXPORT_ROOT\) does not exist"):
        t.find_export(params={}, logical_date=logical_date(AS_OF))
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(tmp_path / "a-file" / "data"))
    with pytest.raises(AirflowFailException, match=r"CONFIG ERROR: paths.data_dir .*a-file/data \(set by "
                                                   r"IEPWATCH_DATA_DIR\) cannot be written"):
        t.find_export(params={}, logical_date=logical_date(AS_OF))
