"""Ancillary tables of the synthetic LA, built from its core tables.

:func:`add_ancillary_tables` adds, to the core tables made by the generator:

- ``ext_person_identity``: fake names (surnames shared within a family),
  full dates of birth in the month of ``pers_dob``, fake NHS numbers and UPNs;
- ``ssd_department``, ``ssd_professionals``, ``ssd_involvements``: teams in
  3-6 areas, their staff and the allocation of a worker to every Early Help,
  CIN, CP and CLA episode (see ``_workforce``);
- ``ext_service_involvement``: every family member's involvement with
  services, and who to call (see ``_services``);
- ``ext_family_voice``: notes in the family's own words (see ``_voice``);
- ``ext_source_metadata``: one row per (agency, table) extract.

Everything is vectorised and deterministic for the random generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES, get_table
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._context import (
    AncillaryContext,
    arrow_strings,
    build_context,
    make_frame,
    obj,
    to_days,
)
from earlywarning.data.synthetic._fake_identity import (
    ethnicity_origin_codes,
    fake_nhs_numbers,
    fake_upns,
    sample_forenames,
    sample_surnames,
)
from earlywarning.data.synthetic._services import build_service_involvement
from earlywarning.data.synthetic._voice import build_family_voice
from earlywarning.data.synthetic._workforce import build_workforce, fill_episode_allocations

__all__ = [
    "ACCESSIBILITY",
    "ANCILLARY_CHANGES",
    "ANCILLARY_READS",
    "ANCILLARY_TABLES",
    "CONTEXT_ONLY",
    "LAWFUL_BASIS",
    "add_ancillary_tables",
    "build_person_identity",
    "build_source_metadata",
]

ANCILLARY_TABLES = (
    "ext_person_identity", "ssd_department", "ssd_professionals", "ssd_involvements",
    "ext_service_involvement", "ext_family_voice", "ext_source_metadata",
)  # fmt: skip
"""Tables that :func:`add_ancillary_tables` adds."""

ACCESSIBILITY = {
    "csc": "easy", "early_help": "medium", "police": "easy", "housing": "medium",
    "asc": "easy", "adult_mental_health": "poor", "drug_alcohol": "poor",
    "health_visiting": "poor", "gp": "poor", "acute_health": "poor", "school": "easy",
    "youth_justice": "easy", "young_carers": "easy", "early_years": "poor",
}  # fmt: skip
"""Default accessibility per agency, from the Leeds/Stockport review (seed 003)."""

_KNOWN_ISSUES = {
    "csc": "Team and worker ids missing on some older episodes; recorded_at derived from "
    "case-management audit dates.",
    "early_help": "Held in more than one system; some support recorded only in case notes, so "
    "episodes may be missing.",
    "police": "Station of the offence not recorded; incidents in other force areas are missing.",
    "housing": "Held by the housing provider, not the council; temporary accommodation end "
    "dates sometimes blank.",
    "asc": "No issues found for the fields used.",
    "adult_mental_health": "External provider; extract not yet automated, refreshed by hand.",
    "drug_alcohol": "Adults (26+) held by an external provider with partial coverage.",
    "health_visiting": "External provider; extract not yet automated, refreshed by hand.",
    "gp": "Only concerns reported to the LA; practice systems are not linked.",
    "acute_health": "Attendances shared only when a safeguarding concern is raised.",
    "school": "No issues found for the fields used.",
    "youth_justice": "No issues found for the fields used.",
    "young_carers": "Updated periodically; codes need an explanation to interpret.",
    "early_years": "Setting system due to be replaced; attendance incomplete.",
}  # fmt: skip

_BASE_BASIS = ("UK GDPR Art 6(1)(e); Art 9(2)(g); Children Act 1989 s17/s47; "
               "Children Act 2004 s10/s11")
LAWFUL_BASIS = {
    **{a: _BASE_BASIS for a in AGENCIES},
    "police": _BASE_BASIS + "; DPA 2018 Sch 1 para 18 (safeguarding of children)",
    **{a: _BASE_BASIS + "; Health and Social Care Act 2012 s251B (duty to share)"
       for a in ("adult_mental_health", "drug_alcohol", "health_visiting", "gp",
                 "acute_health")},
}  # fmt: skip
"""Lawful basis recorded for each agency's extract."""


