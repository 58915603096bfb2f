"""The rule catalog (``catalog.yaml``): each federal rule once, and what is generated from it.

Adding a rule is its catalog entry, its SQL (``include/sql/rules/<kind>/<ID>.sql``) and its
tests: the configuration section, the compliance suite, the state summary's columns, the rule
tables of docs/rules.md and the exception's detail all come from the entry. This module reads
data only (no configuration, no warehouse), so the configuration can be built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from iepwatch.files import read_yaml

CATALOG = Path(__file__).resolve().with_name("catalog.yaml")
KINDS = ("timeline", "meeting", "plan")
SETTING_TYPES = ("int", "bool", "text", "list", "choice")
PASSING = ("ok", "due_soon", "exempt")   # the compliance suite's expected statuses: the rest are not compliant


@dataclass(frozen=True)
class Setting:
    name: str
    type: str
    default: object
    min: int | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    citation: str
    title: str
    kind: str
    checks: str
    detail: str
    settings: tuple[Setting, ...] = ()
    sql: str = ""
    params: dict = field(default_factory=dict)
    fails_as: str | None = None
    summary: dict | str | None = None
    action: str = ""   # what meets a timeline, said as what a coordinator does
    meeting: bool = False   # a timeline met by holding a meeting (its written notice is due before it)

    @property
    def sql_file(self) -> str:
        """Its rows' SQL, below include/sql/."""
        return f"rules/{self.kind}/{self.sql or self.rule_id}.sql"

    def entry(self) -> dict:
        """What the page, emails and Data Docs know of a rule: id, citation, title, kind, action,
        whether a meeting meets it."""
        return {"rule_id": self.rule_id, "citation": self.citation, "title": self.title, "kind": self.kind,
                "action": self.action, "meeting": self.meeting}


def _setting(rule_id: str, name: str, spec: dict) -> Setting:
    where = f"{CATALOG.name}: {rule_id}.settings.{name}"
    if spec.get("type") not in SETTING_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(SETTING_TYPES)}")
    unknown = set(spec) - {"type", "default", "min", "choices", "doc"}
    if unknown or "default" not in spec:
        raise ValueError(f"{where}: needs a default; unknown keys {sorted(unknown)}")
    return Setting(name, spec["type"], spec["default"], spec.get("min"), tuple(spec.get("choices", ())),
                   spec.get("doc", ""))


@cache
def rules() -> dict[str, Rule]:
    """The federal rules by id, in the catalog's order (docs/rules.md's)."""
    raw = read_yaml(CATALOG)
    out = {}
    for rule_id, spec in raw.items():
        where = f"{CATALOG.name}: {rule_id}"
        if spec.get("kind") not in KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if (spec.get("fails_as") is None) != (spec["kind"] == "timeline"):
            raise ValueError(f"{where}: a meeting or plan rule says fails_as (violation or warning); "
                             "a timeline does not")
        if spec.get("meeting") and spec["kind"] != "timeline":
            raise ValueError(f"{where}: only a timeline is met by a meeting (meeting: true)")
        settings = tuple(_setting(rule_id, n, s) for n, s in (spec.get("settings") or {}).items())
        if spec["kind"] == "timeline" and ("warn_days" not in {s.name for s in settings} or not spec.get("action")):
            raise ValueError(f"{where}: a timeline rule has warn_days (when an open item is due soon) and an "
                             "action (what meets it, for the calendar)")
        out[rule_id] = Rule(rule_id, spec["citation"], spec["title"], spec["kind"], " ".join(spec["checks"].split()),
                            spec["detail"], settings, spec.get("sql", ""), spec.get("params") or {},
                            spec.get("fails_as"), spec.get("summary"), spec.get("action", ""),
                            bool(spec.get("meeting", False)))
    return out


def of_kind(kind: str) -> list[Rule]:
    return [r for r in rules().values() if r.kind == kind]


def team_roles() -> list[tuple[str, str, str]]:
    """(rule, role, plain words) of the rules that check one required team role."""
    return [(r.rule_id, r.params["role"], r.params["role_name"]) for r in rules().values() if "role" in r.params]


