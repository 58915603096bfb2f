"""One typed configuration object, read from the YAML file.

Paths may be overridden by environment variables so that tests, the demo and
docker-compose can point the same code at other folders.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "iepwatch.yaml"


@dataclass(frozen=True)
class Config:
    district_name: str
    timezone: str
    schedule: str
    owner: str
    pool: str
    data_dir: Path
    export_root: Path
    quarantine_threshold_pct: float
    smtp_conn_id: str
    email: dict[str, Any]
    rules: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    # Everything the pipeline writes lives below data_dir.
    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def datadocs_dir(self) -> Path:
        return self.data_dir / "datadocs"

    def run_dir(self, as_of: date) -> Path:
        return self.data_dir / "runs" / as_of.isoformat()

    def rule(self, rule_id: str) -> dict[str, Any]:
        return dict(self.rules.get(rule_id) or {})


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """Read the YAML file (``IEPWATCH_CONFIG`` or the project's), apply overrides and env paths."""
    path = Path(path or os.environ.get("IEPWATCH_CONFIG") or DEFAULT_CONFIG)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if path != DEFAULT_CONFIG and DEFAULT_CONFIG.exists():
        # A district file only needs the keys it changes.
        raw = _deep_merge(yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")), raw)
    raw = _deep_merge(raw, overrides or {})
    base = path.parent

    def _path(env: str, value: str) -> Path:
        p = Path(os.environ.get(env) or value)
        return (p if p.is_absolute() else base / p).resolve()

    data_dir = _path("IEPWATCH_DATA_DIR", raw["paths"]["data_dir"])
    export_default = raw["paths"].get("export_root") or str(data_dir / "exports")
    if os.environ.get("IEPWATCH_DATA_DIR") and not os.environ.get("IEPWATCH_EXPORT_ROOT"):
        export_default = str(data_dir / "exports")
    return Config(
        district_name=raw["district"]["name"],
        timezone=raw["district"]["timezone"],
        schedule=raw["schedule"],
        owner=raw.get("owner", "iepwatch"),
        pool=raw.get("pool") or "default_pool",
        data_dir=data_dir,
        export_root=_path("IEPWATCH_EXPORT_ROOT", export_default),
        quarantine_threshold_pct=float(raw["quality"]["quarantine_threshold_pct"]),
        smtp_conn_id=raw["connections"]["smtp"],
        email=dict(raw.get("email") or {}),
        rules=dict(raw.get("rules") or {}),
        raw=raw,
    )
