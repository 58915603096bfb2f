"""The submission history of the extracts: every generation of a format for an as-of date is
kept, with what changed against the previous generation of the same format, and a generation
can be marked as submitted to the state.

    extracts/<format>/<as-of>/                      the latest generation (what the page serves)
    extracts/<format>/.generations/<as-of>/<NNN>/   every generation: the file, its manifest,
                                                    changes.csv, generation.json, SUBMITTED.json

A generation folder is written once and never changed or deleted (only SUBMITTED.json is added);
a regeneration with the same bytes is the same generation, one with other bytes a new one
beside it. So a submitted generation survives every regeneration.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

from iepwatch.files import write_json
from iepwatch.night import is_as_of
from iepwatch.warehouse import literal, quote

GENERATIONS = ".generations"
CHANGES = "changes.csv"


def folder(base: Path, as_of: str, number: int) -> Path:
    """Where generation ``number`` of a format (``extracts/<format>``) for ``as_of`` is kept."""
    return base / GENERATIONS / as_of / f"{number:03d}"


def _folders(base: Path) -> list[tuple[str, int, Path]]:
    """Every generation of a format, oldest first: (as-of, number, folder)."""
    out = []
    for folder in (base / GENERATIONS).glob("*/[0-9][0-9][0-9]"):
        if is_as_of(folder.parent.name):
            out.append((folder.parent.name, int(folder.name), folder))
    return sorted(out)


def generations(base: Path) -> list[dict]:
    """Every generation of a format (``extracts/<format>``), newest first, as generation.json
    says, with ``submitted`` when it was marked and ``differs_from_submitted``: the number of an
    older generation of the same as-of date that was submitted (this one has other bytes, so
    the state holds something else than this file)."""
    out = []
    for _, _, folder in reversed(_folders(base)):
        g = json.loads((folder / "generation.json").read_text())
        marker = folder / "SUBMITTED.json"
        g["submitted"] = json.loads(marker.read_text()) if marker.exists() else None
        g["folder"] = folder
        out.append(g)
    for g in out:
        older = [o for o in out if o["as_of"] == g["as_of"] and o["generation"] < g["generation"] and o["submitted"]]
        g["differs_from_submitted"] = older[0]["generation"] if older and not g["submitted"] else None
    return out


def generated_at(base: Path, as_of: date, sha: str, now: str) -> str:
    """When the file with ``sha`` was first generated for ``as_of``: the time its generation was
    recorded, or ``now`` for a file not seen before. So ``generated_at`` is true (the clock read
    when a new file is made, which is a fact, not a rule's input), and a regeneration of the same
    bytes keeps it: the manifest stays byte-identical."""
    same_night = [g for g in _folders(base) if g[0] == as_of.isoformat()]
    if same_night:
        latest = json.loads((same_night[-1][2] / "generation.json").read_text())
        if latest["sha256"] == sha and latest.get("generated_at"):
            return latest["generated_at"]
    return now


def record(d, base: Path, as_of: date, incoming: Path, name: str, sha: str) -> dict:
    """The generation of the file ``incoming/name`` (with its manifest; ``sha`` its sha256): the
    existing one when the latest generation of that as-of date has the same bytes, else a new
    one, written with the changes against the previous generation of the format (by the
    definition's ``key``)."""
    everything = _folders(base)
    same_night = [g for g in everything if g[0] == as_of.isoformat()]
    if same_night:
        latest = json.loads((same_night[-1][2] / "generation.json").read_text())
        if latest["sha256"] == sha:   # the same bytes again: served as the kept file itself, one file
            _serve_kept(same_night[-1][2] / latest["file"], incoming / name)
            return latest
    number = (same_night[-1][1] + 1) if same_night else 1
    before = [g for g in everything if (g[0], g[1]) < (as_of.isoformat(), number)]
    previous = json.loads((before[-1][2] / "generation.json").read_text()) if before else None
    kept = folder(base, as_of.isoformat(), number)
    tmp = kept.with_name(f".{kept.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _keep(incoming / name, tmp / name)
    shutil.copy2(incoming / "manifest.json", tmp / "manifest.json")
    counts = changes(d, before[-1][2] / previous["file"] if previous else None, tmp / name, tmp / CHANGES)
    manifest = json.loads((incoming / "manifest.json").read_text())
    g = {"format": d.name, "as_of": as_of.isoformat(), "generation": number, "file": name, "sha256": sha,
         "generated_at": manifest.get("generated_at"),
         "previous": {"as_of": previous["as_of"], "generation": previous["generation"]} if previous else None,
         "key": key_fields(d), "not_compared": not_compared(d), **counts}
    (tmp / "generation.json").write_text(json.dumps(g, indent=2, sort_keys=True) + "\n")
    os.rename(tmp, kept)   # a new folder: a generation is never replaced
    return g


def _serve_kept(kept: Path, served: Path) -> None:
    """The file about to be served replaced by a link to the kept generation of the same bytes, so
    a regeneration leaves the served extract and its generation one file (as its first publication
    did). Left as it is where links are not possible."""
    tmp = served.with_name(f".{served.name}.link")
    try:
        tmp.unlink(missing_ok=True)
        os.link(kept, tmp)
        os.replace(tmp, served)
    except OSError:
        tmp.unlink(missing_ok=True)


def _keep(src: Path, dst: Path) -> None:
    """The file kept in its generation as a second link to the file about to be served (a copy
    of a state-scale extract costs as much as hashing it): both are read-only, never written again
    (``engine.publish``). A copy where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def key_fields(d) -> list[str]:
    """The fields that identify a record of a format: its ``key``, else every compared field."""
    return d.raw.get("key") or [f["name"] for f in d.fields if f["name"] not in not_compared(d)]


def not_compared(d) -> list[str]:
    """The fields left out of the comparison of two generations (``compare: false``): values that
    move with the night itself (the as-of date, days overdue while a cycle is open), so that a
    record changed only when its data did."""
    return [f["name"] for f in d.fields if f.get("compare") is False]


def _read(d, path: Path) -> str:
    """DuckDB's reader for a file of format ``d``: every field as text, named as the definition."""
    cols = ", ".join(f"{literal(f['name'])}: 'VARCHAR'" for f in d.fields)
    quote = "'\"'" if d.quoting == "rfc4180" else "''"
    header = "true" if d.raw.get("header") else "false"
    return (f"read_csv({literal(str(path))}, delim = {literal(d.delimiter)}, header = {header}, "
            f"quote = {quote}, escape = {quote}, columns = {{{cols}}}, all_varchar = true, auto_detect = false)")


def changes(d, old: Path | None, new: Path, out: Path) -> dict:
    """Records added, removed and changed (same key, another value) from ``old`` to ``new``,
    written to ``out`` (key fields, change, changed fields); returns the counts."""
    import duckdb

    key = key_fields(d)
    others = [f["name"] for f in d.fields if f["name"] not in key and f["name"] not in not_compared(d)]
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE new AS SELECT * FROM {_read(d, new)}")
        if old is not None and old.exists():
            con.execute(f"CREATE TABLE old AS SELECT * FROM {_read(d, old)}")
        else:
            con.execute("CREATE TABLE old AS SELECT * FROM new WHERE false")
        on = " AND ".join(f"o.{quote(k)} IS NOT DISTINCT FROM n.{quote(k)}" for k in key)
        keys = ", ".join(f"coalesce(n.{quote(k)}, o.{quote(k)}) AS {quote(k)}" for k in key)
        diff = " || ".join(f"CASE WHEN o.{quote(c)} IS DISTINCT FROM n.{quote(c)} THEN {literal(c)} || ' ' ELSE '' END"
                           for c in others) or "''"
        con.execute(f"""CREATE TABLE diff AS
            SELECT {keys},
                   CASE WHEN o._o IS NULL THEN 'added' WHEN n._n IS NULL THEN 'removed' ELSE 'changed' END AS change,
                   CASE WHEN o._o AND n._n THEN replace(trim({diff}), ' ', ',') ELSE '' END AS changed_fields
            FROM (SELECT *, true AS _o FROM old) o FULL OUTER JOIN (SELECT *, true AS _n FROM new) n ON {on}
            WHERE o._o IS NULL OR n._n IS NULL OR ({diff}) <> ''""")
        con.execute(f"COPY (SELECT * FROM diff ORDER BY {', '.join(quote(k) for k in key)}, change) TO "
                    f"{literal(str(out))} (HEADER, DELIMITER ',')")
        counts = dict(con.execute("SELECT change, count(*) FROM diff GROUP BY 1").fetchall())
    finally:
        con.close()
    return {"added": counts.get("added", 0), "removed": counts.get("removed", 0), "changed": counts.get("changed", 0)}


def mark_submitted(base: Path, as_of: str, number: int, by: str, at: str, confirmation: str = "") -> dict:
    """Mark a generation as submitted to the state (by whom, when, the state's confirmation
    number). It stays forever; marking it again keeps the first mark."""
    kept = folder(base, as_of, number)
    if not (kept / "generation.json").is_file():
        raise FileNotFoundError(kept)
    marker = kept / "SUBMITTED.json"
    if not marker.exists():
        write_json(marker, {"by": by, "at": at, "confirmation": confirmation}, indent=2)
    return json.loads(marker.read_text())
