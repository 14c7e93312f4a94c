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

import numpy as np
import pandas as pd
from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES, get_table
from earlywarning.data.synthetic._context import (
    AncillaryContext,
    build_context,
    make_frame,
    to_days,
)
from earlywarning.data.synthetic._fake_identity import (
    ORIGIN_OF_ETHNICITY,
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
    "ANCILLARY_TABLES",
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
    pid = person["pers_person_id"].astype(object).to_numpy()
    origin = person["pers_ethnicity"].astype(object).map(ORIGIN_OF_ETHNICITY).fillna("british")
    is_child = person["pers_is_child"].astype(object).eq("Y").to_numpy()
    family = pd.Series(pid).map(ctx.person_family)

    fam_origin = pd.DataFrame({"family": family, "origin": origin.to_numpy(),
                               "child": is_child}).dropna(subset=["family"])
    fam_origin = fam_origin.sort_values(["family", "child"], kind="stable")
    fam_origin = fam_origin.drop_duplicates("family")
    fam_surname = pd.Series(sample_surnames(fam_origin["origin"].to_numpy(), rng),
                            index=fam_origin["family"].to_numpy())
    own_surname = sample_surnames(origin.to_numpy(), rng)

    rel = ctx.table("ext_person_relationship")
    joiners = set(rel.loc[rel["rela_relationship"].astype(object).isin(
        ["step_parent", "partner_of_parent"]), "rela_related_person_id"].astype(object))
    keeps_own = (family.isna().to_numpy() | pd.Series(pid).isin(joiners).to_numpy()
                 | (~is_child & (rng.random(n) < 0.25)))
    surname = np.where(keeps_own, own_surname, family.map(fam_surname).to_numpy(dtype=object))
    forename = sample_forenames(origin.to_numpy(), person["pers_sex"].astype(object).to_numpy(),
                                rng)

    dob = pd.to_datetime(person["pers_dob"]).dt.to_period("M").dt.start_time
    day = np.floor(rng.random(n) * dob.dt.days_in_month.fillna(28).to_numpy()).astype(np.int64)
    full_dob = dob + pd.to_timedelta(day, unit="D")

    nhs = fake_nhs_numbers(n, rng)
    nhs = np.where(rng.random(n) < 0.03, None, nhs)

    enrolled = set(ctx.table("ext_school_enrolment")["scho_person_id"].astype(object))
    dob_d = to_days(dob)
    year = dob.dt.year.fillna(2000).to_numpy(np.int64) + np.where(
        dob.dt.month.fillna(1).to_numpy() >= 9, 5, 4)
    started = (year <= pd.Timestamp(ctx.extract_date).year) & ~np.isnat(dob_d)
    pupil = is_child & (started | pd.Series(pid).isin(enrolled).to_numpy())
    upn = np.full(n, None, dtype=object)
    upn[pupil] = fake_upns(np.minimum(year[pupil], pd.Timestamp(ctx.extract_date).year), rng)

    return make_frame("ext_person_identity", {
        "iden_person_id": pid, "iden_forename": forename, "iden_surname": surname,
        "iden_dob": full_dob.to_numpy(), "iden_nhs_number": nhs, "iden_upn": upn,
    }, n)


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
            agency = df["heal_service"].astype(object).map(HEALTH_SERVICE_AGENCY)
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


def add_ancillary_tables(
    tables: dict[str, pd.DataFrame], config: object, rng: np.random.Generator
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

    Returns
    -------
    dict of str to pandas.DataFrame
        A new dict: the input tables (Early Help, CIN, assessment and s47 team
        and worker columns filled where null) plus :data:`ANCILLARY_TABLES`.
    """
    ctx = build_context(tables, config)
    wf = build_workforce(ctx, rng)
    out = fill_episode_allocations(tables, wf)
    out["ext_person_identity"] = build_person_identity(ctx, rng)
    out["ssd_department"] = wf.department
    out["ssd_professionals"] = wf.professionals
    out["ssd_involvements"] = wf.involvements
    out["ext_service_involvement"] = build_service_involvement(ctx, wf, rng)
    out["ext_family_voice"] = build_family_voice(ctx, rng)
    out["ext_source_metadata"] = build_source_metadata(ctx, out, config)
    return out
