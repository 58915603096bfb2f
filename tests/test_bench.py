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
    out = subprocess.run([sys.executable, "-m", "tools.bench", "--students", str(STUDENTS), "--no-nightly"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "IEPWATCH_DATA_DIR": str(tmp_path), "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    printed = out.stdout
    sent = re.search(r"NIGHT   300 students, [\d,]+ MB of CSV; ([\d,]+) digests sent to a local SMTP server", printed)
    assert sent and int(sent.group(1)) > 0, printed
    stages = [*bench.NIGHTLY, "resolve_as_of", "prepare_facts", *(f"build_extract {f}" for f in bench._formats()),
              "publish_extracts (GX + files)"]
    for stage in stages:
        assert re.search(rf"^  {re.escape(stage)}\s+\d+\.\d\d\s+[\d,]+$", printed, re.MULTILINE), stage
    assert re.search(r"^  floor: bare read_csv \(best of 2\)\s+\d+\.\d\d$", printed, re.MULTILINE)
    assert re.search(r"load \+ rules \(archive \.\. evaluate_rules\)\s+[\d.]+  = [\d.]+x the floor", printed)
    same = re.search(r"same work: bare read \+ the rules SQL\s+[\d.]+  \(the night's rules SQL in memory: "
                     r"([\d,]+) rule results, the night ([\d,]+); load \+ rules = [\d.]+x", printed)
    assert same and same.group(1) == same.group(2) != "0", "the same rules on the same export, the same results"
    assert re.search(r"rules stage, texas pack \(best of 2\)\s+[\d.]+  = [\d.]+x federal", printed)
    assert re.search(r"read from PostgreSQL \(export_source\)\s+([\d.]+  = [\d.]+x|skipped: )", printed)
    assert (tmp_path / "bench" / "night-300" / "extracts").is_dir()


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
