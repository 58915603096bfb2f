"""Writing files so that a reader never sees half of one (a whole file or folder appears at its
name in one rename, or the old one stays), working through an export's files on both cores, and
reading the project's YAML files (configuration, rule catalog, extract definitions) once each."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from iepwatch.errors import ConfigError

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


def read_yaml(path: Path) -> dict:
    """The keys of a YAML file (a copy: the caller may change it). Parsed once per version of the
    file, with libyaml when PyYAML has it: a deployment builds every district's configuration
    over the project's file, and DAG files are parsed before every task."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: configuration file not found (file {path})") from None
    return copy.deepcopy(_parsed_yaml(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _parsed_yaml(path: Path, _mtime_ns: int, _size: int) -> dict:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: configuration file not found (file {path})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise ConfigError(f"{path.name}: not valid YAML at {where} (file {path})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: expected keys at the top level (file {path})")
    return raw
