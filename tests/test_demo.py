"""The demo generator: deterministic for a seed, synthetic only."""

from __future__ import annotations

import hashlib

from tools.demo import generate


def test_demo_generator_is_deterministic_for_a_seed(tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}

    a = generate(tmp_path / "a", students=500, seed=3)
    assert a == generate(tmp_path / "b", students=500, seed=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(tmp_path / "c", students=500, seed=4)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a["students"] == 500 and a["schools"] == 8


def test_the_demos_findings_are_matched_in_its_own_night(tmp_path, data_dir, settings):
    """The demo's findings folder names cases its export has: on the demo night the ledger finds
    every one (none unmatched), and the B11 finding's late evaluations that were completed count
    as corrected."""
    import duckdb
    from builder import AS_OF
    from helpers import run_night_in_process

    from iepwatch.tasks import iep_nightly as t
    from tools.demo import findings

    export = tmp_path / "export"
    generate(export, students=2000, as_of=AS_OF)
    made = findings(export, data_dir / "findings", AS_OF)
    assert made["findings"] == 2 and made["instances"] >= 12
    settings({})
    t.update_corrections_ledger(run_night_in_process(export, AS_OF))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        got = dict(con.execute("SELECT finding_id, list(status) FROM corrections.ledger_instances "
                               "GROUP BY 1").fetchall())
    assert set(got) == {"F-B11-1", "F-NOTICE-1"}
    assert "unmatched" not in got["F-B11-1"] + got["F-NOTICE-1"]
    assert "corrected" in got["F-B11-1"]
