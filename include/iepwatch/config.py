"""The configuration: one typed, validated section per concern, read from ``iepwatch.yaml``.

Every key is declared here once, with its type, default and check. Loading fails at once
with one line naming the file and the key (an unknown key, a wrong type, a bad cron or
time zone, a missing required key), so a typo shows in the Airflow UI as an import error
that names it. Paths may be overridden by environment variables (``IEPWATCH_DATA_DIR``,
``IEPWATCH_EXPORT_ROOT``; ``IEPWATCH_CONFIG`` picks another file) so that tests, the demo
and docker-compose point the same code at other folders.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from iepwatch import run_record
from iepwatch.errors import ConfigError
from iepwatch.files import read_yaml
from iepwatch.rules import catalog, packs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "iepwatch.yaml"


# --- checks (each raises ValueError with the reason) ------------------------------------------

def _timezone(v: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (an IANA name such as America/Los_Angeles)") from None


def _cron(v: str) -> None:
    from croniter import croniter

    if not croniter.is_valid(v) or len(v.split()) != 5:
        raise ValueError(f"not a five-field cron expression: {v!r}")
    if not all(x.isdigit() for x in v.split()[:2]):
        raise ValueError(f"minute and hour must be plain numbers (one run a night): {v!r}")


def _pattern(regex: str, what: str):
    def check(v: str) -> None:
        if not re.fullmatch(regex, v):
            raise ValueError(f"expected {what}, got {v!r}")
    return check


def _at_least(low: float):
    def check(v: float) -> None:
        if v < low:
            raise ValueError(f"must be at least {low:g}, got {v!r}")
    return check


def _percent(v: float) -> None:
    if not 0 <= v <= 100:
        raise ValueError(f"must be a percentage from 0 to 100, got {v!r}")


def _email(v: str) -> None:
    if not re.fullmatch(r"[^@\s,;<>]+@[^@\s,;<>]+\.[A-Za-z0-9-]+", v):
        raise ValueError(f"not one email address: {v!r}")


def _domains(v: list[str]) -> None:
    bad = [d for d in v if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+", d)]
    if bad:
        raise ValueError(f"not a domain name: {bad[0]!r}")


def _opt(default: Any = dataclasses.MISSING, check=None, factory=None):
    meta = {"check": check} if check else {}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


_DAYS = _at_least(0)
_POSITIVE = _at_least(1)


# --- sections -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DistrictConfig:
    name: str
    timezone: str = _opt(check=_timezone)
    schedule: str = _opt("0 2 * * *", _cron)           # cron, in the district's time zone
    owner: str = "iepwatch-data-team"
    pool: str = "iepwatch_warehouse"                    # the one-slot Airflow pool (iepwatch.district.pools)
    retry_delay_seconds: int = _opt(60, _POSITIVE)      # first retry of a task after a transient fault


@dataclass(frozen=True)
class PathsConfig:
    """Everything the pipeline writes lives below ``data_dir`` unless a path says otherwise."""

    data_dir: Path = Path("data")
    export_root: Path | None = None    # the student system drops <YYYY-MM-DD>/ here (default data_dir/exports)
    extracts_dir: Path | None = None   # state extracts (default data_dir/extracts)
    outbox_dir: Path | None = None     # the local mail catcher's folder (default data_dir/outbox)

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def datadocs_dir(self) -> Path:
        return self.data_dir / "datadocs"

    def run_dir(self, as_of: date | str) -> Path:
        """The night's run record (``iepwatch.runs``)."""
        return run_record.folder(self.data_dir, as_of)


@dataclass(frozen=True)
class ExportSourceConfig:
    """Where the night's export comes from: files the student system drops in ``export_root``,
    or the student system's database, read in bulk into ``export_root/<as-of>/`` first."""

    kind: Literal["files", "database"] = "files"
    conn_id: str | None = None   # database: the Airflow connection (postgresql:// or mysql://)
    # database: the schema (PostgreSQL; default public) or database (MariaDB; default the connection's)
    schema: str | None = _opt(None, _pattern(r"[A-Za-z_][A-Za-z0-9_]{0,62}", "a schema name"))


