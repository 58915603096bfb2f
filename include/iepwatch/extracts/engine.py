"""Build, check and publish one extract from its declarative definition.

A definition (``include/sql/extracts/<name>.yaml``, beside its SQL model ``<name>.sql``, or a
district's own folder) names the SQL model, the fields (source column or constant, type, code
mapping, allowed codes, required, max length; ``{rules: timeline}`` or ``{rules: meeting}``
stands for the rule catalog's state-summary columns), the date format, delimiter, quoting,
header and line endings, and the file name. Adding a state format is adding a definition and
its model.

1. ``build``: the model's rows, mapped, into ``reporting.<name>`` (``_line`` = file line);
2. ``check``: the definition's suite (required fields, code sets, lengths, date range, row
   count) compiled to DuckDB, naming field and lines of any failure; its results (counts only)
   are what GX renders as the extract's Data Docs;
3. ``publish``: the lines are formatted in DuckDB and written, with ``manifest.json``, to a
   temporary folder that replaces ``extracts/<name>/<as-of>/`` in one rename. Nothing reads
   the wall clock, so the same night regenerates byte-identical files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from iepwatch.config import Config, read_yaml
from iepwatch.errors import ConfigError, DataError, lines_phrase
from iepwatch.extracts import history
from iepwatch.files import replace_folder
from iepwatch.ingest.contract import DIRECTION_OVERRIDES
from iepwatch.ingest.sources import sha256_file
from iepwatch.quality.compile import failing_lines_sql
from iepwatch.rules import catalog as rule_catalog
from iepwatch.rules import packs
from iepwatch.rules.evaluate import params
from iepwatch.warehouse import SQL_DIR, formula_guard_sql, literal, quote, sql

DEFINITIONS = SQL_DIR / "extracts"   # each format: <name>.yaml beside its model <name>.sql
EOL = {"crlf": "\r\n", "lf": "\n"}


@dataclass(frozen=True)
class Definition:
    raw: dict

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def fields(self) -> list[dict]:
        return self.raw["fields"]

    @property
    def eol(self) -> str:
        return EOL[self.raw.get("line_ending", "lf")]

    @property
    def delimiter(self) -> str:
        return self.raw.get("delimiter", ",")

    @property
    def quoting(self) -> str:
        return self.raw.get("quoting", "none")

    @property
    def student_level(self) -> bool:
        """A file about single students: served only to users allowed to see student-level data.
        Every format is, unless its definition says ``student_level: false`` (counts only)."""
        return self.raw.get("student_level", True) is not False

    def code_set(self, f: dict) -> list[str] | None:
        return f.get("code_set") or (sorted(set(f["codes"].values())) if f.get("codes") else None)


def all_definitions(cfg: Config) -> dict[str, Definition]:
    """Shipped definitions, plus (overriding) those in ``extracts.definitions_dir``."""
    folders = [DEFINITIONS]
    if cfg.extracts.definitions_dir:
        folders.append(cfg.extracts.definitions_dir)
    out = {}
    for folder in folders:
        for p in sorted(folder.glob("*.yaml")):
            raw = read_yaml(p)   # parsed once per version of the file: every extract task reads them all
            raw["fields"] = [g for f in raw.get("fields") or [] for g in
                             (rule_catalog.summary_fields(f["rules"]) if "rules" in f else [f])]
            out[raw["name"]] = Definition(raw)
    return out


def definitions(cfg: Config) -> dict[str, Definition]:
    """The formats this district builds: a format a state pack names (``packs.py``: CALPADS for
    California) only for a district of that pack; every other format for every district; then
    ``extracts.add_formats`` added and ``extracts.drop_formats`` left out. A format that does not
    apply is neither built nor validated, so another state's field lengths never stop a night."""
    everything = all_definitions(cfg)
    unknown = sorted(set(cfg.extracts.add_formats + cfg.extracts.drop_formats) - set(everything))
    if unknown:
        raise ConfigError(f"extracts: unknown format {unknown[0]!r} in add_formats or drop_formats "
                          f"(known: {', '.join(everything)})")
    own_packs = {f for spec in cfg.rules.packs.values() for f in (spec or {}).get("formats", [])}
    state_specific = packs.state_formats() | own_packs
    wanted = {n for n in everything if n not in state_specific} | set(cfg.pack.formats) | set(cfg.extracts.add_formats)
    return {n: d for n, d in everything.items() if n in wanted - set(cfg.extracts.drop_formats)}


