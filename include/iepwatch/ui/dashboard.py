"""What the data team's page shows, assembled from the files the nights write (``runs/<as-of>/``:
summary.json, exceptions.csv, quarantine.csv, emails.json; the extract manifests) and from
Airflow's own run records. The page never opens the DuckDB warehouse, so it cannot block a
night's writer; the exception rows are read from the night's exceptions.csv.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from iepwatch import run_record
from iepwatch.alerts import deadline_interval
from iepwatch.config import Config
from iepwatch.rules import statuses
from iepwatch.rules.evaluate import EXCEPTION_COLUMNS, LOOKAHEAD_DAYS, rules_in_force
from iepwatch.rules.statuses import NAMES

KIND_GROUPS = (("timeline", "Timelines"), ("meeting", "Meetings: team and notice"), ("plan", "The IEP itself"))
FILTERS = ("school", "rule", "status", "severity", "case_manager", "student", "new_since")
SORTS = {"urgency": "status_rank, days_overdue DESC NULLS LAST, due_date NULLS LAST, student_id",
         "due_date": "due_date NULLS LAST, status_rank, student_id",
         "days_overdue": "days_overdue DESC NULLS LAST, due_date, student_id",
         "student": "student_id, rule_id", "school": "school_id, status_rank, student_id",
         "case_manager": "case_manager_staff_id NULLS LAST, status_rank, student_id",
         "first_detected": "first_detected_on DESC, status_rank, student_id"}
ROW_LIMIT = 500   # rows of a drill-down on one page (the CSV link has them all)


# --- the nights' files ------------------------------------------------------------------------

def summaries(cfg: Config, nights: int | None = None) -> list[dict]:
    """The last ``nights`` nights' summary.json, oldest first."""
    paths = sorted(run_record.root(cfg.data_dir).glob(f"*/{run_record.SUMMARY}"))
    return [json.loads(p.read_text()) for p in (paths[-nights:] if nights else paths)]


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def findings(cfg: Config, as_of: str | None) -> dict | None:
    """The findings ledger shown with the night ``as_of``: its own, or the last good one before it
    (``findings.json``, counts only)."""
    return run_record.ledger(cfg.data_dir, as_of) if as_of else None


def finding_cases(cfg: Config, ledger_as_of: str, finding_id: str) -> list[dict]:
    """A finding's instances and prong-2 records of the ledger's night (student-level), every value
    bound as a parameter."""
    import duckdb

    path = cfg.run_dir(ledger_as_of) / run_record.FINDING_CASES
    if not path.is_file():
        return []
    with duckdb.connect() as con:
        cur = con.execute("SELECT * FROM read_csv(?, header = true, all_varchar = true) WHERE finding_id = ? "
                          "ORDER BY kind, try_cast(seq AS INTEGER), student_id, meeting_id, date",
                          [str(path), finding_id])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def quarantined(cfg: Config, as_of: str) -> int | None:
    """Rows of the night set aside by the gate (lines of quarantine.csv after its header)."""
    path = cfg.run_dir(as_of) / run_record.QUARANTINE
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return max(sum(1 for _ in f) - 1, 0)


def extracts(cfg: Config, as_of: str | None = None) -> list[dict]:
    """The extract manifests of the served nights (of one night, or every night), newest night first."""
    from iepwatch.extracts import served

    out = []
    for manifest in sorted(served.manifests(cfg.paths.extracts_dir, as_of),
                           key=lambda p: (p.parent.name, p.parent.parent.name), reverse=True):
        out.append(json.loads(manifest.read_text()))
    return out


# --- run health ---------------------------------------------------------------------------------

def expected_as_of(cfg: Config, now: datetime) -> date:
    """The newest night that should be finished by ``now``: the as-of date of the latest
    scheduled fire time whose morning deadline (``alerts.deadline_local_time``) has passed."""
    from croniter import croniter

    tz = ZoneInfo(cfg.district.timezone)
    allowed = deadline_interval(cfg.district.schedule, cfg.alerts.deadline_local_time)
    it = croniter(cfg.district.schedule, now.astimezone(tz))
    fire = it.get_prev(datetime)
    while fire + allowed > now:
        fire = it.get_prev(datetime)
    return fire.astimezone(tz).date()


