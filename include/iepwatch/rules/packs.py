"""State timeline packs: the initial timelines a state enforces, declared from building blocks.

A pack replaces the federal initial timelines it names (``replaces``) with rules of its own,
and names the state's own extract formats (``formats``: built only for a district of that
state; a format no pack names is built for every district). Each rule is data, never code:

- ``measures``: what starts the clock and what meets it, for every initial evaluation —
  ``evaluation`` (consent → the evaluation completed),
  ``eligibility_meeting`` (consent → for an eligible outcome the first held ``initial`` meeting on
  or after the consent, for not_eligible the eligibility determination date),
  ``ard_meeting`` (the evaluation report → for an eligible outcome the first held ``initial``
  meeting on or after it, for not_eligible the eligibility determination date; open while
  pending);
- ``days`` and ``unit`` (``calendar_days``, ``school_days``, ``calendar_days_excluding_summer``,
  ``calendar_days_excluding_long_breaks``), counted from the day after the start;
- ``end_of_year``: one provision with its own numbers (below), or none;
- ``absence_extension_min``: with at least this many absences on school days before the due
  date, the count is extended by that many school days (``school_days`` only);
- ``warn_days`` (calendar days, whatever the unit).

End-of-year provisions (``end_of_year.kind``):
- ``referral_near_year_end`` (California): a referral within ``window_days`` calendar days before
  the last instructional day of its school year is due ``days_after_first_day`` calendar days
  after the first instructional day of the next school year, when that date falls after the
  consent (otherwise the ordinary count applies);
- ``few_school_days_left`` (Illinois): when fewer than ``days`` school days of the start's school
  year remain after it, due the day before the first instructional day of the next school year;
- ``june_30`` (Texas evaluation): when at least ``min_school_days_left`` but fewer than ``days``
  school days remain after the consent and the student has fewer than ``absences_below`` absences
  on school days until the last instructional day, due June 30 of the calendar year the school
  year ends in;
- ``summer_to_first_day`` (Texas ARD): a due date falling in summer moves to the first
  instructional day after it; when the pack's June 30 provision applied to the evaluation's
  consent (decided from the consent, whether or not the report was on time), due the
  ``june_30_school_day``-th school day of the next school year instead.

When the calendar cannot decide a provision or give a date (a school year it does not reach),
the rule gives a calendar gap, never a guess (facts_pack.sql).

Built-in packs follow; a district overrides any number of one, or defines its own pack, under
``rules.packs`` in its configuration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

UNITS = ("calendar_days", "school_days", "calendar_days_excluding_summer", "calendar_days_excluding_long_breaks")
MEASURES = ("evaluation", "eligibility_meeting", "ard_meeting")
PROVISIONS = ("none", "referral_near_year_end", "few_school_days_left", "june_30", "summer_to_first_day")
FEDERAL_INITIAL = ("EVAL_60_DAY", "IEP_INITIAL_30_DAY")

BUILTIN: dict[str, dict] = {
    "federal": {"replaces": [], "rules": {}},
    "california": {
        "replaces": ["EVAL_60_DAY", "IEP_INITIAL_30_DAY"],
        "formats": ["calpads_sped_meetings"],
        "rules": {"CA_INITIAL_IEP_60": {
            "title": "Initial IEP meeting within 60 days of consent, long breaks left out",
            "citation": "Cal. Ed Code 56344(a), 56043", "measures": "eligibility_meeting",
            "days": 60, "unit": "calendar_days_excluding_long_breaks",
            "end_of_year": {"kind": "referral_near_year_end", "window_days": 30, "days_after_first_day": 30}}}},
    "illinois": {   # IEP_INITIAL_30_DAY stays: 300.323(c)(1) is a federal floor
        "replaces": ["EVAL_60_DAY"],
        "rules": {"IL_INITIAL_60_SCHOOL_DAYS": {
            "title": "Evaluation and eligibility meeting within 60 school days of consent",
            "citation": "105 ILCS 5/14-8.02, 23 IAC 226.110", "measures": "eligibility_meeting",
            "days": 60, "unit": "school_days", "end_of_year": {"kind": "few_school_days_left"}}}},
    "texas": {
        "replaces": ["EVAL_60_DAY", "IEP_INITIAL_30_DAY"],
        "rules": {
            "TX_EVAL_45_SCHOOL_DAYS": {
                "title": "Initial evaluation report within 45 school days of consent",
                "citation": "Tex. Educ. Code 29.004, 19 TAC 89.1011", "measures": "evaluation",
                "days": 45, "unit": "school_days", "absence_extension_min": 3,
                "end_of_year": {"kind": "june_30", "min_school_days_left": 35, "absences_below": 3}},
            "TX_ARD_30": {
                "title": "ARD committee decision within 30 days of the evaluation report",
                "citation": "19 TAC 89.1011", "measures": "ard_meeting", "days": 30, "unit": "calendar_days",
                "end_of_year": {"kind": "summer_to_first_day", "june_30_school_day": 15}}}},
    "pennsylvania": {
        "replaces": ["EVAL_60_DAY"],
        "rules": {"PA_EVAL_60": {
            "title": "Evaluation report within 60 calendar days of consent, summer left out",
            "citation": "22 Pa. Code 14.123(b)", "measures": "evaluation",
            "days": 60, "unit": "calendar_days_excluding_summer"}}},
}


@dataclass(frozen=True)
class PackRule:
    rule_id: str
    title: str
    citation: str
    measures: str
    days: int
    unit: str
    warn_days: int
    end_of_year: dict
    absence_extension_min: int | None

    @property
    def needs_calendar(self) -> bool:
        return self.unit != "calendar_days" or self.end_of_year["kind"] != "none"


@dataclass(frozen=True)
class Pack:
    name: str
    replaces: tuple[str, ...]
    rules: tuple[PackRule, ...]
    formats: tuple[str, ...] = ()

    @property
    def needs_calendar(self) -> bool:
        return any(r.needs_calendar for r in self.rules)

    @property
    def needs_absences(self) -> bool:
        return any(r.absence_extension_min is not None or r.end_of_year["kind"] == "june_30" for r in self.rules)

    @property
    def june_30_rule(self) -> PackRule | None:
        """The rule whose June 30 provision a later timeline looks back at (Texas: the ARD)."""
        return next((r for r in self.rules if r.end_of_year["kind"] == "june_30"), None)

    @property
    def needed_files(self) -> frozenset[str]:
        """The optional export files this pack cannot do without."""
        return frozenset({"school_calendar"} if self.needs_calendar else set()) | \
            frozenset({"student_absences"} if self.needs_absences else set())

    @property
    def initial_rule(self) -> str:
        """The pack's first timeline: the one Indicator 11 and the exempt delay reasons use."""
        return self.rules[0].rule_id if self.rules else "EVAL_60_DAY"


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def build(name: str, overrides: dict[str, dict]) -> Pack:
    """The pack ``name``: a built-in one with the district's overrides, or the district's own.

    Raises ValueError naming the key when a definition is incomplete or wrong (the configuration
    turns it into a one-line error naming the file).
    """
    if name not in BUILTIN and name not in overrides:
        raise ValueError(f"unknown state pack {name!r} (built in: {', '.join(BUILTIN)}; or define it under "
                         "rules.packs)")
    raw = _merge(BUILTIN.get(name, {"replaces": [], "rules": {}}), overrides.get(name, {}))
    unknown = set(raw) - {"replaces", "rules", "formats"}
    if unknown:
        raise ValueError(f"packs.{name}.{sorted(unknown)[0]}: unknown key (expected replaces, rules, formats)")
    formats = raw.get("formats", [])
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ValueError(f"packs.{name}.formats: expected a list of extract format names")
    bad = [r for r in raw.get("replaces", []) if r not in FEDERAL_INITIAL]
    if bad:
        raise ValueError(f"packs.{name}.replaces: {bad[0]!r} is not one of {', '.join(FEDERAL_INITIAL)}")
    rules = []
    for rule_id, spec in raw.get("rules", {}).items():
        where = f"packs.{name}.rules.{rule_id}"
        allowed = {"title", "citation", "measures", "days", "unit", "warn_days", "end_of_year", "absence_extension_min"}
        if set(spec) - allowed:
            raise ValueError(f"{where}.{sorted(set(spec) - allowed)[0]}: unknown key")
        for key in ("title", "citation", "measures", "days", "unit"):
            if key not in spec:
                raise ValueError(f"{where}.{key}: required key is missing")
        if not rule_id.replace("_", "").isalnum() or not rule_id.isupper():
            raise ValueError(f"{where}: a rule id is upper-case letters, digits and _")
        if spec["measures"] not in MEASURES:
            raise ValueError(f"{where}.measures: expected one of {', '.join(MEASURES)}, got {spec['measures']!r}")
        if spec["unit"] not in UNITS:
            raise ValueError(f"{where}.unit: expected one of {', '.join(UNITS)}, got {spec['unit']!r}")
        for key in ("days", "warn_days", "absence_extension_min"):
            v = spec.get(key, 14 if key == "warn_days" else None if key == "absence_extension_min" else 0)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError(f"{where}.{key}: expected a whole number, got {v!r}")
        eoy = {"kind": "none", **(spec.get("end_of_year") or {})}
        if eoy["kind"] not in PROVISIONS:
            raise ValueError(f"{where}.end_of_year.kind: expected one of {', '.join(PROVISIONS)}, got {eoy['kind']!r}")
        eoy = {"window_days": 30, "days_after_first_day": 30, "min_school_days_left": 35, "absences_below": 3,
               "june_30_school_day": 15, **eoy}
        for key, v in eoy.items():
            if key != "kind" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError(f"{where}.end_of_year.{key}: expected a whole number, got {v!r}")
        if spec.get("absence_extension_min") is not None and spec["unit"] != "school_days":
            raise ValueError(f"{where}.absence_extension_min: only for a rule counted in school_days")
        rules.append(PackRule(rule_id, spec["title"], spec["citation"], spec["measures"], spec["days"], spec["unit"],
                              spec.get("warn_days", 14), eoy, spec.get("absence_extension_min")))
    return Pack(name, tuple(raw.get("replaces", [])), tuple(rules), tuple(formats))


def state_formats() -> frozenset[str]:
    """Every format a built-in pack names: a state's own, built only for that state's districts."""
    return frozenset(f for pack in BUILTIN.values() for f in pack.get("formats", []))


ACTIONS = {  # what meets a pack rule, said as what a coordinator does (the calendar's description)
    "evaluation": "Complete the initial evaluation report",
    "eligibility_meeting": "Hold the initial IEP meeting",
    "ard_meeting": "Hold the ARD committee meeting",
}
MEETINGS = frozenset({"eligibility_meeting", "ard_meeting"})   # what a pack rule measures that is a meeting


def catalog_entry(rule_id: str, citation: str, title: str, measures: str = "") -> dict:
    """A pack rule as the rule catalog shows a rule (``catalog.Rule.entry``): a timeline."""
    return {"rule_id": rule_id, "citation": citation, "title": title, "kind": "timeline",
            "action": ACTIONS.get(measures, ""), "meeting": measures in MEETINGS}


def catalog_entries() -> dict[str, dict]:
    """Every built-in pack rule as a catalog entry."""
    return {rid: catalog_entry(rid, spec["citation"], spec["title"], spec["measures"])
            for pack in BUILTIN.values() for rid, spec in pack["rules"].items()}