def model_params(cfg: Config, as_of: date, d: Definition) -> dict:
    """The rules' template parameters (one home: ``rules.params``) plus what a model selects."""
    selected = [k for f in d.fields if f.get("selects") for k in f["codes"]]
    return {**params(cfg, as_of), "selected_codes": ", ".join(literal(k) for k in selected) or "NULL",
            "timelines": rule_catalog.summary_timelines(cfg.pack.initial_rule),
            "pass_rates": rule_catalog.summary_pass_rates(), "prong2_records": cfg.corrections.prong2_records}


def forbidden_pattern(d: Definition) -> str:
    """What a text value may not hold: control characters (NUL included) and direction overrides;
    without quoting also the delimiter and line breaks, which would shift the fields. (RE2 syntax.)"""
    chars = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f" + DIRECTION_OVERRIDES   # TAB, LF, CR may be quoted
    if d.quoting == "none":
        chars += r"\x09\x0a\x0d" + "".join("\\" + c if c in "^]\\-[" else c for c in d.delimiter)
    return "[" + chars + "]"


def _value(f: dict) -> str:
    """The field's typed value: a constant, or the model column with its code mapping applied."""
    if "const" in f:
        return literal(f["const"])
    col = quote(f["column"])
    if f.get("codes"):
        whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in f["codes"].items())
        return f"CASE {col} {whens} ELSE CAST({col} AS VARCHAR) END"
    if f.get("truncate") and f.get("max_length"):
        return f"left(CAST({col} AS VARCHAR), {int(f['max_length'])})"
    return col


def build(con, cfg: Config, as_of: date, d: Definition) -> int:
    """``reporting.<name>``: one row per output line, ``_line`` numbered as in the file."""
    model = sql(d.raw["model"], **model_params(cfg, as_of, d))
    order = ", ".join(quote(c) for c in d.raw.get("order_by", [])) or "ALL"
    first = 2 if d.raw.get("header") else 1
    cols = ", ".join(f"{_value(f)} AS {quote(f['name'])}" for f in d.fields)
    con.execute("CREATE SCHEMA IF NOT EXISTS reporting")
    # the model runs once: DuckDB returns the number of rows the CREATE ... AS SELECT wrote
    return con.execute(f"""CREATE OR REPLACE TABLE reporting.{d.name} AS
                           SELECT row_number() OVER (ORDER BY {order}) + {first - 1} AS _line, {cols}
                           FROM ({model}) m""").fetchone()[0]


