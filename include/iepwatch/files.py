"""Writing files so that a reader never sees half of one (a whole file or folder appears at its
name in one rename, or the old one stays), and working through an export's files on both cores."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
FILE_THREADS = 2   # files worked on at a time: reading, hashlib and DuckDB release the interpreter lock


def each_file(work: Callable[[Path], T], paths: list[Path]) -> dict[Path, T]:
    """``work(path)`` for every file, ``FILE_THREADS`` at a time, the largest first (one file is
    often half an export, and one file's work alone leaves a core idle); returns each path's
    result. A path that does not exist counts as empty."""
    from concurrent.futures import ThreadPoolExecutor

    largest_first = sorted(paths, key=lambda p: -(p.stat().st_size if p.exists() else 0))
    with ThreadPoolExecutor(max_workers=FILE_THREADS) as pool:
        return dict(zip(largest_first, pool.map(work, largest_first), strict=True))


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