@dataclass
class Health:
    """The last night at a glance: the Airflow runs of both DAGs and the night's own files."""
    as_of: str | None = None
    state: str | None = None              # the iep_nightly run's state (success, failed, running, ...)
    finished: str | None = None           # its end, in the district's time zone
    failed_tasks: list[str] = field(default_factory=list)      # the tasks that failed themselves
    upstream_failed: list[str] = field(default_factory=list)   # not run: a task before them failed
    task_logs: dict[str, str] = field(default_factory=dict)    # a failed task's log in the Airflow UI
    reasons: dict[str, str] = field(default_factory=dict)      # a failed task's error, first line (failures.json)
    reporting_state: str | None = None    # the state_reporting run of the same night
    quarantined: int | None = None
    quarantine_as_of: str | None = None   # the night those rows are of: the last night, else the last that was checked
    emails: dict | None = None            # sent, failed, already_sent, nothing_to_report
    extracts: list[dict] = field(default_factory=list)
    last_success: str | None = None
    expected: str | None = None           # the night that should be done by now (None: the schedule is off)
    warnings: list[str] = field(default_factory=list)
    warnings_as_of: str | None = None     # the night whose files carry the warnings (the newest with files)

    @property
    def stale(self) -> bool:
        return self.expected is not None and (self.last_success is None or self.last_success < self.expected)

    @property
    def ok(self) -> bool:
        return (self.state == "success" and not self.failed_tasks and not self.stale
                and not (self.emails or {}).get("failed"))


def health(cfg: Config, runs: list[dict], now: datetime, latest: dict | None, paused: bool = False) -> Health:
    """``runs``: Airflow's runs of both DAGs (dag_id, as_of, state, end_date, failed_tasks, and
    upstream_failed and task_logs when known), any order;
    ``latest``: the newest night's summary.json (None before the first night);
    ``paused``: the nightly's schedule is off, so no night is expected and none is stale."""
    tz = ZoneInfo(cfg.district.timezone)
    nightly = sorted((r for r in runs if r["dag_id"] == "iep_nightly"), key=lambda r: r["as_of"])
    h = Health(expected=None if paused else expected_as_of(cfg, now).isoformat())
    last = nightly[-1] if nightly else None
    h.as_of = last["as_of"] if last else (latest["as_of"] if latest else None)
    successes = [r["as_of"] for r in nightly if r["state"] == "success"]
    h.last_success = successes[-1] if successes else None
    if last:
        h.state, h.failed_tasks = last["state"], last["failed_tasks"]
        h.upstream_failed, h.task_logs = last.get("upstream_failed", []), last.get("task_logs", {})
        h.finished = last["end_date"].astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if last["end_date"] else None
        reporting = [r for r in runs if r["dag_id"] == "state_reporting" and r["as_of"] == h.as_of]
        h.reporting_state = reporting[-1]["state"] if reporting else None
    if h.as_of:
        checked = sorted(p.parent.name for p in run_record.root(cfg.data_dir).glob(f"*/{run_record.QUARANTINE}")
                         if p.parent.name <= h.as_of)
        h.quarantine_as_of = h.as_of if h.as_of in checked else (checked[-1] if checked else None)
        h.quarantined = quarantined(cfg, h.quarantine_as_of) if h.quarantine_as_of else None
        h.emails = _json(cfg.run_dir(h.as_of) / run_record.EMAILS)
        h.extracts = extracts(cfg, h.as_of)
        h.reasons = {t.split("[")[0]: f["error"]   # a mapped instance (build_extract[1]) under its task
                     for t, f in sorted((_json(cfg.run_dir(h.as_of) / run_record.FAILURES) or {}).items())
                     if t.split("[")[0] in h.failed_tasks}
    if latest:
        h.warnings, h.warnings_as_of = latest.get("warnings", []), latest["as_of"]
    return h


# --- counts, trends, look-ahead -------------------------------------------------------------

def rule_groups(cfg: Config) -> list[tuple[str, list[dict]]]:
    """The rules in force, grouped (timelines, meetings, the IEP) in the order of the docs."""
    rules = list(rules_in_force(cfg).values())
    return [(label, [r for r in rules if r.get("kind") == kind]) for kind, label in KIND_GROUPS
            if any(r.get("kind") == kind for r in rules)]


def counts(summary: dict) -> dict:
    """Exceptions of a night by status: per school, per rule (the district's), and the district's."""
    schools: dict[str, dict] = {}
    rules: dict[str, dict[str, int]] = {}
    for c in summary["counts"]:
        s = schools.setdefault(c["school_id"], {"name": c["school_name"] or c["school_id"],
                                                "total": dict.fromkeys(NAMES, 0)})
        s["total"][c["status"]] += c["n"]
        rules.setdefault(c["rule_id"], dict.fromkeys(NAMES, 0))[c["status"]] += c["n"]
    district = {st: sum(s["total"][st] for s in schools.values()) for st in NAMES}
    return {"schools": dict(sorted(schools.items(), key=lambda kv: kv[1]["name"])), "rules": rules,
            "district": district}


