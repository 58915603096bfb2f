"""The benchmark itself runs, on a small district: every stage of both DAGs printed, and the
coordinator table's premise (more coordinators, the same exceptions). Its figures are not
checked: speed targets live in what the bench prints, never in a test."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tools import bench

pytestmark = pytest.mark.bench
STUDENTS = 300


def test_the_bench_prints_every_stage_of_both_dags_and_its_floor(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tools.bench", "--students", str(STUDENTS), "--no-nightly",
                          "--no-districts"],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "IEPWATCH_DATA_DIR": str(tmp_path), "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    printed = out.stdout
    nights = re.findall(r"^NIGHT   300 students, [\d,]+ MB of CSV, (the demo's teams|larger teams \(\+12\)): "
                        r"([\d.]+) members per meeting \([\d,]+ rows\); ([\d,]+) digests sent", printed, re.MULTILINE)
    assert [n[0] for n in nights] == ["the demo's teams", "larger teams (+12)"], printed
    assert float(nights[0][1]) < 7 and 15 < float(nights[1][1]) < 19, "the larger teams: about 17 members"
    assert all(int(n[2].replace(",", "")) > 0 for n in nights)
    stages = [*bench.NIGHTLY, "resolve_as_of", "prepare_facts", *(f"build_extract {f}" for f in bench._formats()),
              "publish_extracts (files + Data Docs)"]
    for stage in stages:
        assert len(re.findall(rf"^  {re.escape(stage)}\s+\d+\.\d\d\s+[\d,]+$", printed, re.MULTILINE)) == 2, stage
    same = re.findall(r"floor: \+ the rules SQL on it\s+[\d.]+  \(([\d,]+) rule results; the night's ([\d,]+): "
                      r"the same\)", printed)
    assert len(same) == 2 and all(a == b != "0" for a, b in same), "the same rules on the same export, the same results"
    ratios = re.findall(r"load \+ rules \(archive \.\. evaluate_rules\)\s+([\d.]+)  = ([\d.]+)x the floor "
                        r"\(target <= 2x: (met|NOT MET)\)", printed)
    floors = [float(f) for f in re.findall(r"floor: the same work, plain DuckDB\s+([\d.]+)", printed)]
    assert len(ratios) == len(floors) == 2
    kept = re.findall(r"the same work kept in a DuckDB file\s+([\d.]+)  = ([\d.]+)x the floor \(read ([\d.]+) \+ rules "
                      r"([\d.]+): ", printed)
    assert len(kept) == 2, "the same work with its tables written to a file, beside the floor"
    for (seconds, ratio, read, rules), fl in zip(kept, floors, strict=True):
        assert abs(float(read) + float(rules) - float(seconds)) <= 0.02
        assert abs(float(seconds) / fl - float(ratio)) <= 0.02 + 0.01 / fl
    against_kept = re.findall(r"load \+ rules against the work kept\s+([\d.]+)  = ([\d.]+)x the same work kept in a "
                              r"DuckDB file \(a yardstick proposed .*: <= 2x (met|NOT MET)\)", printed)
    assert len(against_kept) == 2, "the night against the floor's work kept in a file, beside it"
    for (seconds, ratio, verdict), (kept_s, _, _, _) in zip(against_kept, kept, strict=True):
        _check_ratio(float(seconds), float(kept_s), ratio, verdict)
    for (seconds, ratio, verdict), fl in zip(ratios, floors, strict=True):
        _check_ratio(float(seconds), fl, ratio, verdict)
    assert re.search(r"rules stage, texas pack \(best of 2\)\s+[\d.]+  = [\d.]+x federal \(target <= 1.25x: "
                     r"(met|NOT MET)\)", printed)
    assert re.search(r"read from PostgreSQL \(export_source\)\s+([\d.]+  = [\d.]+x|skipped: )", printed)
    assert re.search(r"^MACHINE   \d+ cores .*load average [\d.]+ / [\d.]+ / [\d.]+", printed, re.MULTILINE)
    assert (tmp_path / "bench" / "night-300" / "extracts").is_dir()


def _check_ratio(seconds: float, base: float, ratio: str, verdict: str) -> None:
    """A printed ``seconds / base`` within the rounding of both printed figures (0.01 s), and its
    verdict against 2x where the figures are clearly on one side of it."""
    low, high = (seconds - 0.005) / (base + 0.005), (seconds + 0.005) / (base - 0.005)
    assert low - 0.005 <= float(ratio) <= high + 0.005
    if abs(seconds - 2 * base) > 0.02:
        assert verdict == ("met" if seconds < 2 * base else "NOT MET")


def test_the_scheduler_gaps_are_the_worker_slots_that_ran_no_task(capsys):
    from datetime import datetime, timedelta

    from tools.bench_districts import report

    t = datetime(2026, 12, 1, 2)
    at = lambda a, b: (t + timedelta(seconds=a), t + timedelta(seconds=b))   # noqa: E731
    runs = {f"{k}__{d}": dict(zip(("start", "end"), at(a, b), strict=True)) | {"state": "success"}
            for k, d, a, b in [("iep_nightly", "d1", 0, 30), ("state_reporting", "d1", 31, 50),
                               ("iep_nightly", "d2", 0, 40), ("state_reporting", "d2", 41, 58)]}
    tasks = [at(0, 10), at(1, 11), at(12, 30), at(13, 40), at(31, 50), at(41, 58)]   # 10+10+18+27+19+17 s
    report(runs, tasks, ["d1", "d2"], 2000, total=60.0, started=20.0, parsed=1.0, sent=4, slots=4)
    out = capsys.readouterr().out
    assert re.search(r"DAGs turned on -> the roll-up\s+60.00  \(target < 360 s: met\)", out)
    assert re.search(r"a district night \(iep_nightly\), median / max\s+35.00 / 40.00", out)
    assert re.search(r"task time in all .*\s+101.00", out)
    assert re.search(r"scheduler gaps: worker slots running no task\s+139.00  \(58 % of 4 slots x 60 s\)", out)


def test_a_deployment_measured_or_tested_runs_one_night_and_no_deadline_alert():
    """The districts' schedule ticked an hour before they are turned on: the next tick and the
    deadline are 22 hours or more away, and the night is the one of the last tick."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from croniter import croniter

    from iepwatch.alerts import deadline_interval
    from tools.cluster import quiet_schedule

    la = ZoneInfo("America/Los_Angeles")
    for now, cron, deadline, as_of in [(datetime(2026, 12, 7, 1, 58, tzinfo=la), "58 0 * * *", "22:58", "2026-12-07"),
                                       (datetime(2026, 12, 7, 0, 30, tzinfo=la), "30 23 * * *", "21:30", "2026-12-06"),
                                       (datetime(2026, 12, 7, 7, 15, tzinfo=la), "15 6 * * *", "04:15", "2026-12-07")]:
        q = quiet_schedule("America/Los_Angeles", now)
        assert (q.cron, q.deadline, q.as_of.isoformat()) == (cron, deadline, as_of)
        assert croniter(q.cron, now).get_next(datetime) - now >= timedelta(hours=22)
        assert deadline_interval(q.cron, q.deadline) == timedelta(hours=22)   # the DAG's own deadline alert


def test_the_coordinator_table_grows_the_coordinators_and_keeps_the_exceptions(tmp_path, capsys):
    from tools.demo import demo_schools

    bench.coordinators(tmp_path, STUDENTS)
    table = re.compile(r"^\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+\d+\.\d\d$")
    rows = [tuple(int(v.replace(",", "")) for v in m.groups())
            for m in map(table.match, capsys.readouterr().out.splitlines()) if m]
    assert [(r[0], r[1]) for r in rows] == [(demo_schools(STUDENTS) * f, demo_schools(STUDENTS) * f // 2)
                                            for f in bench.COORDINATOR_FACTORS], rows
    assert len({r[2] for r in rows}) == 1 and rows[0][2] > 0, f"the same lines, however many coordinators: {rows}"
    assert rows[0][3] < rows[1][3] < rows[2][3], f"more digests as the coordinators grow: {rows}"