@dataclass(frozen=True)
class QualityConfig:
    quarantine_threshold_pct: float = _opt(5.0, _percent)
    quarantine_threshold_min_rows: int = _opt(10, _DAYS)   # ... once a table has more bad rows than this
    require_completion_marker: bool = False   # start a night only on an export with export_complete.json
    max_table_shrink_pct: float = _opt(25.0, _percent)   # a table losing more rows than this fails the gate
    shrink_check_min_rows: int = _opt(20, _DAYS)         # ... when it had at least this many rows
    min_free_disk_mb: int = _opt(500, _DAYS)             # free space needed beside the data folder


@dataclass(frozen=True)
class EmailConfig:
    """Coordinator digests."""

    smtp_conn_id: str = "smtp_default"
    from_address: str = _opt("iepwatch@example.org", _email)   # when the connection sets no from_email
    templates_dir: Path | None = None        # subject.txt.j2 / digest.txt.j2 / digest.html.j2 overrides
    email_student_names: Literal["initials", "full"] = "initials"
    send_empty_digest: bool = False
    max_rows_per_section: int = _opt(10, _POSITIVE)   # a longer section shows its most urgent; all go in a CSV
    fallback_address: str = _opt("sped-office@example.org", _email)  # schools without a coordinator
    recipient_domains: list[str] = _opt(factory=list, check=_domains)  # coordinators' addresses must be in
                                                                       # these domains (empty: any domain)
    # the iepwatch page as coordinators reach it (https://airflow.example.org/iepwatch/): each row of a
    # digest links to its drill-down there (student-level roles only); empty: no links
    page_url: str = _opt("", _pattern(r"(https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~%/-]*)?/)?",
                                      "an http(s) address ending in '/', or empty"))
    send_retries: int = _opt(2, _DAYS)   # tries after a transient SMTP fault (server down, 4xx); a wrong
                                         # connection (login, TLS, host) fails at once whatever this says


@dataclass(frozen=True)
class AlertsConfig:
    """Run alerts to the data team (failed tasks, a night not finished by the morning)."""

    data_team_address: str = _opt("data-team@example.org", _email)
    deadline_local_time: str = _opt("06:00", _pattern(r"([01]\d|2[0-3]):[0-5]\d", "HH:MM"))


def _rule_section(rule) -> type:
    """A rule's section (``rules.<ID>``): its catalog settings as typed, checked keys."""
    types_ = {"int": int, "bool": bool, "text": str, "list": list[str]}
    fields = []
    for s in rule.settings:
        tp = Literal[s.choices] if s.type == "choice" else types_[s.type]
        check = _at_least(s.min) if s.min is not None else None
        f = _opt(factory=lambda v=s.default: list(v), check=check) if s.type == "list" else _opt(s.default, check)
        fields.append((s.name, tp, f))
    return _module_class(dataclasses.make_dataclass(f"{rule.rule_id}Settings", fields, frozen=True))


def _module_class(cls: type) -> type:
    """A generated class made a module attribute, as a class statement makes it: the configuration
    pickles (the digests' renderer processes receive it)."""
    cls.__module__ = __name__
    globals()[cls.__name__] = cls
    return cls