def build_person_identity(ctx: AncillaryContext, rng: np.random.Generator) -> pd.DataFrame:
    """Build ``ext_person_identity`` for every person in ``ssd_person``.

    Surnames are drawn once per family and shared by its members, except the
    partners and step-parents who join a family and about a quarter of other
    adults, who keep their own. Forenames follow each person's sex and (loosely)
    ethnicity. The full date of birth falls in the month of ``pers_dob``.
    NHS numbers come from the 999 test range (about 3% unknown); children
    with a school enrolment, or of school age at the extract date, get a UPN.

    Parameters
    ----------
    ctx : AncillaryContext
        Context from the core tables.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
    """
    person = ctx.table("ssd_person")
    n = len(person)
    origin = ethnicity_origin_codes(arrow_strings(person["pers_ethnicity"]))
    is_child = _flag(pc.equal(arrow_strings(person["pers_is_child"]), "Y"))
    sex = pc.index_in(arrow_strings(person["pers_sex"]), value_set=pa.array(["F", "M"]))
    sex = sex.fill_null(-1).to_numpy(zero_copy_only=False)
    family = ctx.person_family

    # the family's surname follows its first adult's origin (first member if no adult)
    members = np.flatnonzero(family >= 0)
    o = members[lexsort((is_child[members], family[members]))]
    first = o[np.r_[True, family[o][1:] != family[o][:-1]]] if len(o) else o
    fam_origin = np.zeros(len(ctx.family_index), dtype=np.int64)
    fam_origin[family[first]] = origin[first]
    fam_surname = sample_surnames(fam_origin, rng, as_arrow=True)
    own_surname = sample_surnames(origin, rng, as_arrow=True)

    rel = ctx.table("ext_person_relationship")
    joins = _flag(pc.is_in(arrow_strings(rel["rela_relationship"]),
                           value_set=pa.array(["step_parent", "partner_of_parent"])))
    joiner = np.zeros(n, dtype=bool)
    code = ctx.codes("ext_person_relationship", "rela_related_person_id")[joins]
    joiner[code[code >= 0]] = True
    keeps_own = (family < 0) | joiner | (~is_child & (rng.random(n) < 0.25))
    surname = own_surname
    if len(fam_surname):
        surname = pc.if_else(pa.array(keeps_own), own_surname,
                             fam_surname.take(pa.array(np.maximum(family, 0))))
    forename = sample_forenames(origin, sex, rng, as_arrow=True)

    month = to_days(person["pers_dob"]).astype("datetime64[M]")
    month_days = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
        np.float64)
    day = np.floor(rng.random(n) * np.nan_to_num(month_days, nan=28.0)).astype(np.int64)
    full_dob = month.astype("datetime64[D]") + day.astype("timedelta64[D]")

    nhs = fake_nhs_numbers(n, rng, as_arrow=True)
    nhs = pc.if_else(pa.array(rng.random(n) < 0.03), pa.scalar(None, pa.large_string()), nhs)

    extract_year = int(str(ctx.extract_date)[:4])
    birth_year = month.astype("datetime64[Y]").astype(np.int64) + 1970
    birth_month = month.astype(np.int64) % 12 + 1
    year = birth_year + np.where(birth_month >= 9, 5, 4)  # reception starts the September after 4
    enrolled = np.zeros(n, dtype=bool)
    code = ctx.codes("ext_school_enrolment", "scho_person_id")
    enrolled[code[code >= 0]] = True
    pupil = is_child & ~np.isnat(month) & ((year <= extract_year) | enrolled)
    upn = fake_upns(np.minimum(year[pupil], extract_year), rng, as_arrow=True)
    upn = upn.take(pa.array(np.cumsum(pupil) - 1, mask=~pupil)) if len(upn) else pa.nulls(
        n, pa.large_string())

    return make_frame("ext_person_identity", {
        "iden_person_id": ctx.person_ids(np.arange(n)), "iden_forename": forename,
        "iden_surname": surname, "iden_dob": full_dob, "iden_nhs_number": nhs,
        "iden_upn": upn,
    }, n)


def _flag(values: pa.Array) -> np.ndarray:
    """Arrow booleans as a numpy bool array (null = False)."""
    return values.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _agency_levels(config: object) -> dict[str, str]:
    levels = dict(ACCESSIBILITY)
    agencies = getattr(config, "agencies", None)
    if isinstance(agencies, dict):
        for name, agency in agencies.items():
            level = getattr(agency, "accessibility", None)
            if level is not None:
                levels[str(name)] = str(level)
    return levels


