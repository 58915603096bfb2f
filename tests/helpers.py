"""What the tests share besides fixtures: running the DAGs and the night's task bodies, the
night's outcome as rows, and small CSV helpers. Test modules import these from here (the fixtures
stay in conftest.py)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from builder import AS_OF

from tools.mailcatcher import free_port  # noqa: F401  (for the tests)

ROOT = Path(__file__).resolve().parents[1]


def smtp_url(port: int) -> str:
    """The Airflow connection URI of a local SMTP server without TLS."""
    from tools.mailcatcher import connection_uri

    return connection_uri(port)


def logical_date(as_of: date):
    from iepwatch.district import load_config
    from iepwatch.night import logical_date as ld

    return ld(as_of, load_config().district.timezone)


def run_dag(dag_id: str, as_of: date, conf: dict | None = None):
    """Run a DAG of ``dags/`` once with dag.test(); returns (state, {task_id: (state, try_number)}), a mapped
    task's instances also as ``task_id[map_index]``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    dr = bag.dags[dag_id].test(logical_date=logical_date(as_of), run_conf=conf or {})
    tis = {ti.task_id: (ti.state, ti.try_number) for ti in dr.get_task_instances()}
    tis.update({f"{ti.task_id}[{ti.map_index}]": (ti.state, ti.try_number) for ti in dr.get_task_instances()
                if ti.map_index >= 0})
    return dr.state, tis


class Night:
    """The outcome of one evaluated night: rule results and exceptions as dicts."""

    def __init__(self, results: list[dict], exceptions: list[dict], resolved: list[dict]):
        self.results, self.exceptions, self.resolved = results, exceptions, resolved

    def statuses(self, rule: str, student: str | None = None, meeting: str | None = None) -> set[str]:
        """Statuses of the night's exceptions for a rule (optionally one student / meeting)."""
        return {e["status"] for e in self.exceptions if e["rule_id"] == rule
                and (student is None or e["student_id"] == student)
                and (meeting is None or e["meeting_id"] == meeting)}

    def exception(self, rule: str, student: str | None = None, status: str | None = None) -> dict:
        found = [e for e in self.exceptions if e["rule_id"] == rule and (student is None or e["student_id"] == student)
                 and (status is None or e["status"] == status)]
        assert len(found) == 1, (rule, student, status, found)
        return found[0]

    def evaluated(self, rule: str, student: str | None = None) -> list[dict]:
        return [r for r in self.results if r["rule_id"] == rule and (student is None or r["student_id"] == student)]


def run_night_in_process(folder: Path | None, as_of: date, emails: bool = False, **params):
    """The night's task bodies, called in order as the DAG wires them (no Airflow): up to the
    exceptions, and the coordinator emails with ``emails``. ``params`` are the run's params."""
    from iepwatch.tasks import iep_nightly as t

    params = {**({"export_dir": str(folder)} if folder else {}), **params}   # no folder: export_source decides
    night = t.find_export(params=params, logical_date=logical_date(as_of))
    night = t.ingest(night, params)
    if emails:
        t.send_coordinator_emails(night)
    return night


NEXT = AS_OF + timedelta(days=1)
SECRET_FIRST, SECRET_LAST = "Zqxjfirstname", "Vvkwlastname"


def snapshot(warehouse: Path) -> dict[str, list]:
    import duckdb

    from iepwatch.ingest.contract import TABLES

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t.name: con.execute(f"SELECT * FROM core.{t.name} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_rows(path: Path, data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(data)


def read_records(path: Path) -> list[dict]:
    """A CSV file's records as dicts (header = keys)."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_records(path: Path, records: list[dict], fields: list[str] | None = None) -> None:
    """Records back to a CSV file, with the header ``fields`` (else the first record's keys)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields or list(records[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(records)


def set_value(folder: Path, table: str, line: int, column: str, value: str) -> None:
    """Set one cell; ``line`` is the file's line number (header is line 1)."""
    data = rows(folder / f"{table}.csv")
    data[line - 1][data[0].index(column)] = value
    write_rows(folder / f"{table}.csv", data)


def run_next_night(export: Path, capfd):
    capfd.readouterr()
    state, tis = run_dag("iep_nightly", NEXT, {"export_dir": str(export)})
    out, err = capfd.readouterr()
    return state, tis, out + err


def assert_failed_fast(state, tis, log, task: str, *needles: str):
    assert state == "failed"
    assert tis[task] == ("failed", 1), f"{task} should fail once without retry: {tis}"
    assert "publish_night" not in tis or tis["publish_night"][0] != "success"
    message = next(line for line in log.splitlines() if "DATA ERROR: " in line and "raise " not in line)
    for needle in needles:
        assert needle in message, (needle, message)


def assert_nothing_published_and_raw_kept(data_dir: Path, published_night: Path, export: Path):
    assert snapshot(data_dir / "warehouse.duckdb") == snapshot(published_night / "warehouse.duckdb")
    archived = list((data_dir / "landing" / str(NEXT)).glob("*/manifest.json"))
    assert len(archived) == 1, "the raw export of a failed night is archived"
    for f in export.glob("*.csv"):
        assert (archived[0].parent / f.name).read_bytes() == f.read_bytes()


def mail_parts(msg) -> tuple[str, str]:
    """A digest's plain text and HTML."""
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    return text, html


def send_digests(data_dir, as_of=AS_OF, **email_settings):
    """The night's coordinator digests sent (the task's body, its email settings overridden)."""
    from iepwatch import warehouse
    from iepwatch.digests import send as sender
    from iepwatch.district import load_config

    cfg = load_config(overrides={"email": email_settings})
    with warehouse.connect(cfg) as con:
        return sender.send_all(con, cfg, as_of)


def extract_text(name: str, as_of=AS_OF) -> str:
    """One format built, checked (its GX suite compiled to DuckDB) and published with the
    package's engine, its night served as publish_extracts serves it; its file's text."""
    from iepwatch import warehouse
    from iepwatch.district import load_config
    from iepwatch.extracts import engine, served

    cfg = load_config()
    d = engine.definitions(cfg)[name]
    with warehouse.connect(cfg) as con:
        n = engine.build(con, cfg, as_of, d)
        engine.check(con, d, engine.suite(d, as_of, n))
        folder = engine.publish(con, cfg, as_of, d)
    served.serve(cfg.paths.extracts_dir, as_of.isoformat(), [name])
    return (folder / d.raw["file_name"].format(as_of=as_of)).read_text()