def _rules_config() -> type:
    """``rules``: the settings every rule shares, then one section per rule of the catalog
    (``iepwatch/rules/catalog.yaml``); the SQL receives these values and restates none of them."""
    shared = [
        ("school_year_start", str,
         _opt("07-01", _pattern(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", "MM-DD"))),
        ("transition_age", int, _opt(16, _POSITIVE)),
        ("state_pack", str, _opt("federal")),   # federal | california | illinois | texas | pennsylvania | own
        ("packs", dict, _opt(factory=dict)),      # a district's own packs, or overrides of a built-in one's numbers
    ]
    sections = [(r.rule_id, section, _opt(factory=section))
                for r in catalog.rules().values() for section in [_rule_section(r)]]
    cls = _module_class(dataclasses.make_dataclass("RulesConfig", shared + sections, frozen=True))
    cls.__doc__ = _rules_config.__doc__
    return cls


RulesConfig = _rules_config()


@dataclass(frozen=True)
class ExtractsConfig:
    """The formats a district builds: every format no state pack names, the formats its own pack
    names (CALPADS for California), then ``add_formats`` and less ``drop_formats``."""

    definitions_dir: Path | None = None   # a district's own format definitions (override the shipped ones)
    add_formats: list[str] = _opt(factory=list)    # another state's format built all the same
    drop_formats: list[str] = _opt(factory=list)   # a format this district does not build


def _roles(v: list[str]) -> None:
    if not v:
        raise ValueError("at least one role (by default op and admin)")
    if any(r.lower() == "viewer" for r in v):
        raise ValueError("the viewer role never sees student-level data (FERPA)")


@dataclass(frozen=True)
class UiConfig:
    """The data team's page in the Airflow UI."""

    # Airflow roles that may see student-level data (exception rows, student files); others see counts
    student_level_roles: list[str] = _opt(factory=lambda: ["op", "admin"], check=_roles)
    trend_nights: int = _opt(30, _POSITIVE)          # nights drawn in the trends
    # Airflow roles that may mark an extract's generation as submitted to the state
    submit_roles: list[str] = _opt(factory=lambda: ["op", "admin"], check=_roles)


@dataclass(frozen=True)
class CorrectionsConfig:
    """The ledger of the state's findings of noncompliance (docs/corrections.md)."""

    folder: Path | None = None        # findings.csv and finding_instances.csv (default data_dir/findings)
    prong2_records: int = _opt(10, _POSITIVE)   # compliant records after the last noncompliant one: prong 2 met


@dataclass(frozen=True)
class Config:
    district: DistrictConfig
    paths: PathsConfig = _opt(factory=PathsConfig)
    export_source: ExportSourceConfig = _opt(factory=ExportSourceConfig)
    quality: QualityConfig = _opt(factory=QualityConfig)
    email: EmailConfig = _opt(factory=EmailConfig)
    alerts: AlertsConfig = _opt(factory=AlertsConfig)
    rules: RulesConfig = _opt(factory=RulesConfig)
    extracts: ExtractsConfig = _opt(factory=ExtractsConfig)
    ui: UiConfig = _opt(factory=UiConfig)
    corrections: CorrectionsConfig = _opt(factory=CorrectionsConfig)
    source: Path = field(default=DEFAULT_CONFIG, compare=False, metadata={"internal": True})
    district_id: str | None = field(default=None, metadata={"internal": True})   # in a deployment of many

    # Shortcuts for what nearly every caller needs.
    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir

    @property
    def warehouse(self) -> Path:
        return self.paths.warehouse

    def run_dir(self, as_of: date | str) -> Path:
        return self.paths.run_dir(as_of)

    @property
    def pack(self):
        """The state timeline pack in force (``rules.state_pack``), built and checked on load."""
        return packs.build(self.rules.state_pack, self.rules.packs)


# --- loading --------------------------------------------------------------------------------

def fail(source: Path, key: str, reason: str) -> typing.NoReturn:
    raise ConfigError(f"{source.name}: {key}: {reason} (file {source})")


def _type_name(tp) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "text",
            Path: "a path"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(tp, value, key: str, source: Path):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, source)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, source)
    if origin is Literal:
        if value not in args:
            fail(source, key, f"expected one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if tp is dict:
        if not isinstance(value, dict):
            fail(source, key, f"expected a section of keys, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            fail(source, key, f"expected a list, got {value!r}")
        return [_coerce(args[0], v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, int | float) and not isinstance(value, bool),
          str: isinstance(value, str),
          Path: isinstance(value, str) and value != ""}[tp]
    if not ok:
        fail(source, key, f"expected {_type_name(tp)}, got {value!r}")
    return Path(value) if tp is Path else float(value) if tp is float else value


def _build(cls, raw, where: str, source: Path):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fail(source, where or "(top level)", f"expected a section of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    for k in raw:
        if k not in fields:
            fail(source, f"{where}.{k}" if where else str(k),
                  f"unknown key (expected one of: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                fail(source, key, "required key is missing")
            continue
        value = _coerce(hints[name], raw[name], key, source)
        check = f.metadata.get("check")
        if check and value is not None:
            try:
                check(value)
            except ValueError as e:
                fail(source, key, str(e))
        kwargs[name] = value
    return cls(**kwargs)


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_config(path: Path, own: dict, where: str = "", env_paths: bool = True) -> Config:
    """``own`` (the keys of the file ``path``) read over the project's file, checked, its paths
    resolved. ``where`` prefixes every key an error names; ``env_paths=False`` ignores
    ``IEPWATCH_DATA_DIR`` / ``IEPWATCH_EXPORT_ROOT`` (a deployment's districts set their own)."""
    base_raw = read_yaml(DEFAULT_CONFIG) if path != DEFAULT_CONFIG and DEFAULT_CONFIG.exists() else {}
    cfg = _build(Config, deep_merge(base_raw, own), where, path)

    def folder_of(section: str, key: str) -> Path:
        """A relative path is relative to the file that sets it (the district's, else the project's)."""
        return path.parent if key in (own.get(section) or {}) or not base_raw else DEFAULT_CONFIG.parent

    def resolve(p: Path | None, key: tuple[str, str], env: str | None = None,
                default: Path | None = None) -> Path | None:
        if env and env_paths and os.environ.get(env):
            p = Path(os.environ[env])
        if p is None:
            return default
        return (p if p.is_absolute() else folder_of(*key) / p).resolve()

    data_dir = resolve(cfg.paths.data_dir, ("paths", "data_dir"), "IEPWATCH_DATA_DIR")
    # A data folder from the environment brings its own exports/ unless the export root is set there too.
    export_root = cfg.paths.export_root if not (env_paths and os.environ.get("IEPWATCH_DATA_DIR")) else None
    paths = PathsConfig(
        data_dir=data_dir,
        export_root=resolve(export_root, ("paths", "export_root"), "IEPWATCH_EXPORT_ROOT", data_dir / "exports"),
        extracts_dir=resolve(cfg.paths.extracts_dir, ("paths", "extracts_dir"), None, data_dir / "extracts"),
        outbox_dir=resolve(cfg.paths.outbox_dir, ("paths", "outbox_dir"), None, data_dir / "outbox"))
    for name in {cfg.rules.state_pack, *cfg.rules.packs}:
        try:
            packs.build(name, cfg.rules.packs)
        except ValueError as e:
            own_key = str(e).startswith("packs.")
            key = str(e).split(":")[0] if own_key else "state_pack"
            fail(path, ".".join(filter(None, [where, "rules", key])), str(e).split(": ", 1)[-1] if own_key else str(e))
    email = dataclasses.replace(cfg.email, templates_dir=resolve(cfg.email.templates_dir, ("email", "templates_dir")))
    extracts = dataclasses.replace(cfg.extracts, definitions_dir=resolve(cfg.extracts.definitions_dir,
                                                                          ("extracts", "definitions_dir")))
    corrections = dataclasses.replace(cfg.corrections, folder=resolve(
        cfg.corrections.folder if not (env_paths and os.environ.get("IEPWATCH_DATA_DIR")) else None,
        ("corrections", "folder"), None, data_dir / "findings"))
    return dataclasses.replace(cfg, paths=paths, email=email, extracts=extracts, corrections=corrections, source=path)