def build_source_metadata(
    ctx: AncillaryContext, tables: dict[str, pd.DataFrame], config: object
) -> pd.DataFrame:
    """Build ``ext_source_metadata``: one row per (agency, table) extract.

    The extract date is the config's end date; the period covered runs from
    the earliest event in that extract (not before the generator's start) to
    the extract date. ``ext_health_event`` gives one row per health agency
    present in it. Accessibility defaults to seed 003's ratings; the config's
    ``agencies[name].accessibility`` overrides them.

    Parameters
    ----------
    ctx : AncillaryContext
        Context (extract date, period start, LA name).
    tables : dict of str to pandas.DataFrame
        All tables of the extract.
    config : object
        Generator config (optional ``agencies`` mapping with ``accessibility``).

    Returns
    -------
    pandas.DataFrame
    """
    levels = _agency_levels(config)
    rows: list[tuple[str, str, np.datetime64]] = []
    for name in TABLES:
        df = tables.get(name)
        if df is None or name == "ext_source_metadata":
            continue
        table = get_table(name)
        dates = (pd.Series(to_days(df[table.event_date])) if table.event_date
                 and table.event_date in df.columns else pd.Series([], dtype="datetime64[s]"))
        if name == "ext_health_event":
            agency = pd.Series(obj(df["heal_service"])).map(HEALTH_SERVICE_AGENCY)
            for ag in sorted(agency.dropna().unique()):
                rows.append((ag, name, dates[(agency == ag).to_numpy()].min()))
        else:
            rows.append((table.agency, name, dates.min()))
    n = len(rows)
    agency = np.array([r[0] for r in rows], dtype=object)
    first = np.array([r[2] if pd.notna(r[2]) else ctx.period_start for r in rows],
                     dtype="datetime64[D]")
    year = pd.Timestamp(ctx.extract_date).year
    slug = ctx.la_slug.upper()[:8]
    return make_frame("ext_source_metadata", {
        "meta_source_id": [f"SRC-{r[0]}-{r[1]}" for r in rows],
        "meta_agency": agency,
        "meta_table": [r[1] for r in rows],
        "meta_extract_date": np.full(n, ctx.extract_date),
        "meta_period_start": np.clip(first, ctx.period_start, ctx.extract_date),
        "meta_period_end": np.full(n, ctx.extract_date),
        "meta_accessibility": [levels.get(a, "medium") for a in agency],
        "meta_known_issues": [_KNOWN_ISSUES.get(a) for a in agency],
        "meta_dsa_reference": [f"DSA/{slug}/{a.upper()}/{year - 2}" for a in agency],
        "meta_lawful_basis": [LAWFUL_BASIS.get(a, _BASE_BASIS) for a in agency],
    }, n)


ANCILLARY_READS = frozenset({
    "ssd_person", "ssd_family", "ssd_address", "ext_person_relationship", "ssd_missing",
    "ssd_early_help_episodes", "ssd_cin_episodes", "ssd_cin_assessments", "ssd_s47_enquiry",
    "ssd_cp_plans", "ssd_cla_episodes", "ext_police_event", "ext_housing_event",
    "ext_asc_involvement", "ext_health_event", "ext_youth_justice", "ext_young_carer",
    "ext_school_enrolment", "ext_school_exclusion",
})
"""Core tables :func:`add_ancillary_tables` reads beyond their first event (which the
source metadata needs of every table): the others may be written and dropped before it."""
CONTEXT_ONLY = ("ssd_address", "ssd_family")
"""Core tables read only to build the context (and by the source metadata, their first
event)."""


