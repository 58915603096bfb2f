"""The district's findings folder read and checked like an export: findings.csv and
finding_instances.csv into the connection's temporary tables ``findings_in`` and
``instances_in`` (typed), or a DataError naming the file, the column and the lines."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from iepwatch.errors import DataError, lines_phrase
from iepwatch.warehouse import literal


@dataclass(frozen=True)
class File:
    name: str
    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    dates: tuple[str, ...]


FINDINGS = File("findings.csv", "findings_in", ("finding_id", "issued_date", "requirement", "citation"),
                ("scope_school_ids", "note"), ("issued_date",))
INSTANCES = File("finding_instances.csv", "instances_in", ("finding_id", "student_id"), ("meeting_id", "due_date"),
                 ("due_date",))
FILES = (FINDINGS, INSTANCES)


def read(con, folder: Path, rules: dict[str, dict]) -> int:
    """Both files into ``temp.findings_in`` / ``temp.instances_in`` (a missing folder or file: no
    findings); ``rules`` are the rules in force by id (their ``kind``). Returns the findings read.
    Every problem of a file is named at once (file, column, lines), never a value (PII)."""
    for f in FILES:
        _load(con, folder / f.name, f)
    problems = []
    for f in FILES:
        for col in f.dates:
            bad = _lines(con, f"SELECT _line FROM temp.{f.table}_raw WHERE nullif(trim({col}), '') IS NOT NULL "
                              f"AND try_strptime(trim({col}), '%Y-%m-%d') IS NULL")
            if bad:
                problems.append(f"{f.name}: column {col}: not a date (YYYY-MM-DD) on {lines_phrase(bad)}")
        for col in f.required:
            bad = _lines(con, f"SELECT _line FROM temp.{f.table}_raw WHERE nullif(trim({col}), '') IS NULL")
            if bad:
                problems.append(f"{f.name}: column {col}: empty on {lines_phrase(bad)}")
    dup = _lines(con, "SELECT _line FROM temp.findings_in_raw "
                      "QUALIFY count(*) OVER (PARTITION BY trim(finding_id)) > 1 "
                      "AND nullif(trim(finding_id), '') IS NOT NULL")
    if dup:
        problems.append(f"findings.csv: column finding_id: duplicate finding_id on {lines_phrase(dup)}")
    kinds = ("(VALUES " + ", ".join(f"({literal(k)}, {literal(v['kind'])})" for k, v in rules.items())
             + ") k(rule_id, kind)")
    unknown = _lines(con, f"SELECT _line FROM temp.findings_in_raw WHERE nullif(trim(requirement), '') IS NOT NULL "
                          f"AND trim(requirement) NOT IN (SELECT rule_id FROM {kinds})")
    if unknown:
        problems.append(f"findings.csv: column requirement: not a rule in force on {lines_phrase(unknown)}")
    orphan = _lines(con, "SELECT _line FROM temp.instances_in_raw WHERE nullif(trim(finding_id), '') IS NOT NULL "
                         "AND trim(finding_id) NOT IN (SELECT trim(finding_id) FROM temp.findings_in_raw)")
    if orphan:
        problems.append(f"finding_instances.csv: column finding_id: a finding findings.csv does not have "
                        f"on {lines_phrase(orphan)}")
    for kind, col in (("timeline", "due_date"), ("meeting", "meeting_id")):
        bad = _lines(con, f"""SELECT i._line FROM temp.instances_in_raw i
                              JOIN temp.findings_in_raw f ON trim(f.finding_id) = trim(i.finding_id)
                              JOIN {kinds} ON k.rule_id = trim(f.requirement)
                              WHERE k.kind = '{kind}' AND nullif(trim(i.{col}), '') IS NULL""")
        if bad:
            problems.append(f"finding_instances.csv: column {col}: empty where the finding's requirement is a "
                            f"{kind} rule on {lines_phrase(bad)}")
    if problems:
        raise DataError("Findings folder rejected, the ledger not updated: " + "; ".join(problems))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE findings_in AS
        SELECT trim(f.finding_id) AS finding_id, CAST(trim(f.issued_date) AS DATE) AS issued_date,
               trim(f.requirement) AS requirement, k.kind, trim(f.citation) AS citation,
               list_sort(list_filter(list_transform(string_split(coalesce(f.scope_school_ids, ''), ';'),
                                                    lambda x: trim(x)), lambda x: x <> '')) AS scope,
               nullif(trim(f.note), '') AS note
        FROM temp.findings_in_raw f JOIN {kinds} ON k.rule_id = trim(f.requirement)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE instances_in AS
        SELECT DISTINCT trim(finding_id) AS finding_id, trim(student_id) AS student_id,
               coalesce(nullif(trim(meeting_id), ''), '') AS meeting_key,
               CAST(nullif(trim(due_date), '') AS DATE) AS due_date
        FROM temp.instances_in_raw""")
    return con.execute("SELECT count(*) FROM temp.findings_in").fetchone()[0]


