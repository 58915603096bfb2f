"""Small helpers for the Makefile: ``python -m iepwatch.cli logical-date 2026-11-27`` etc."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time

from iepwatch.config import load_config


def logical_date(as_of: date) -> str:
    """The logical date whose as-of date (in the district's time zone) is ``as_of``: noon local."""
    from zoneinfo import ZoneInfo

    cfg = load_config()
    return datetime.combine(as_of, time(12), tzinfo=ZoneInfo(cfg.timezone)).isoformat()


def summary(as_of: date) -> str:
    """Where a night's results are, with a few counts (no student data)."""
    import duckdb

    cfg = load_config()
    lines = [f"iepwatch results for {as_of} ({cfg.district_name})",
             f"  data folder      {cfg.data_dir}",
             f"  warehouse        {cfg.warehouse}",
             f"  Data Docs        {cfg.datadocs_dir / 'index.html'}",
             f"  run outputs      {cfg.run_dir(as_of)}"]
    if cfg.warehouse.exists():
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            rows = con.execute("SELECT table_name, rows FROM ops.published WHERE as_of = ? ORDER BY 1",
                               [as_of]).fetchall()
            lines.append("  core tables      " + ", ".join(f"{t} {n:,}" for t, n in rows))
            q = con.execute("SELECT count(*) FROM quarantine.rows JOIN ops.slots USING (slot) "
                            "WHERE published AND ops.slots.as_of = ?", [as_of]).fetchone()[0]
            lines.append(f"  quarantined rows {q:,}")
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'compliance' "
                           "AND table_name = 'exceptions'").fetchone()[0]:
                for status, n in con.execute(
                        "SELECT status, count(*) FROM compliance.exceptions WHERE as_of = ? "
                        "GROUP BY 1 ORDER BY 1", [as_of]).fetchall():
                    lines.append(f"  exceptions       {status:<10} {n:,}")
                lines.append(f"  exceptions.csv   {cfg.run_dir(as_of) / 'exceptions.csv'}")
        except duckdb.Error as e:
            lines.append(f"  (warehouse not complete for this date: {e.__class__.__name__})")
        finally:
            con.close()
    for manifest in sorted((cfg.data_dir / "extracts").glob(f"*/{as_of}/manifest.json")):
        lines.append(f"  extract          {manifest.parent}")
    outbox = sorted((cfg.data_dir / "outbox").glob(f"iepwatch.{as_of}.*.eml"))
    if outbox:
        lines.append(f"  emails           {len(outbox)} in {cfg.data_dir / 'outbox'} (iepwatch.{as_of}.*.eml)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="iepwatch")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("logical-date", "summary"):
        sub.add_parser(name).add_argument("as_of", type=date.fromisoformat)
    args = ap.parse_args(argv)
    print(logical_date(args.as_of) if args.cmd == "logical-date" else summary(args.as_of))


if __name__ == "__main__":
    main()
