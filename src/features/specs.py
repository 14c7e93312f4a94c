"""Declared feature specs: the library of point-in-time features, and their checks.

A :class:`FeatureSpec` says *what* to count, never *how*: a source table, a
filter, an aggregate, the windows and the subject (the child itself, its
household, parents/carers or siblings as known at the as-of date). The SQL is
generated from it (:mod:`earlywarning.features._sql`), and so is the feature
dictionary (:mod:`earlywarning.features.dictionary`).

Column names carry the window: ``police_da_victim_parent_count_365d``,
``referrals_days_since_last_ever``, ``early_help_open_now``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES

if TYPE_CHECKING:
    from earlywarning.config import FeatureSpecConfig, PipelineConfig

__all__ = [
    "Aggregate",
    "Subject",
    "Direction",
    "Condition",
    "FeatureSpec",
    "ContextFeature",
    "LIBRARY",
    "CONTEXT_FEATURES",
    "SPEC_GROUPS",
    "source_columns",
    "feature_column",
    "window_label",
    "window_phrase",
    "check_spec",
    "check_pipeline_specs",
    "resolve_specs",
    "coverage_agencies",
]

Aggregate = Literal["count", "any", "sum", "max", "mean", "ratio", "days_since_last", "open"]
Subject = Literal["child", "household", "parents", "siblings"]
Direction = Literal["risk", "protective", "coverage", "context"]

EVER = None
"""A window of ``None`` means all history known at the as-of date (suffix ``_ever``)."""

_DEFAULT_EMPTY = {"count": 0.0, "any": 0.0, "sum": 0.0, "open": 0.0}
"""Declared value when a child has no matching record; other aggregates are left missing."""


@dataclass(frozen=True)
class Condition:
    """A filter ``column op value``; ``json_key`` reads one key of a JSON column."""

    column: str
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "is_null", "not_null"] = "eq"
    value: str | int | float | tuple[str | int | float, ...] | None = None
    json_key: str | None = None


@dataclass(frozen=True)
class FeatureSpec:
    """One declared feature family (one column per window).

    Parameters
    ----------
    name : str
        Stem of the column names, e.g. ``police_da_victim_parent``.
    table : str
        Source table in :mod:`earlywarning.data.schema`.
    aggregate : str
        ``count``, ``any``, ``sum``/``max``/``mean`` of ``value``, ``ratio``
        (sum of ``value`` / sum of ``denominator``), ``days_since_last`` (days from
        the latest event date to the as-of date) or ``open`` (number of spells
        open at the as-of date; no window).
    meaning : str
        Plain-English template with ``{value}`` and ``{window}``, e.g.
        ``"{value} police domestic-abuse notifications ... {window}"``.
    subject : str
        Whose records: ``child``, ``household`` (other members at the as-of
        date), ``parents`` (parents, step-parents, partners of a parent) or
        ``siblings``.
    where : tuple of Condition
        Filters on the source table's columns.
    value, denominator : str, optional
        Columns for ``sum``/``max``/``mean``/``ratio``.
    windows : tuple of int or None, optional
        Window lengths in days (``None`` in the tuple = all history). ``None``
        uses the pipeline's ``features.windows``.
    direction : str
        ``risk``, ``protective``, ``coverage`` or ``context`` by design.
    agency : str, optional
        Agency code (default: the table's agency).
    group : str
        Library group, selectable with ``features.groups``.
    empty : float, None or "by_aggregate"
        Declared value when there is no matching record (imputation is declared
        here, never an implicit fill). ``"by_aggregate"``: 0 for ``count``,
        ``any``, ``sum`` and ``open``, missing (``None``) otherwise.
    """

    name: str
    table: str
    aggregate: Aggregate
    meaning: str
    subject: Subject = "child"
    where: tuple[Condition, ...] = ()
    value: str | None = None
    denominator: str | None = None
    windows: tuple[int | None, ...] | None = None
    direction: Direction = "risk"
    agency: str | None = None
    group: str = "custom"
    empty: float | None | Literal["by_aggregate"] = "by_aggregate"

    def __post_init__(self) -> None:
        if self.empty == "by_aggregate":
            object.__setattr__(self, "empty", _DEFAULT_EMPTY.get(self.aggregate))
        if self.agency is None:
            object.__setattr__(self, "agency", TABLES[self.table].agency
                               if self.table in TABLES else None)


@dataclass(frozen=True)
class ContextFeature:
    """A feature computed from the person or address at the as-of date (no spec table)."""

    name: str
    meaning: str
    table: str
    agency: str = "csc"
    direction: Direction = "context"


# --- sources: the columns a spec may filter on ----------------------------------------
_DERIVED_COLUMNS = {
    "ssd_assessment_factors": {"cinf_factor"},
}


def source_columns(table: str) -> set[str]:
    """Columns a spec on ``table`` may use (identifying columns excluded).

    ``ssd_assessment_factors`` also offers ``cinf_factor`` (one factor code per
    row, from the JSON array) and the columns of its assessment.
    """
    t = TABLES[table]
    cols = {c.name for c in t.columns if not c.identifying}
    cols |= _DERIVED_COLUMNS.get(table, set())
    if table == "ssd_assessment_factors":
        cols |= {c.name for c in TABLES["ssd_cin_assessments"].columns if not c.identifying}
    return cols


_PERSONLESS_SOURCES = {"ssd_assessment_factors", "ext_source_coverage"}
"""Tables without a person column that the SQL generator links to a person."""


# --- names and phrases --------------------------------------------------------------
def window_label(window: int | None, aggregate: str) -> str:
    """Suffix of a column name: ``365d``, ``ever`` or ``now`` (for ``open``)."""
    if aggregate == "open":
        return "now"
    return "ever" if window is None else f"{window}d"


def feature_column(spec: FeatureSpec, window: int | None) -> str:
    """Column name of ``spec`` for ``window``, e.g. ``police_da_victim_parent_count_365d``."""
    return f"{spec.name}_{spec.aggregate}_{window_label(window, spec.aggregate)}"


def window_phrase(window: int | None, aggregate: str) -> str:
    """Plain-English window: ``"in the last 12 months"``, ``"ever"``, ``"now"``."""
    if aggregate == "open":
        return "now"
    if window is None:
        return "ever (as recorded by then)"
    if window % 365 == 0:
        years = window // 365
        return "in the last 12 months" if years == 1 else f"in the last {years} years"
    if window % 30 == 0 or window in (90, 180):
        months = round(window / 30.4)
        return f"in the last {months} months"
    return f"in the last {window} days"


# --- checks ----------------------------------------------------------------------------
def _check_column(table: str, column: str, where: str, out: list[str]) -> None:
    if column not in source_columns(table):
        t = TABLES[table]
        if any(c.name == column and c.identifying for c in t.columns):
            out.append(f"{where} = {column!r}: column is identifying and never read by the "
                       "analytics pipeline")
        else:
            out.append(f"{where} = {column!r}: unknown column of {table}; valid columns: "
                       f"{', '.join(sorted(source_columns(table)))}")


def check_spec(spec: FeatureSpec, key: str) -> list[str]:
    """Check one spec against the schema; return problems naming ``key``.

    Parameters
    ----------
    spec : FeatureSpec
    key : str
        Config key path of the spec, e.g. ``features.specs[0]``.

    Returns
    -------
    list of str
        Empty when the spec is valid.
    """
    out: list[str] = []
    if spec.table not in TABLES:
        return [f"{key}.table = {spec.table!r}: unknown table; declared tables: "
                f"{', '.join(sorted(TABLES))}"]
    t = TABLES[spec.table]
    if t.restricted:
        return [f"{key}.table = {spec.table!r}: restricted table, never read by the analytics "
                "pipeline"]
    if t.person_column is None and spec.table not in _PERSONLESS_SOURCES:
        out.append(f"{key}.table = {spec.table!r}: the table has no person to attach features to")
    if spec.agency not in AGENCIES:
        out.append(f"{key}.agency = {spec.agency!r}: unknown source agency; valid: "
                   f"{', '.join(AGENCIES)}")
    for i, cond in enumerate(spec.where):
        _check_column(spec.table, cond.column, f"{key}.where[{i}].column", out)
        needs_value = cond.op not in ("is_null", "not_null")
        if needs_value and cond.value is None:
            out.append(f"{key}.where[{i}].value: op {cond.op!r} needs a value")
    for attr in ("value", "denominator"):
        col = getattr(spec, attr)
        if col is not None:
            _check_column(spec.table, col, f"{key}.{attr}", out)
    if spec.aggregate in ("sum", "max", "mean", "ratio") and spec.value is None:
        out.append(f"{key}.value: aggregate {spec.aggregate!r} needs a value column")
    if spec.aggregate == "ratio" and spec.denominator is None:
        out.append(f"{key}.denominator: aggregate 'ratio' needs a denominator column")
    for i, w in enumerate(spec.windows or ()):
        if w is not None and w <= 0:
            out.append(f"{key}.windows[{i}] = {w}: a window must be a positive number of days")
    if "{value}" not in spec.meaning and "{value:" not in spec.meaning:
        out.append(f"{key}.meaning = {spec.meaning!r}: the meaning must contain {{value}}")
    return out


def _from_config(s: FeatureSpecConfig) -> FeatureSpec:
    return FeatureSpec(
        name=s.name, table=s.table, aggregate=s.aggregate, meaning=s.meaning,
        subject=s.subject,
        where=tuple(Condition(c.column, c.op, tuple(c.value) if isinstance(c.value, list)
                              else c.value, c.json_key) for c in s.where),
        value=s.value, denominator=s.denominator,
        windows=tuple(s.windows) if s.windows is not None else None,
        direction=s.direction, agency=s.agency, group="custom",
    )


def check_pipeline_specs(cfg: PipelineConfig) -> list[str]:
    """Check a pipeline's feature section against the schema and the library.

    Returns
    -------
    list of str
        Problems, each naming the config key (``features.sources[1] = 'polise': ...``).
    """
    f = cfg.features
    out: list[str] = []
    for i, agency in enumerate(f.sources or []):
        if agency not in AGENCIES:
            out.append(f"features.sources[{i}] = {agency!r}: unknown source agency; valid: "
                       f"{', '.join(AGENCIES)}")
    for i, group in enumerate(f.groups or []):
        if group not in SPEC_GROUPS:
            out.append(f"features.groups[{i}] = {group!r}: unknown feature group; valid: "
                       f"{', '.join(SPEC_GROUPS)}")
    names = {s.name for s in LIBRARY}
    for i, name in enumerate(f.exclude):
        if name not in names:
            out.append(f"features.exclude[{i}] = {name!r}: no such spec in the library")
    for i, s in enumerate(f.specs):
        key = f"features.specs[{i}]"
        if s.name in names:
            out.append(f"{key}.name = {s.name!r}: the library already has a spec with this name")
        out += check_spec(_from_config(s), key)
    return out


def resolve_specs(cfg: PipelineConfig) -> list[FeatureSpec]:
    """Choose the specs a pipeline builds: library ∩ groups ∩ sources, minus exclusions.

    Windows left open take the pipeline's ``features.windows``.
    """
    f = cfg.features
    chosen = [
        s for s in LIBRARY
        if (f.groups is None or s.group in f.groups)
        and (f.sources is None or s.agency in f.sources)
        and s.name not in f.exclude
    ]
    chosen += [_from_config(s) for s in f.specs]
    default_windows = tuple(f.windows)
    return [s if s.windows is not None or s.aggregate == "open"
            else replace(s, windows=default_windows) for s in chosen]


def coverage_agencies(specs: list[FeatureSpec]) -> list[str]:
    """Agencies whose coverage indicator accompanies the specs (CSC is always linked)."""
    seen = []
    for s in specs:
        if s.agency not in seen and s.agency != "csc":
            seen.append(s.agency)
    return seen


# --- the library ---------------------------------------------------------------------------
def _c(column: str, value: object = None, op: str = "eq", json_key: str | None = None) -> Condition:
    if isinstance(value, list):
        value = tuple(value)
        op = "in" if op == "eq" else op
    return Condition(column, op, value, json_key)  # type: ignore[arg-type]


def _factor(name: str, codes: list[str], what: str) -> FeatureSpec:
    return FeatureSpec(
        f"factor_{name}", "ssd_assessment_factors", "count",
        f"{{value}} {{assessment|assessments}} of the child that identified {what} {{window}}",
        where=(_c("cinf_factor", codes),), group="child_assessment_factors",
    )


def _health(name: str, service: str, subject: Subject, meaning: str,
            direction: Direction = "risk") -> FeatureSpec:
    return FeatureSpec(
        name, "ext_health_event", "count", meaning, subject=subject,
        where=(_c("heal_service", service),), agency=HEALTH_SERVICE_AGENCY[service],
        group="family_health" if subject != "child" else "child_health", direction=direction,
    )


_CSC = "child_csc_history"
LIBRARY: tuple[FeatureSpec, ...] = (
    # the child's own children's social care history
    FeatureSpec("contacts", "ssd_contacts", "count",
                "{value} {contact|contacts} with children's social care about the child {window}",
                group=_CSC),
    FeatureSpec("contacts_nfa", "ssd_contacts", "count",
                "{value} {contact|contacts} about the child closed with no further action {window}",
                where=(_c("cont_contact_outcome_json", "Y", json_key="NFA_FLAG"),), group=_CSC),
    FeatureSpec("referrals", "ssd_cin_episodes", "count",
                "{value} {referral|referrals} of the child to children's social care {window}",
                group=_CSC),
    FeatureSpec("referrals", "ssd_cin_episodes", "days_since_last",
                "{value} {day|days} since the child's last referral to children's social care",
                windows=(EVER,), group=_CSC),
    FeatureSpec("referrals", "ssd_cin_episodes", "open",
                "{value} {referral|referrals} of the child to children's social care open now",
                group=_CSC),
    FeatureSpec("assessments", "ssd_cin_assessments", "open",
                "{value} social care {assessment|assessments} of the child in progress now",
                group=_CSC),
    FeatureSpec("s47_enquiries", "ssd_s47_enquiry", "open",
                "{value} child protection (section 47) {enquiry|enquiries} about the child open "
                "now", group=_CSC),
    FeatureSpec("referrals_nfa", "ssd_cin_episodes", "count",
                "{value} {referral|referrals} of the child closed with no further action {window}",
                where=(_c("cine_referral_nfa", "Y"),), group=_CSC),
    FeatureSpec("assessments", "ssd_cin_assessments", "count",
                "{value} social care {assessment|assessments} of the child {window}", group=_CSC),
    FeatureSpec("assessments_nfa", "ssd_cin_assessments", "count",
                "{value} {assessment|assessments} of the child ending in no further action "
                "{window}",
                where=(_c("cina_assessment_outcome_nfa", "Y"),), group=_CSC),
    FeatureSpec("s47_enquiries", "ssd_s47_enquiry", "count",
                "{value} child protection (section 47) {enquiry|enquiries} about the child "
                "{window}",
                group=_CSC),
    FeatureSpec("cp_conferences", "ssd_initial_cp_conference", "count",
                "{value} initial child protection {conference|conferences} for the child {window}",
                group=_CSC),
    FeatureSpec("cp_plans_previous", "ssd_cp_plans", "count",
                "{value} previous child protection {plan|plans} for the child {window}",
                windows=(EVER,), group=_CSC),
    FeatureSpec("care_episodes_previous", "ssd_cla_episodes", "count",
                "{value} previous {period|periods} in care for the child {window}",
                windows=(EVER,), group=_CSC),
    FeatureSpec("missing_episodes", "ssd_missing", "count",
                "{value} missing-from-home {episode|episodes} of the child {window}", group=_CSC),
    # factors identified at the child's assessments
    _factor("domestic_abuse", ["3A", "3B", "3C"], "domestic abuse"),
    _factor("mental_health", ["4A", "4B", "4C"], "mental health concerns"),
    _factor("substance_misuse", ["1A", "1B", "1C", "2A", "2B", "2C"], "alcohol or drug misuse"),
    _factor("neglect", ["16A"], "neglect"),
    _factor("abuse", ["17A", "18A", "18B", "18C", "19A", "19B", "19C"],
            "emotional, physical or sexual abuse"),
    _factor("exploitation", ["11A", "12A", "13A", "24A"], "exploitation, trafficking or gangs"),
    # Early Help
    FeatureSpec("early_help_episodes", "ssd_early_help_episodes", "count",
                "{value} Early Help {episode|episodes} for the child {window}", direction="context",
                group="child_early_help"),
    FeatureSpec("early_help", "ssd_early_help_episodes", "open",
                "{value} Early Help {episode|episodes} open for the child now",
                direction="protective",
                group="child_early_help"),
    # school
    FeatureSpec("school_absence", "ext_school_attendance", "ratio",
                "{value:.0%} of school sessions missed {window}", value="atte_sessions_missed",
                denominator="atte_sessions_possible", windows=(365, 1095), group="child_school"),
    FeatureSpec("school_unauthorised_absence", "ext_school_attendance", "ratio",
                "{value:.0%} of school sessions missed without authorisation {window}",
                value="atte_sessions_unauthorised", denominator="atte_sessions_possible",
                windows=(365, 1095), group="child_school"),
    FeatureSpec("school_suspensions", "ext_school_exclusion", "count",
                "{value} school {suspension|suspensions} of the child {window}",
                where=(_c("excl_type", "suspension"),), group="child_school"),
    FeatureSpec("school_permanent_exclusions", "ext_school_exclusion", "count",
                "{value} permanent {exclusion|exclusions} of the child from school {window}",
                where=(_c("excl_type", "permanent"),), windows=(1095, EVER),
                group="child_school"),
    FeatureSpec("school_enrolment", "ext_school_enrolment", "open",
                "{value} open school {enrolment|enrolments} for the child now", direction="context",
                group="child_school"),
    FeatureSpec("school_moves", "ext_school_enrolment", "count",
                "{value} school {enrolment|enrolments} started by the child {window}",
                direction="context",
                windows=(365, 1095), group="child_school"),
    # the child's other agencies
    FeatureSpec("youth_justice", "ext_youth_justice", "count",
                "{value} youth justice {outcome|outcomes} for the child {window}",
                group="child_other"),
    FeatureSpec("young_carer", "ext_young_carer", "any",
                "{value} young-carer {assessment|assessments} of the child {window}",
                windows=(1095,), group="child_other"),
    FeatureSpec("early_years", "ext_early_years", "open",
                "{value} early-years setting {place|places} open for the child now",
                direction="protective", group="child_other"),
    FeatureSpec("police_child", "ext_police_event", "count",
                "{value} police {incident|incidents} with the child as victim or present {window}",
                where=(_c("poli_role", ["victim", "child_present"]),), group="child_other"),
    FeatureSpec("police_missing_child", "ext_police_event", "count",
                "{value} police missing-person {report|reports} about the child {window}",
                where=(_c("poli_event_type", "missing_person"), _c("poli_role", "subject")),
                group="child_other"),
    _health("health_visiting_concern_child", "health_visiting", "child",
            "{value} health visiting {concern or referral|concerns or referrals} about the "
            "child {window}"),
    _health("emergency_department_child", "a_and_e", "child",
            "{value} A&E {attendance|attendances} by the child {window}"),
    # parents and carers
    FeatureSpec("police_da_victim_parent", "ext_police_event", "count",
                "{value} police domestic-abuse {notification|notifications} with a parent as "
                "victim {window}",
                subject="parents", where=(_c("poli_event_type", "domestic_abuse"),
                                          _c("poli_role", "victim")), group="family_police"),
    FeatureSpec("police_da_suspect_parent", "ext_police_event", "count",
                "{value} police domestic-abuse {notification|notifications} with a parent as "
                "suspect {window}",
                subject="parents", where=(_c("poli_event_type", "domestic_abuse"),
                                          _c("poli_role", "suspect")), group="family_police"),
    FeatureSpec("police_da_household", "ext_police_event", "count",
                "{value} police domestic-abuse {notification|notifications} involving a "
                "household member "
                "{window}", subject="household",
                where=(_c("poli_event_type", "domestic_abuse"),), group="family_police"),
    FeatureSpec("police_crime_parent", "ext_police_event", "count",
                "{value} {arrest or crime|arrests or crimes} with a parent as suspect {window}",
                subject="parents",
                where=(_c("poli_event_type", ["arrest", "violent_crime", "other_crime"]),
                       _c("poli_role", ["suspect", "subject"])), group="family_police"),
    _health("mental_health_parent", "adult_mental_health", "parents",
            "{value} adult mental health service {contact|contacts} of a parent {window}"),
    _health("substance_misuse_parent", "drug_alcohol", "parents",
            "{value} drug and alcohol service {contact|contacts} of a parent {window}"),
    _health("gp_concern_parent", "gp_concern", "parents",
            "{value} GP-reported {concern|concerns} about a parent {window}"),
    _health("emergency_department_parent", "a_and_e", "parents",
            "{value} A&E {attendance|attendances} by a parent {window}"),
    FeatureSpec("asc_parent", "ext_asc_involvement", "count",
                "{value} adult social care {involvement|involvements} of a parent started {window}",
                subject="parents", group="family_asc"),
    FeatureSpec("asc_parent", "ext_asc_involvement", "open",
                "{value} adult social care {involvement|involvements} of a parent open now",
                subject="parents", group="family_asc"),
    FeatureSpec("housing_crisis_household", "ext_housing_event", "count",
                "{value} {homelessness application, eviction or temporary accommodation "
                "placement|homelessness applications, evictions or temporary accommodation "
                "placements} in the household {window}", subject="household",
                where=(_c("hous_event_type", ["homelessness_application",
                                              "temporary_accommodation", "eviction_notice"]),),
                group="family_housing"),
    FeatureSpec("rent_arrears_household", "ext_housing_event", "count",
                "{value} rent arrears or housing antisocial-behaviour {case|cases} in the "
                "household "
                "{window}", subject="household",
                where=(_c("hous_event_type", ["rent_arrears", "asb_case"]),),
                group="family_housing"),
    FeatureSpec("temporary_accommodation_household", "ext_housing_event", "open",
                "{value} temporary accommodation {placement|placements} of the household open now",
                subject="household", where=(_c("hous_event_type", "temporary_accommodation"),),
                group="family_housing"),
    # siblings
    FeatureSpec("cp_plans_sibling", "ssd_cp_plans", "count",
                "{value} child protection {plan|plans} of a sibling {window}", subject="siblings",
                windows=(1095, EVER), group="siblings"),
    FeatureSpec("care_episodes_sibling", "ssd_cla_episodes", "count",
                "{value} {period|periods} in care of a sibling {window}", subject="siblings",
                windows=(1095, EVER), group="siblings"),
    FeatureSpec("referrals_sibling", "ssd_cin_episodes", "count",
                "{value} {referral|referrals} of a sibling to children's social care {window}",
                subject="siblings", group="siblings"),
    # household composition and moves
    FeatureSpec("household_members", "ssd_person", "open",
                "{value} other {person|people} in the child's household now", subject="household",
                direction="context", group="household"),
    FeatureSpec("household_joins", "ssd_family", "count",
                "{value} {person|people} who joined the child's household {window}",
                subject="household",
                windows=(365, 1095), direction="risk", group="household"),
    FeatureSpec("address_moves", "ssd_address", "count",
                "{value} address {move|moves} of the child {window}", windows=(365, 1095),
                group="household"),
)
"""The built-in spec library; a pipeline picks groups and sources and may add its own."""

SPEC_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(s.group for s in LIBRARY))

CONTEXT_FEATURES: tuple[ContextFeature, ...] = (
    ContextFeature("child_age_years_now", "the child is aged {value:age}", "ssd_person"),
    ContextFeature("address_imd_decile_now",
                   "the child's neighbourhood is in deprivation decile {value} of 10, where 1 is "
                   "the most deprived",
                   "ssd_address"),
)
"""Features read directly from the person and address at the as-of date."""