def suite(d: Definition, as_of: date, selected: int) -> dict:
    """The definition's GX suite: required fields, code sets, lengths, date range, row count."""
    def e(type_, kwargs, reason):
        return {"type": type_, "kwargs": kwargs, "meta": {"iepwatch": {"on_fail": "quarantine", "reason": reason}}}

    ex = [e("expect_table_row_count_to_equal", {"value": selected}, "row count differs from the selected rows")]
    for f in d.fields:
        n = f["name"]
        if f.get("required"):
            ex.append(e("expect_column_values_to_not_be_null", {"column": n}, f"{n} is missing"))
        for col, value in (f.get("required_unless") or {}).items():   # present unless another field says why
            ex.append(e("unexpected_rows_expectation", {
                "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE {quote(n)} IS NULL "
                                         f"AND {quote(col)} IS DISTINCT FROM {literal(value)}",
                "description": f"{n} is present unless {col} is {value}"}, f"{n} is missing"))
        codes = d.code_set(f)
        if codes:
            ex.append(e("expect_column_values_to_be_in_set", {"column": n, "value_set": codes},
                        f"{n} not in its code set"))
        if f.get("max_length") and not f.get("truncate"):
            limit = int(f["max_length"])
            ex.append(e("unexpected_rows_expectation", {
                "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE length(CAST({quote(n)} AS VARCHAR)) > {limit}",
                "description": f"{n} is at most {limit} characters"}, f"{n} longer than {limit}"))
        if f.get("type", "text") == "text":
            what = "the delimiter, a line break or " if d.quoting == "none" else ""
            ex.append(e("unexpected_rows_expectation", {
                "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE regexp_matches(CAST({quote(n)} AS VARCHAR), "
                                         f"{literal(forbidden_pattern(d))})",
                "description": f"{n} holds no {what}control character"}, f"{n} contains {what}a control character"))
        if f.get("type") == "date":   # dates lie from min_date (1900-01-01) to the as-of date unless max_date: open
            low, high = f.get("min_date", "1900-01-01"), f.get("max_date", str(as_of))
            cond = f"{quote(n)} < DATE '{low}'" + ("" if high == "open" else f" OR {quote(n)} > DATE '{high}'")
            ex.append(e("unexpected_rows_expectation", {
                "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE {cond}",
                "description": f"{n} from {low} to {'any date' if high == 'open' else high}"}, f"{n} out of range"))
    return {"name": f"extract.{d.name}", "expectations": ex,
            "meta": {"iepwatch": {"table": d.name, "query": f"SELECT * FROM reporting.{d.name}"}}}


def check(con, d: Definition, s: dict) -> list[dict]:
    """Run the suite in DuckDB: DataError naming each failing field and its lines, else the suite's
    results (``quality.results``), which GX renders as the extract's Data Docs."""
    from iepwatch.quality import results

    problems, counts = [], {}
    for i, exp in enumerate(s["expectations"]):
        reason = exp["meta"]["iepwatch"]["reason"]
        if exp["type"] == "expect_table_row_count_to_equal":
            n = con.execute(f"SELECT count(*) FROM reporting.{d.name}").fetchone()[0]
            if n != exp["kwargs"]["value"]:
                problems.append(f"{reason} ({n} rows, {exp['kwargs']['value']} selected)")
            continue
        q = failing_lines_sql(exp, f"reporting.{d.name}")
        lines = [r[0] for r in con.execute(f"SELECT _line FROM ({q}) ORDER BY 1 LIMIT 11").fetchall()]
        counts[i] = con.execute(f"SELECT count(*) FROM ({q})").fetchone()[0] if lines else 0
        if lines:
            problems.append(f"{reason} on {lines_phrase(lines, counts[i])}")
    if problems:
        raise DataError(f"extract {d.name} not published: " + "; ".join(problems))
    return results.suite_results(con, s, f"reporting.{d.name}", counts)


def _text(d: Definition, f: dict) -> str:
    """SQL for the field's text in the file, before the formula guard and the quoting."""
    n, kind = quote(f["name"]), f.get("type", "text")
    if kind == "date":
        v = f"strftime({n}, '{d.raw.get('date_format', '%Y-%m-%d')}')"
    elif kind == "decimal":
        v = f"printf('%.1f', {n})"
    else:
        v = f"CAST({n} AS VARCHAR)"
    if f.get("width"):
        v = f"rpad(left({v}, {int(f['width'])}), {int(f['width'])}, ' ')"
    return f"coalesce({v}, '')"


def _quoted(d: Definition, v: str) -> str:
    """RFC 4180 quoting of the text ``v``. Without quoting, a value holding the delimiter or a line
    break was rejected by the check."""
    if d.quoting != "rfc4180":
        return v
    needs = " OR ".join(f"contains({v}, {literal(c)})" for c in (d.delimiter, '"', "\r", "\n"))
    return f"CASE WHEN {needs} THEN '\"' || replace({v}, '\"', '\"\"') || '\"' ELSE {v} END"


