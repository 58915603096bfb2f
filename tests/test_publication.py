"""One publication for the whole night: a night killed or out of disk after any task leaves the
previous night whole for every reader, and running it again gives what a clean run gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from builder import AS_OF
from helpers import NEXT, run_night_in_process

from iepwatch import run_record
from iepwatch.district import load_config
from iepwatch.extracts import served

# every task of the night (iep_nightly, then state_reporting) after which it can be killed
# (find_export writes nothing; build_extract: its first mapped instance)
KILL_POINTS = ("archive_export", "load_staging", "validate_export", "evaluate_rules", "build_exceptions",
               "update_corrections_ledger", "publish_night", "send_coordinator_emails", "build_data_docs",
               "finish_night", "resolve_as_of", "prepare_facts", "build_extract", "publish_extracts")
PUBLISHED_AT = KILL_POINTS.index("publish_night")
SERVED_AT = KILL_POINTS.index("publish_extracts")


def cli_night(day, export: Path, data: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.cli", "night", "--date", str(day), "--export", str(export)],
                          env={**os.environ, "IEPWATCH_DATA_DIR": str(data), **env}, capture_output=True, text=True,
                          timeout=900)


def two_exports(folder: Path, students: int) -> dict:
    """The demo district's exports of AS_OF and NEXT under ``folder``, by night."""
    from tools.demo import generate

    exports = {day: folder / str(day) for day in (AS_OF, NEXT)}
    for day, export in exports.items():
        generate(export, students=students, as_of=day)
    return exports


def seen(data: Path) -> dict:
    """What the readers of the data folder see as the published night: the warehouse's core and
    facts views, the record of what is published, the page's latest night, the extracts' night."""
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        core = con.execute("SELECT as_of FROM core.export").fetchone()[0]
        students = con.execute("SELECT count(*) FROM core.students").fetchone()[0]
        facts = con.execute("SELECT min(as_of), max(as_of) FROM facts.rule_results").fetchone()
        published = con.execute("SELECT as_of FROM ops.slots WHERE published").fetchone()[0]
    finally:
        con.close()
    manifests = {json.loads(p.read_text())["as_of"] for p in served.manifests(data / "extracts")}
    return {"core": str(core), "students": students, "facts": [str(facts[0]), str(facts[1])],
            "published": str(published), "page": run_record.nights(data)[-1], "extracts": sorted(manifests)}


def outputs(data: Path, day) -> dict[str, str]:
    """The night's files a reader uses, by sha256 (an extract's generated_at left out: the time it was made)."""
    from tools.fingerprint import digest

    files = [run_record.folder(data, day) / n for n in (run_record.EXCEPTIONS, run_record.SUMMARY,
                                                         run_record.FINDINGS)]
    files += sorted(p for p in (data / "extracts").rglob("*") if p.is_file() and "history" not in p.parts)
    return {str(f.relative_to(data)): digest(f) for f in files if f.is_file()}


def test_a_night_killed_after_any_task_leaves_a_whole_night_and_its_rerun_is_a_clean_run(
        airflow_db, smtp, tmp_path):
    """``kill -9`` of the process running the night, right after each task: before publish_night
    commits, every reader sees the previous night whole (core, facts, the page, the extracts);
    from then on the new night whole. The next `make nightly` of the night needs no backfill and
    gives the files a clean run gives, with each digest sent once."""
    from tools.mailcatcher import MailCatcher, connection_uri

    exports = two_exports(tmp_path / "exports", students=60)
    data, clean = tmp_path / "data", tmp_path / "clean"

    assert cli_night(AS_OF, exports[AS_OF], data).returncode == 0
    yesterday = seen(data)
    assert yesterday["core"] == yesterday["published"] == yesterday["page"] == str(AS_OF)
    before = smtp.catcher.received
    for i, task in enumerate(KILL_POINTS):
        run = cli_night(NEXT, exports[NEXT], data, IEPWATCH_KILL_AFTER=task)
        assert run.returncode != 0, (task, run.stdout)
        said = run.stdout + run.stderr
        assert f"FAILED for {NEXT}" in said and "killed (SIGKILL)" in said, (task, said)
        now = seen(data)
        if i < PUBLISHED_AT:
            assert now == yesterday, f"killed after {task}: the previous night is no longer whole: {now}"
        else:
            assert now["core"] == now["published"] == now["page"] == str(NEXT), (task, now)
            assert now["facts"] == [str(NEXT)] * 2, (task, now)
            served_now = [str(AS_OF), str(NEXT)] if i >= SERVED_AT else [str(AS_OF)]
            assert now["extracts"] == served_now, ("the extracts are served for a whole set of formats only", task)
    killed = [m for m in smtp.messages()
              if m["To"] == "data-team@example.org" and "the night was killed" in m["Subject"]]
    assert len(killed) == len(KILL_POINTS), "each kill is told to the data team by make nightly"
    assert cli_night(NEXT, exports[NEXT], data).returncode == 0, "the night is run again as it is, not as a backfill"
    sent_with_kills = smtp.catcher.received - before - len(killed)

    with MailCatcher(tmp_path / "clean-outbox") as catcher:
        mail = {"AIRFLOW_CONN_SMTP_DEFAULT": connection_uri(catcher.port)}
        assert cli_night(AS_OF, exports[AS_OF], clean, **mail).returncode == 0
        before = catcher.received
        assert cli_night(NEXT, exports[NEXT], clean, **mail).returncode == 0
        sent_clean = catcher.received - before
    assert seen(data) == seen(clean)
    assert outputs(data, NEXT) == outputs(clean, NEXT)
    assert sent_with_kills == sent_clean > 0, "each digest of the night once, killed or not"