def requirements(folder: Path) -> set[str]:
    """The requirements findings.csv names, read leniently (the rules stage keeps every timeline
    cycle of these; the ledger's own task checks the folder and names what is wrong)."""
    try:
        with (folder / FINDINGS.name).open(encoding="utf-8-sig", newline="") as f:
            return {(r.get("requirement") or "").strip() for r in csv.DictReader(f)} - {""}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def _load(con, path: Path, f: File) -> None:
    """The file as text with its line numbers (``temp.<table>_raw``); a missing file is empty."""
    columns = [*f.required, *f.optional]
    if not path.exists():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {f.table}_raw AS SELECT 0 AS _line, "
                    + ", ".join(f"NULL::VARCHAR AS {c}" for c in columns) + " LIMIT 0")
        return
    raw = path.read_bytes()
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(raw.decode("utf-8-sig").split("\n", 1)[0])))]
    except UnicodeDecodeError as e:
        raise DataError(f"{f.name}: not valid UTF-8 (byte {e.start})") from None
    except StopIteration:
        raise DataError(f"{f.name}: empty file without a header row") from None
    missing = [c for c in f.required if c not in header]
    if missing:
        raise DataError(f"{f.name}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    types = "{" + ", ".join(f"{literal(h)}: 'VARCHAR'" for h in header) + "}"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {f.table}_file AS
        SELECT * FROM read_csv({literal(path)}, header = true, columns = {types}, quote = '"', escape = '"',
                               strict_mode = true, null_padding = false)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {f.table}_raw AS
        SELECT rowid + 2 AS _line, {', '.join(c if c in header else f'NULL::VARCHAR AS {c}' for c in columns)}
        FROM temp.{f.table}_file""")


def _lines(con, query: str) -> list[int]:
    return [r[0] for r in con.execute(query + " ORDER BY 1").fetchall()]


FINDING_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}"   # a finding opened from the page: also a file-safe token
OPENS_FROM = ("indicator_b11_detail", "indicator_b13_detail")


def open_from_generation(folder: Path, report: str, generation_file: Path, finding_id: str, issued: str,
                         citation: str, initial_rule: str) -> dict[str, int]:
    """A finding opened from a kept generation of a B11 or B13 detail file, appended to the
    findings folder (its one source of truth). Its instances are the generation's noncompliant
    children: B11, in (a) and not in (b), each timeline by its due date (``initial_rule``, the
    initial evaluation's rule in force); B13, the youth not meeting every component, as two
    findings when they fail on both sides: ``<id>-PLAN`` (TRANSITION_PLAN) for a missing transition
    plan and ``<id>-NOTICE`` (TRANSITION_NOTICE, at the IEP's meeting) for the notice's purpose or
    invitation. Returns the cases opened per finding id; ValueError for an id already used."""
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute("SELECT * FROM read_csv(?, header = true, all_varchar = true)",
                           [str(generation_file)])
        cols = [c[0] for c in rows.description]
        data = [dict(zip(cols, r, strict=True)) for r in rows.fetchall()]
    if report == "indicator_b11_detail":
        opened = {finding_id: (initial_rule, [(r["student_id"], "", r["due_date"]) for r in data
                                              if r["in_a"] == "Y" and r["in_b"] == "N"])}
    else:
        plan = [(r["student_id"], "", "") for r in data if r["transition_plan"] == "N"]
        notice = [(r["student_id"], r["meeting_id"], "") for r in data
                  if "N" in (r["student_invited"], r["transition_purpose_on_notice"])]
        parts = [(suffix, rule, cases) for suffix, rule, cases in (("-PLAN", "TRANSITION_PLAN", plan),
                                                                  ("-NOTICE", "TRANSITION_NOTICE", notice)) if cases]
        opened = {finding_id + (suffix if len(parts) > 1 else ""): (rule, cases) for suffix, rule, cases in parts} \
            or {finding_id: ("TRANSITION_PLAN", [])}
    folder.mkdir(parents=True, exist_ok=True)
    known = _column(folder / FINDINGS.name, "finding_id")
    taken = sorted(set(opened) & known)
    if taken:
        raise ValueError(f"finding {taken[0]} is in findings.csv already")
    _append(folder / FINDINGS.name, [*FINDINGS.required, *FINDINGS.optional],
            [[fid, issued, req, citation, "", f"opened from {generation_file.parent.name} of {report}"]
             for fid, (req, _) in opened.items()])
    _append(folder / INSTANCES.name, [*INSTANCES.required, *INSTANCES.optional],
            [[fid, s, m, d] for fid, (_, cases) in opened.items() for s, m, d in cases])
    return {fid: len(cases) for fid, (_, cases) in opened.items()}


def _column(path: Path, name: str) -> set[str]:
    if not path.exists():
        return set()
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {(r.get(name) or "").strip() for r in csv.DictReader(f)}


def _append(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Rows appended under the file's own header (a new file gets ``header``); one write."""
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as f:
            have = next(csv.reader(f), header)
        ends_open = path.read_bytes()[-1:] not in (b"\n", b"")
    else:
        have, ends_open = header, False
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if not path.exists():
        w.writerow(have)
    for r in rows:
        w.writerow([dict(zip(header, r, strict=True)).get(c, "") for c in have])
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write(("\n" if ends_open else "") + out.getvalue())