def _first_event(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return the row with the earliest event date (the first row if the table has none)."""
    col = get_table(name).event_date
    if col is None or col not in df.columns or not len(df):
        return df.iloc[:1].reset_index(drop=True)
    days = to_days(df[col])
    at = int(np.argmin(np.where(np.isnat(days), np.datetime64("2262-01-01", "D"), days)))
    return df.iloc[[at]].reset_index(drop=True)


ANCILLARY_CHANGES = frozenset({
    "ssd_early_help_episodes", "ssd_cin_episodes", "ssd_cin_assessments", "ssd_s47_enquiry",
})
"""Core tables whose team and worker columns :func:`add_ancillary_tables` fills in: the
other tables it reads may be written before it runs."""


def add_ancillary_tables(
    tables: dict[str, pd.DataFrame], config: object, rng: np.random.Generator,
    emit: Callable[..., pd.DataFrame] | None = None,
    beside: tuple[str, ...] = ("identity", "voice"),
    context_ready: Callable[[], object] | None = None,
) -> dict[str, pd.DataFrame]:
    """Add identity, workforce, service-involvement, voice and metadata tables.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Core tables of the synthetic LA (``ssd_person``, ``ssd_family``,
        ``ssd_address``, ``ext_person_relationship``, the CSC episode tables
        and the partner event tables); any may be missing or empty.
    config : object
        Generator config, read with ``getattr``: ``end_date`` (the extract
        date; else the latest ``recorded_at``), ``start_date`` or ``years``,
        ``la_name`` (default "Ashvale"), ``n_areas`` (default 3-6 by
        ``children``), ``agencies[name].accessibility``.
    rng : numpy.random.Generator
        Source of randomness; same state gives identical tables.
    emit : callable, optional
        ``emit(name, df, part=None) -> df`` receives each large new table
        (identity, service involvement in parts, family voice) as soon as it
        is built, to write and free it; what it returns is kept (it must keep
        the earliest event, which the source metadata reads). With ``emit``
        the caller hands ``tables`` over (its core tables already written):
        :data:`CONTEXT_ONLY` tables are cut to their earliest event in it once
        the context is built, so their memory is freed.
    beside : tuple of str
        Which of ``"identity"`` and ``"voice"`` to build on a second thread,
        beside the workforce and services (more memory at once); the tables
        are the same either way.
    context_ready : callable, optional
        Called once the shared context is built, before any table: a caller
        running other work beside the context (the generator's calibration
        report, for a large LA) waits for it here, so that its memory is freed
        before the builders' peak.

    Returns
    -------
    dict of str to pandas.DataFrame
        A new dict: the input tables (Early Help, CIN, assessment and s47 team
        and worker columns filled where null) plus :data:`ANCILLARY_TABLES`.
    """
    unknown = set(beside) - {"identity", "voice"}
    if unknown:  # refused before the context, the step's longest part, is built
        raise ValueError(f"add_ancillary_tables: beside={sorted(unknown)}: "
                         "only 'identity' and 'voice' can be built on a second thread")
    keep = emit or (lambda name, df: df)
    ctx = build_context(tables, config)
    if emit is not None:
        # households and addresses are done with: keep only what the source metadata reads
        for name in CONTEXT_ONLY:
            if name in tables:
                tables[name] = _first_event(name, tables[name])
            for key in [k for k in ctx._codes if k[0] == name]:
                del ctx._codes[key]
    if context_ready is not None:
        context_ready()
    # each builder draws from its own stream, so identity and voice (which need only the
    # context) may be built on a second thread while the workforce and services are
    # (same tables either way; a large LA builds identity inline to bound memory)
    r_workforce, r_identity, r_services, r_voice = rng.spawn(4)
    with ThreadPoolExecutor(max_workers=1) as side:

        def soon(name: str, fn: Callable[..., pd.DataFrame],
                 *args: object) -> Callable[[], pd.DataFrame]:
            if name in beside:
                return side.submit(fn, *args).result
            return lambda: fn(*args)

        identity = soon("identity", build_person_identity, ctx, r_identity)
        voice = soon("voice", build_family_voice, ctx, r_voice)
        wf = build_workforce(ctx, r_workforce)
        out = fill_episode_allocations(tables, wf)
        # built here, identity comes first (emitted and freed before the services' peak);
        # built beside, it is awaited only after the services, which overlap it
        out["ext_person_identity"] = (None if "identity" in beside
                                      else keep("ext_person_identity", identity()))
        out["ssd_department"] = wf.department
        out["ssd_professionals"] = wf.professionals
        out["ssd_involvements"] = wf.involvements
        out["ext_service_involvement"] = build_service_involvement(ctx, wf, r_services, emit=emit)
        if "identity" in beside:
            out["ext_person_identity"] = keep("ext_person_identity", identity())
        out["ext_family_voice"] = keep("ext_family_voice", voice())
    out["ext_source_metadata"] = build_source_metadata(ctx, out, config)
    return out