def test_a_night_does_not_publish_over_a_newer_one(data_dir, tmp_path):
    """An orphan of a killed run reaching its publication after a newer night was published is
    refused, naming both nights: the data never goes back in time."""
    from airflow.sdk.exceptions import AirflowFailException

    from iepwatch.district import load_config
    from iepwatch.ingest import load
    from iepwatch.tasks import iep_nightly as t

    exports = two_exports(tmp_path, students=40)
    first = run_night_in_process(exports[AS_OF], AS_OF)
    run_night_in_process(exports[NEXT], NEXT)
    with pytest.raises(AirflowFailException, match=f"the night of {NEXT} was published while the night of {AS_OF} "
                                                  "ran"):
        t.publish_night(first)
    assert load.published_night_of(load_config()) == NEXT


# every task of iep_nightly that writes to the data folder
WRITERS = ("archive_export", "load_staging", "validate_export", "evaluate_rules", "build_exceptions",
           "update_corrections_ledger", "publish_night", "send_coordinator_emails", "build_data_docs")


@pytest.fixture
def small_disk(tmp_path):
    """A 128 MB tmpfs of its own (root only: mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (2**20, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_disk_that_fills_during_any_writing_task_is_named_alerted_and_leaves_the_last_night_whole(
        airflow_db, small_disk, smtp, settings, monkeypatch, tmp_path, capfd):
    """The data folder's disk made full as each writing task starts: the task fails at once with a
    HOST ERROR naming the folder and what is free, the data team gets the alert over SMTP (it
    needs no disk), the previous night stays whole; with space again, the night runs clean."""
    import email
    import email.policy
    import functools

    from helpers import run_dag

    from iepwatch.tasks import iep_nightly as t

    data = small_disk / "data"
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(data))
    settings({"quality": {"min_free_disk_mb": 1}})
    exports = two_exports(tmp_path / "exports", students=60)
    state, tis = run_dag("iep_nightly", AS_OF, {"export_dir": str(exports[AS_OF])})
    assert state == "success", tis
    yesterday = seen(data)
    sent_before = smtp.catcher.received
    data_team_before = sum(b"To: data-team@example.org" in p.read_bytes() for p in smtp.outbox.glob("*.eml"))
    fails = 0
    for task in WRITERS:
        original = getattr(t, task)

        @functools.wraps(original)
        def full_first(*args, __original=original, **kwargs):
            fill(data)
            return __original(*args, **kwargs)

        monkeypatch.setattr(t, task, full_first)
        before = set(smtp.outbox.glob("*.eml"))
        capfd.readouterr()
        state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(exports[NEXT])})
        log = "".join(capfd.readouterr())
        monkeypatch.setattr(t, task, original)
        (data / "filler").unlink()
        fails += state == "failed"
        failed = sorted(k for k, (st, _) in tis.items() if st == "failed" and "[" not in k)
        # a task that needed no new space (DuckDB reusing its file's free blocks) may pass on a full
        # disk; the disk is still full for the tasks after it: whatever fails, fails as a full disk
        assert state == "success" or failed, (task, tis)
        assert all(tis[k] == ("failed", 1) for k in failed), ("no retries", task, tis)
        if failed:
            said = next(line for line in log.splitlines() if "HOST ERROR: " in line and "raise " not in line)
            assert str(data) in said and "MB free" in said, (task, said)
        alerts = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                  for p in set(smtp.outbox.glob("*.eml")) - before]
        subjects = sorted(m["Subject"].split(": ", 1)[1] for m in alerts if m["To"] == "data-team@example.org"
                          and "failed" in m["Subject"])
        assert subjects == [f"iep_nightly.{k} failed (HOST ERROR)" for k in failed], (task, subjects)
        if tis["publish_night"][0] != "success":
            assert seen(data) == yesterday, f"disk full in {task}: the previous night is no longer whole"
        else:   # published: the new night, whole
            now = seen(data)
            assert now["core"] == now["page"] == now["published"] == str(NEXT) and now["facts"] == [str(NEXT)] * 2
    assert fails, "the full disk failed no task at all"
    state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(exports[NEXT])})
    assert state == "success", tis
    assert seen(data)["page"] == seen(data)["core"] == str(NEXT)
    received = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in smtp.outbox.glob("*.eml")]
    digests = [m for m in received if m["X-IEPWatch-As-Of"] == str(NEXT)]
    to_data_team = [m for m in received if m["To"] == "data-team@example.org"]   # each its own file
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        recorded = con.execute("SELECT count(*) FROM ops.email_sends WHERE as_of = ?", [NEXT]).fetchone()[0]
    finally:
        con.close()
    sends = smtp.catcher.received - sent_before - (len(to_data_team) - data_team_before)
    assert sends == recorded == len(digests) > 0 and \
        len(digests) == recorded, "each digest sent once, though the disk was full when the emails began"


def test_a_mail_server_that_is_down_does_not_hold_back_the_states_extracts(airflow_db, tmp_path):
    """SMTP down for the whole night: the night is published, its emails fail (the run is red and
    says so), and state_reporting builds the night's extracts all the same."""
    import yaml

    from tools.demo import generate
    from tools.mailcatcher import connection_uri, free_port

    export = tmp_path / "export"
    generate(export, students=40, as_of=AS_OF)
    config = tmp_path / "no-retries.yaml"
    config.write_text(yaml.safe_dump({"email": {"send_retries": 0}}))
    data = tmp_path / "data"
    run = cli_night(AS_OF, export, data, IEPWATCH_CONFIG=str(config),
                    AIRFLOW_CONN_SMTP_DEFAULT=connection_uri(free_port()))   # nothing listens there
    said = run.stdout + run.stderr
    assert run.returncode != 0 and f"iep_nightly FAILED for {AS_OF}" in said, said
    assert "send_coordinator_emails" in (data / "runs" / str(AS_OF) / run_record.FAILURES).read_text()
    now = seen(data)
    assert now["core"] == now["page"] == str(AS_OF) and now["extracts"] == [str(AS_OF)], now


