"""Benchmarks: a script that prints figures (never a timed unit test).

    python -m iepwatch.bench [--students 100000 ...]

For each size it generates an export (kept under ``<data_dir>/bench/``), then times
every ingest stage with the package's own functions (Airflow's fixed start-up is
excluded) and compares the whole ingest with a bare DuckDB ``read_csv`` of the same files.
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

    con = duckdb.connect()
    t = time.perf_counter()
    for tb in TABLES:
        con.execute(f"CREATE TABLE {tb.name} AS SELECT * FROM read_csv('{folder / tb.file}', header = true)")
    seconds = time.perf_counter() - t
    con.close()
    return seconds


def bench_ingest(students: int, root: Path, as_of: date = DEMO_AS_OF) -> dict:
    from iepwatch import load, quality, sources, warehouse
    from iepwatch.config import load_config
    from iepwatch.demo import generate

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
    suites = quality.load_suites("ingest", as_of)
    with warehouse.connect(cfg) as con:
        with watch("load"):
            staged = load.load_staging(con, arc.path, as_of, arc.export_id)
        with watch("validate: keys + quarantine (DuckDB)"):
            quality.check_keys(con, suites)
            quality.quarantine(con, suites, as_of, cfg.quarantine_threshold_pct)
    with warehouse.connect(cfg) as con, watch("publish"):
        load.publish(con, as_of, arc.export_id)
    with watch("GX validation + Data Docs (after publish)"):
        results = quality.validate(cfg.warehouse, ["ingest"], as_of, cfg.datadocs_dir)
    with warehouse.connect(cfg) as con:
        assert not quality.disagreements(con, results, load.slot_of(con, as_of, arc.export_id))
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


def main(argv: list[str] | None = None) -> None:
    from iepwatch.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, nargs="+", default=[100_000])
    args = ap.parse_args(argv)
    root = load_config().data_dir / "bench"
    for n in args.students:
        report_ingest(bench_ingest(n, root))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