def render(con, d: Definition, path: Path) -> int:
    """Write the header and lines to ``path``, formatted in DuckDB and written by its COPY (one
    column, no quoting of its own, the format's line ending); returns the number of lines below
    the header.

    The formula guard and the quoting are lambdas over the line's list of texts: written out per
    field, a format of many fields made an expression DuckDB is slow to plan. They are two
    passes, the guard's then the quoting's, because one lambda holding both repeats the guard's
    expression in each of the quoting's tests."""
    delim = literal(d.delimiter)
    texts = f"[{', '.join(_text(d, f) for f in d.fields)}]"
    if d.raw.get("formula_guard"):
        texts = f"list_transform({texts}, lambda x: {formula_guard_sql('x')})"
    if d.quoting == "rfc4180":
        texts = f"list_transform({texts}, lambda x: {_quoted(d, 'x')})"
    lines = f"SELECT _line, array_to_string({texts}, {delim}) AS line FROM reporting.{d.name}"
    header = bool(d.raw.get("header"))
    if header:
        names = literal(d.delimiter.join(f["name"] for f in d.fields))
        lines = f"SELECT -1 AS _line, {names} AS line UNION ALL {lines}"
    # one column: the delimiter (a control character the values may not hold) is never written
    written = con.execute(f"""COPY (SELECT line FROM ({lines}) ORDER BY _line) TO {literal(path)}
                              (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER E'\\x01',
                               NEW_LINE {literal(d.eol)})""").fetchone()[0]
    return written - header


def count_records(con, d: Definition, path: Path) -> int:
    """Data records in a written file, less the header: CSV records as DuckDB's reader reads them
    back when quoted (a quoted field may hold a line break), else lines: not Python's csv
    reader, row by row."""
    header = bool(d.raw.get("header"))
    if d.quoting != "rfc4180":
        with path.open("rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
        return lines - header
    import duckdb

    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(d.fields))) + "}"
    try:
        return con.execute(f"""SELECT count(*) FROM read_csv({literal(path)}, header = {str(header).lower()},
                                   columns = {columns}, auto_detect = false, delim = {literal(d.delimiter)},
                                   quote = '"', escape = '"', strict_mode = true)""").fetchone()[0]
    except duckdb.Error as e:   # not the file it should be: never published
        raise DataError(f"extract {d.name} not published: the written file does not read back as CSV "
                        f"({str(e).splitlines()[0][:200]})") from None


def publish(con, cfg: Config, as_of: date, d: Definition) -> Path:
    """Write file + manifest to a temporary folder, then swap it in as ``extracts/<name>/<as-of>/``."""
    export = con.execute("SELECT as_of, export_id FROM core.export").fetchone()
    district = con.execute("SELECT min(district_code) FROM core.schools").fetchone()[0] or "district"
    name = d.raw["file_name"].format(as_of=as_of, district_code=district, format=d.name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", name) or ".." in name:
        raise DataError(f"extract {d.name} not published: its file name {name[:80]!r} is not a plain file name "
                        "(a value from the export reached it; district_code must be digits)")
    base = cfg.paths.extracts_dir / d.name
    base.mkdir(parents=True, exist_ok=True)
    target, incoming = base / as_of.isoformat(), base / f".{as_of}.incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir()
    rows = render(con, d, incoming / name)
    records = count_records(con, d, incoming / name)
    if records != rows:   # a value with a separator or line break would shift every later record
        raise DataError(f"extract {d.name} not published: {records} records written for {rows} rows")
    sha = sha256_file(incoming / name)
    os.chmod(incoming / name, 0o444)   # final: never written again (a regeneration writes a new file)
    manifest = {"report": d.name, "format": d.name, "as_of": as_of.isoformat(), "rows": rows,
                **({"status": d.raw["status"], "status_note": d.raw.get("status_note", "")}
                   if d.raw.get("status") else {}),
                "generated_at": history.generated_at(base, as_of, sha,
                                                     datetime.now(UTC).isoformat(timespec="seconds")),
                "source_export_id": export[1], "source_export_as_of": str(export[0]),
                "files": [{"name": name, "rows": rows, "bytes": (incoming / name).stat().st_size, "sha256": sha}]}
    (incoming / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    history.record(d, base, as_of, incoming, name, sha)   # kept for good, with its changes, before it is served
    return replace_folder(incoming, target)