def trends(nights: list[dict]) -> dict:
    """Per night (oldest first): open exceptions (overdue, due soon) and every status, for the
    district and each school, and the exceptions resolved that night; ``days``, each night's day
    from the first (a chart spaces nights by date), and ``missing``, the nights without a run
    before each one."""
    dates = [date.fromisoformat(n["as_of"]) for n in nights]
    out: dict = {"nights": [n["as_of"] for n in nights], "district": {st: [] for st in NAMES}, "schools": {},
                 "resolved": [], "names": {}, "days": [(d - dates[0]).days for d in dates],
                 "missing": [0] + [(b - a).days - 1 for a, b in zip(dates, dates[1:], strict=False)]}
    for i, n in enumerate(nights):
        for st in NAMES:
            out["district"][st].append(0)
        for c in n["counts"]:
            out["names"][c["school_id"]] = c["school_name"] or c["school_id"]
            school = out["schools"].setdefault(c["school_id"], {st: [0] * len(nights) for st in NAMES})
            school[c["status"]][i] += c["n"]
            out["district"][c["status"]][i] += c["n"]
        out["resolved"].append(sum(r["n"] for r in n.get("resolved", [])))
    return out


def chart(series: dict[str, list[int]], width: int = 560, height: int = 140, days: list[int] | None = None) -> dict:
    """An inline SVG line chart's geometry (no script, no CDN): a polyline per series, its points
    placed by ``days`` (a night missing leaves its gap), else evenly."""
    points = max((len(v) for v in series.values()), default=0)
    top = max([1, *(x for v in series.values() for x in v)])
    xs = days if days is not None else list(range(points))
    step = (width - 40) / max(max(xs, default=0), 1)
    lines = {name: " ".join(f"{30 + xs[i] * step:.1f},{height - 20 - (x / top) * (height - 30):.1f}"
                            for i, x in enumerate(v)) for name, v in series.items()}
    return {"width": width, "height": height, "top": top, "lines": lines, "points": points}


def lookahead(summary: dict) -> dict:
    """Open deadlines due within 30/60/90 days: by school and by case manager (counts only)."""
    by_school: dict[str, dict] = {}
    by_cm: dict[str, dict] = {}
    for r in summary.get("lookahead", []):
        for key, bucket, label in ((r["school_id"], by_school, r["school_id"]),
                                   (r["case_manager_id"] or "", by_cm,
                                    f"{r['case_manager'] or 'Case manager'} ({r['case_manager_id']})"
                                    if r["case_manager_id"] else "No case manager")):
            row = bucket.setdefault(key, {"label": label, **{d: 0 for d in LOOKAHEAD_DAYS}})
            for d in LOOKAHEAD_DAYS:
                row[d] += r[f"within_{d}"]
    return {"days": LOOKAHEAD_DAYS, "schools": dict(sorted(by_school.items())),
            "case_managers": dict(sorted(by_cm.items(), key=lambda kv: (kv[0] == "", kv[1]["label"])))}


# --- the exception rows (student-level) --------------------------------------------------------

def exception_rows(cfg: Config, as_of: str, filters: dict[str, str], sort: str = "urgency",
                   limit: int = ROW_LIMIT) -> tuple[int, list[dict], dict[str, dict[str, int]]]:
    """A night's exception rows (from its exceptions.csv) matching ``filters``: the total, the
    first ``limit`` rows in ``sort`` order, and their counts by rule and status (the level between
    a school and its rows). Every value is bound as a parameter."""
    import duckdb

    path = cfg.run_dir(as_of) / run_record.EXCEPTIONS
    if not path.is_file():
        return 0, [], {}
    where, params = ["true"], [str(path)]
    for key, column in (("school", "school_id"), ("rule", "rule_id"), ("status", "status"),
                        ("severity", "severity"), ("case_manager", "case_manager_staff_id"),
                        ("student", "student_id")):
        if filters.get(key):
            where.append(f"{column} = ?")
            params.append(filters[key])
    if filters.get("new_since"):
        where.append("first_detected_on >= CAST(? AS DATE)")
        params.append(filters["new_since"])
    rank = statuses.rank_sql("status")
    types = {c: "DATE" for c in ("as_of", "due_date", "event_date", "first_detected_on")} | {"days_overdue": "INTEGER"}
    columns = "{" + ", ".join(f"'{c}': '{types.get(c, 'VARCHAR')}'" for c in EXCEPTION_COLUMNS) + "}"
    base = (f"FROM (SELECT *, {rank} AS status_rank FROM read_csv(?, header = true, columns = {columns})) "
            f"WHERE {' AND '.join(where)}")
    with duckdb.connect() as con:
        total = con.execute(f"SELECT count(*) {base}", params).fetchone()[0]
        cur = con.execute(f"SELECT * EXCLUDE (status_rank) {base} ORDER BY {SORTS.get(sort, SORTS['urgency'])} "
                          f"LIMIT {int(limit)}", params)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        by_rule: dict[str, dict[str, int]] = {}
        for rule, status, n in con.execute(f"SELECT rule_id, status, count(*) {base} GROUP BY ALL", params).fetchall():
            by_rule.setdefault(rule, {})[status] = n
        return total, rows, by_rule