def test_a_night_published_again_from_a_replaced_export_after_its_digests_tells_the_data_team(
        district, smtp, settings, tmp_path):
    """The night's digests went out; the student system then replaced the export and the night was
    run again: its digests are not sent twice, and the data team is told at once (and by the
    night's warnings) that the published night changed under them, once per replacement."""
    from datetime import timedelta

    settings({"quality": {"quarantine_threshold_pct": 100}})
    late, still_late = district.student(school="SCH1"), district.student(school="SCH1")
    for student in (late, still_late):
        district.meeting(student, held=AS_OF - timedelta(days=400), kind="annual", team=False, notice=False)
    run_night_in_process(district.write(tmp_path / "first"), AS_OF, emails=True)
    digests = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(AS_OF)]
    assert digests
    district.meeting(late, held=AS_OF - timedelta(days=10), kind="annual")   # the replaced export: the review held
    replaced = district.write(tmp_path / "replaced")
    run_night_in_process(replaced, AS_OF, emails=True)
    summary = json.loads((run_record.folder(load_config().data_dir, AS_OF) / run_record.SUMMARY).read_text())
    assert any("published again from a replaced export" in w for w in summary["warnings"]), summary["warnings"]
    run_night_in_process(replaced, AS_OF, emails=True)   # the replaced export again: nothing more to tell
    to_team = [m for m in smtp.messages() if m["To"] == "data-team@example.org"
               and "published again from a replaced export" in m["Subject"]]
    assert len(to_team) == 1, [m["Subject"] for m in smtp.messages()]
    assert f"after its {len(digests)} coordinator digest" in to_team[0].get_body(("html",)).get_content()
    assert len([m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(AS_OF)]) == len(digests)
    # the next night: the coordinator's digest says what changed against the digest of the night they had
    run_night_in_process(district.write(tmp_path / "next"), NEXT, emails=True)
    (following,) = [m for m in smtp.messages() if m["X-IEPWatch-As-Of"] == str(NEXT)]
    text = following.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert (f"The night of {AS_OF} of your last report was published again from a corrected export: 1 item it "
            "listed is no longer an exception that night; 1 was not in it") in " ".join(text.split()), text[:800]
    # the review held since (late): not in the digest they had, so marked new though detected that night
    assert "New since the last report: 1" in text and "[NEW]" in text


def test_the_space_check_asks_for_what_a_whole_night_writes(small_disk, settings, monkeypatch, tmp_path, smtp):
    """With exactly the space the check asks for left free (five times the export plus the
    margin, here 8 MB), a whole night (rules, emails, Data Docs, every extract) fits in it."""
    import shutil

    from iepwatch.ingest import sources
    from iepwatch.tasks import iep_nightly as t
    from iepwatch.tasks import state_reporting as s

    data = small_disk / "data"
    monkeypatch.setenv("IEPWATCH_DATA_DIR", str(data))
    settings({"quality": {"min_free_disk_mb": 8}})
    exports = two_exports(tmp_path / "exports", students=3000)

    def whole(day):
        night = run_night_in_process(exports[day], day, emails=True)
        t.build_data_docs(night)
        s.publish_extracts(night, [s.build_extract(f, night) for f in s.prepare_facts(night)])

    whole(AS_OF)
    need, free = sources.space_needed(load_config(), exports[NEXT]), shutil.disk_usage(data).free
    assert free > need
    with (data / "filler").open("wb") as f:   # leave what the check asks for (to the page)
        os.posix_fallocate(f.fileno(), 0, (free - need) // 4096 * 4096)
    assert need <= shutil.disk_usage(data).free < need + 4096
    whole(NEXT)
    assert seen(data)["page"] == seen(data)["core"] == str(NEXT)
