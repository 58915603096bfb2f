"""Find the night's export and keep it unchanged in the landing archive.

The archive is ``landing/<as-of>/<export_id>/`` where export_id is derived
from the files' checksums: re-running a night with the same files re-uses the
folder, a changed export gets a new one, and nothing is ever overwritten.
Everything downstream reads the archived copy, so what was loaded is what was kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iepwatch.config import Config
from iepwatch.errors import DataError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Archived:
    export_id: str
    path: Path
    reused: bool


def find_export(cfg: Config, as_of: date, export_dir: str | None = None) -> Path:
    """The export folder: the ``export_dir`` param if given, else ``export_root/<as-of>``."""
    folder = Path(export_dir) if export_dir else cfg.paths.export_root / as_of.isoformat()
    if not folder.is_dir():
        raise DataError(f"No export for {as_of}: folder {folder} does not exist")
    if not any(folder.glob("*.csv")):
        raise DataError(f"No export for {as_of}: folder {folder} holds no .csv files")
    return folder


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive(cfg: Config, as_of: date, source: Path) -> Archived:
    """Copy every CSV of the export into the landing archive with a checksum manifest."""
    files = sorted(p for p in source.glob("*.csv") if p.is_file())
    sums = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files}
    export_id = hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()[:16]
    night = cfg.paths.landing_dir / as_of.isoformat()
    target = night / export_id
    if (target / MANIFEST).exists():
        return Archived(export_id, target, reused=True)
    night.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=night))
    try:
        for p in files:
            shutil.copy2(p, tmp / p.name)
            if sha256_file(tmp / p.name) != sums[p.name]["sha256"]:
                raise OSError(f"{p.name} changed while it was being archived")
        manifest = {"as_of": as_of.isoformat(), "export_id": export_id,
                    "source": str(source), "files": sums}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for p in tmp.iterdir():
            p.chmod(0o444)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Archived(export_id, target, reused=False)
