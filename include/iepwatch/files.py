"""Writing files so that a reader never sees half of one: a whole file or folder appears at its
name in one rename, or the old one stays."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def write_json(path: Path, data: dict, indent: int = 1) -> Path:
    """``data`` as JSON (sorted keys, a final newline), written to a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def replace_folder(staged: Path, target: Path) -> Path:
    """Put the fully written folder ``staged`` at ``target``, replacing what was there (moved
    aside first, removed once the new one is in place)."""
    previous = target.with_name(f".{target.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        os.rename(target, previous)
    os.rename(staged, target)
    shutil.rmtree(previous, ignore_errors=True)
    return target
