"""Benchmarks: a script that prints figures (never a timed unit test).

    python -m iepwatch.bench [--students 100000 1000000]

For each size it generates an export (kept under ``<data_dir>/bench/``), then runs the
night's stages with the package's own functions (Airflow's fixed start-up excluded):
the ingest stages against a bare DuckDB ``read_csv`` of the same files, then the rules
and exceptions stages in a fresh process of their own, so that its peak memory is theirs.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from datetime import date
from pathlib import Path

from iepwatch.demo import DEMO_AS_OF


class Stopwatch:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def __call__(self, name: str):
        watch = self

        class _Timer:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                watch.stages[name] = watch.stages.get(name, 0.0) + time.perf_counter() - self.t

        return _Timer()


def bare_read(folder: Path) -> float:
    """All files read into an in-memory DuckDB with read_csv (the floor for any loader)."""
    import duckdb

    from iepwatch.contract import TABLES
    from iepwatch.warehouse import literal

    con = duckdb.connect()
    t = time.perf_counter()
    for tb in TABLES:
        con.execute(f"CREATE TABLE {tb.name} AS SELECT * FROM read_csv({literal(folder / tb.file)}, header = true)")
    seconds = time.perf_counter() - t
    con.close()
    return seconds


def bench_ingest(students: int, root: Path, as_of: date = DEMO_AS_OF) -> dict:
    from iepwatch import load, sources, warehouse
    from iepwatch.config import load_config
    from iepwatch.demo import generate
    from iepwatch.quality import gate, gx
    from iepwatch.quality.suites import load_suites

    export = root / "exports" / f"{students}" / as_of.isoformat()
    if not (export / "students.csv").exists():
        t = time.perf_counter()
        generate(export, students=students, as_of=as_of)
        print(f"  generated {students:,} students in {time.perf_counter() - t:.1f}s")
    data = root / f"data-{students}"
    os.environ["IEPWATCH_DATA_DIR"] = str(data)
    for p in (data / "warehouse.duckdb", data / "warehouse.duckdb.wal"):
        p.unlink(missing_ok=True)
    cfg = load_config()
    watch = Stopwatch()
    bare = min(bare_read(export) for _ in range(2))
    with watch("archive"):
        arc = sources.archive(cfg, as_of, export)
    suites = load_suites("ingest", as_of)
    with warehouse.connect(cfg) as con:
        with watch("load"):
            slot, staged = load.load_staging(con, arc.path, as_of, arc.export_id)
        with watch("validate: keys + quarantine (DuckDB)"):
            gate.check_keys(con, suites)
            gate.quarantine(con, suites, slot, as_of, cfg.quality.quarantine_threshold_pct)
    with warehouse.connect(cfg) as con, watch("publish"):
        load.publish(con, slot, as_of, arc.export_id)
    with watch("GX validation + Data Docs (after publish)"):
        results = gx.validate(cfg.warehouse, ["ingest"], as_of, cfg.paths.datadocs_dir)
    with warehouse.connect(cfg) as con:
        assert not gate.disagreements(con, results, slot)
    rows = sum(v["rows"] for v in staged.values())
    return {"students": students, "rows": rows, "bare": bare, "stages": watch.stages,
            "bytes": sum(f.stat().st_size for f in export.glob("*.csv"))}


def report_ingest(r: dict) -> None:
    total = sum(r["stages"].values())
    print(f"\nINGEST  {r['students']:,} students, {r['rows']:,} rows, {r['bytes'] / 1e6:,.0f} MB of CSV")
    print(f"  {'bare read_csv of the same files':<42} {r['bare']:7.2f}s")
    for name, s in r["stages"].items():
        print(f"  {name:<42} {s:7.2f}s")
    gx = r["stages"]["GX validation + Data Docs (after publish)"]
    print(f"  {'ingest: archive+load+gate+publish':<42} {total - gx:7.2f}s  = {(total - gx) / r['bare']:.1f}x bare read"
          " (target <= 3x)")
    print(f"  {'ingest with the GX run':<42} {total:7.2f}s  = {total / r['bare']:.1f}x bare read")


def bench_rules(students: int, root: Path, as_of: date = DEMO_AS_OF, pack: str = "federal") -> dict:
    """Rules and exceptions on the published warehouse of ``bench_ingest`` (run in a fresh process),
    under the state pack ``pack`` (the demo export has a school calendar and absences)."""
    import yaml

    from iepwatch import rules, warehouse
    from iepwatch.config import load_config

    os.environ["IEPWATCH_DATA_DIR"] = str(root / f"data-{students}")
    override = root / f"pack-{pack}.yaml"
    override.write_text(yaml.safe_dump({"rules": {"state_pack": pack}}))
    os.environ["IEPWATCH_CONFIG"] = str(override)
    cfg = load_config()
    watch = Stopwatch()
    with warehouse.connect(cfg) as con:
        with watch("rules: facts + rule_results"):
            counts = rules.evaluate(con, cfg, as_of)
        with watch("exceptions + exceptions.csv"):
            rules.build_exceptions(con, as_of)
            rules.write_exceptions_csv(con, as_of, cfg.run_dir(as_of) / "exceptions.csv")
        exceptions = con.execute("SELECT count(*) FROM compliance.exceptions WHERE as_of = ?", [as_of]).fetchone()[0]
    return {"stages": watch.stages, "evaluated": sum(sum(v.values()) for v in counts.values()),
            "exceptions": exceptions, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_child(stage: str, students: int, pack: str = "federal") -> dict:
    """Run one stage in a fresh interpreter and return its figures (JSON on the last stdout line)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "iepwatch.bench", "--stage", stage, "--students", str(students),
                          "--pack", pack], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench stage {stage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    import json

    from iepwatch.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--stage", choices=["ingest", "rules"], help=argparse.SUPPRESS)
    ap.add_argument("--pack", default="federal", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    root = load_config().data_dir / "bench"
    if args.stage:  # child process: print the figures as JSON
        result = bench_ingest(args.students[0], root) if args.stage == "ingest" else \
            bench_rules(args.students[0], root, pack=args.pack)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    for n in args.students:
        ingest = _in_child("ingest", n)
        report_ingest(ingest)
        print(f"  {'peak memory (ingest process)':<42} {ingest['peak_mb']:7,.0f} MB")
        r = _in_child("rules", n)
        print(f"\nRULES   {n:,} students: {r['evaluated']:,} items evaluated, {r['exceptions']:,} exceptions")
        for name, sec in r["stages"].items():
            print(f"  {name:<42} {sec:7.2f}s")
        print(f"  {'peak memory (rules process)':<42} {r['peak_mb']:7,.0f} MB")
        tx = _in_child("rules", n, "texas")
        fed_rules, tx_rules = r["stages"]["rules: facts + rule_results"], tx["stages"]["rules: facts + rule_results"]
        print(f"\nRULES   {n:,} students, texas pack (school days, absences): {tx['exceptions']:,} exceptions")
        for name, sec in tx["stages"].items():
            print(f"  {name:<42} {sec:7.2f}s")
        print(f"  {'peak memory (rules process)':<42} {tx['peak_mb']:7,.0f} MB")
        print(f"  {'texas / federal rules stage':<42} {tx_rules / fed_rules:7.2f}x (target <= 1.25x)")
        gx = ingest["stages"]["GX validation + Data Docs (after publish)"]
        through = sum(ingest["stages"].values()) - gx + sum(r["stages"].values())
        print(f"\nNIGHT   {n:,} students through the exceptions (no Airflow start-up, no GX run): "
              f"{through:.1f}s (target at 1,000,000: < 90 s, < 6 GB)")
        tx_through = sum(ingest["stages"].values()) - gx + sum(tx["stages"].values())
        print(f"        the same under the texas pack: {tx_through:.1f}s")
        print(f"        with the GX validation and Data Docs: {through + gx:.1f}s\n")


if __name__ == "__main__":
    main()
