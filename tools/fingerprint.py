"""The outputs of one demo night as sha256 sums, to prove that a reshaping changed nothing.

    python -m tools.fingerprint --students 2000 > before.txt   # then, after the change:
    python -m tools.fingerprint --students 2000 | diff before.txt -

Under each state pack (or ``--pack``), in a fresh data folder: generate the demo district, run
the night's task bodies in order (ingest, rules, exceptions, the coordinator emails caught by a
local SMTP server, every extract) and print one line per output file: ``exceptions.csv``, each
extract file and manifest, each email as received. No Airflow scheduler: the tasks' own code.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

PACKS = ("federal", "california", "illinois", "texas", "pennsylvania")


def one_night(pack: str, students: int, as_of: date, data_dir: Path) -> list[str]:
    import yaml

    override = data_dir / f"fingerprint-{pack}.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    override.write_text(yaml.safe_dump({"rules": {"state_pack": pack}, "extracts": {"add_formats": []}}))
    os.environ.update(IEPWATCH_CONFIG=str(override), IEPWATCH_DATA_DIR=str(data_dir))
    from iepwatch.district import load_config
    from iepwatch.night import logical_date
    from iepwatch.tasks import iep_nightly as n
    from iepwatch.tasks import state_reporting as s
    from tools.demo import generate
    from tools.mailcatcher import MailCatcher, connection_uri

    cfg = load_config()
    export = cfg.paths.export_root / as_of.isoformat()
    generate(export, students=students, as_of=as_of, state=pack)
    with MailCatcher(cfg.paths.outbox_dir) as catcher:
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = connection_uri(catcher.port)
        params = {"export_dir": str(export)}
        night = n.find_export(params=params, logical_date=logical_date(as_of, cfg.district.timezone))
        night = n.ingest(night, params)
        n.send_coordinator_emails(night)
    formats = s.prepare_facts(night)
    s.publish_extracts(night, [s.build_extract(f, night) for f in formats])
    files = [cfg.run_dir(as_of) / "exceptions.csv", *sorted(cfg.paths.extracts_dir.rglob("*")),
             *sorted(cfg.paths.outbox_dir.glob("*.eml"))]
    return [f"{pack} {digest(f)} {f.relative_to(cfg.data_dir)}" for f in files if f.is_file()]


def digest(f: Path) -> str:
    """The file's sha256; an email's without its Date header (the time it was sent), a manifest's
    or a generation's without its generated_at (the time the file was first made)."""
    data = f.read_bytes()
    if f.suffix == ".eml":
        data = re.sub(rb"^Date: [^\r\n]*\r?\n", b"", data, count=1, flags=re.MULTILINE)
    elif f.name in ("manifest.json", "generation.json"):
        data = re.sub(rb'^\s*"generated_at": [^\n]*\n', b"", data, count=1, flags=re.MULTILINE)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.fingerprint", description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 27))
    ap.add_argument("--pack", choices=PACKS, help="one pack (default: each, one process each)")
    args = ap.parse_args(argv)
    if args.pack:
        with tempfile.TemporaryDirectory(prefix="iepwatch-fingerprint-") as tmp:
            lines = one_night(args.pack, args.students, args.date, Path(tmp) / "data")
        print("\n".join(lines), flush=True)
        return
    for pack in PACKS:   # one process each: the configuration is read once a process
        out = subprocess.run([sys.executable, "-m", "tools.fingerprint", "--pack", pack, "--students",
                              str(args.students), "--date", args.date.isoformat()],
                             check=True, capture_output=True, text=True).stdout
        print("\n".join(line for line in out.splitlines() if line.startswith(f"{pack} ")), flush=True)


if __name__ == "__main__":
    main()