def expectation(rule_id: str, citation: str, title: str, kind: str) -> dict:
    """A rule's expectation in the compliance suite: its items' statuses, counted (never failing)."""
    return {"type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "status", "value_set": list(PASSING),
                       # GX's condition object (Column("rule_id") == rule_id) as it serializes: the string
                       # form with a condition_parser is deprecated since GX 1.9 and goes in 2.0
                       "row_condition": {"type": "comparison", "column": {"name": "rule_id"}, "operator": "==",
                                         "parameter": rule_id},
                       "description": f"{rule_id}: {title} ({citation})"},
            "meta": {"iepwatch": {"rule_id": rule_id, "citation": citation, "title": title, "kind": kind,
                                  "on_fail": "report"}}}


def suite(entries: list[dict]) -> dict:
    """The compliance suite over ``facts.rule_results``: one expectation per rule in ``entries``."""
    return {"name": "compliance.rules",
            "meta": {"iepwatch": {"table": "rule_results", "query": "SELECT * FROM facts.rule_results",
                                  "note": "One expectation per compliance rule (docs/rules.md), generated from the "
                                          "rule catalog: Data Docs show per rule how many items were evaluated "
                                          "and how many are not compliant."}},
            "expectations": [expectation(e["rule_id"], e["citation"], e["title"], e["kind"]) for e in entries]}


def _setting_words(s: Setting) -> str:
    value = f"[{', '.join(map(str, s.default))}]" if isinstance(s.default, list) else \
        str(s.default).lower() if isinstance(s.default, bool) else str(s.default)
    extra = f" ({' or '.join(s.choices)})" if s.choices else f" ({s.doc})" if s.doc else ""
    return f"`{s.name}` {value}{extra}"


def docs_table(kind: str) -> str:
    """The rule table of one kind for docs/rules.md (``tools.rule_docs`` writes it there)."""
    lines = ["| rule | citation | what is checked | settings (`rules.<rule>.*`, default) |", "|---|---|---|---|"]
    for r in of_kind(kind):
        settings = ", ".join(_setting_words(s) for s in r.settings) or "—"
        fails = f" Not passing: `{r.fails_as}`." if r.fails_as else ""
        lines.append(f"| `{r.rule_id}` | {r.citation} | {r.checks}{fails} | {settings} |")
    return "\n".join(lines) + "\n"


TIMELINE_COUNTS = (  # a timeline's columns in the state summary: suffix, what it counts
    ("timely", "event on or before the due date"),
    ("held_late", "event after the due date"),
    ("overdue", "no event, the due date passed"),
    ("pending", "no event, not yet due"),
    ("exempt", "overdue or late with an accepted delay reason"),
)


def summary_timelines(initial_rule: str) -> list[tuple[str, str]]:
    """(rule, column prefix) of each timeline counted in the state summary; the prefix of the
    pack's first timeline counts ``initial_rule`` (the pack's, EVAL_60_DAY under federal)."""
    return [(initial_rule if r.summary.get("of") == "pack_initial" else r.rule_id, r.summary["prefix"])
            for r in of_kind("timeline") if isinstance(r.summary, dict)]


def summary_pass_rates() -> list[str]:
    """The rules whose state summary columns are the items evaluated and the share passed."""
    return [r.rule_id for r in rules().values() if r.summary == "pass_rate"]


def summary_fields(kind: str) -> list[dict]:
    """The state summary's field definitions (extract definition shape) of one kind of rule, in
    the order of the columns ``extracts/compliance_summary.sql`` writes."""
    out = []
    if kind == "timeline":
        for r in of_kind("timeline"):
            if not isinstance(r.summary, dict):
                continue
            subject = (f"the pack's first timeline ({r.rule_id} under federal)"
                       if r.summary.get("of") == "pack_initial" else r.rule_id)
            out += [{"name": f"{r.summary['prefix']}_{suffix}", "source": f"facts.rule_results of {subject}: {what}",
                     "column": f"{r.summary['prefix']}_{suffix}", "type": "int", "required": True}
                    for suffix, what in TIMELINE_COUNTS]
    else:
        for rule_id in summary_pass_rates():
            low = rule_id.lower()
            out += [{"name": f"{low}_evaluated",
                     "source": f"meetings (or IEPs) of the window evaluated by rule {rule_id}",
                     "column": f"{low}_evaluated", "type": "int", "required": True},
                    {"name": f"{low}_pass_pct", "source": f"the share of those with rule {rule_id} compliant, x 100",
                     "column": f"{low}_pass_pct", "type": "decimal"}]
    return out
