"""``ext_service_involvement``: every family member's involvement with services.

This is what the Stockport Family Context prototype (seed ``004``) showed a
practitioner: which services each member of the family is or was involved
with, and the name, role, email and phone of the lead professional to call.

Rows are derived from the real events of the core tables. Point events (a
police incident, a mental-health contact) open an involvement that lasts a
service-specific follow-up period after the event; events of one person with
one service whose periods overlap or lie within 30 days of each other merge
into one involvement. Spells (adult social care, school, young carers, Early
Help, CSC episodes) keep their own start and end. An involvement still running
on the extract date is ``current`` with no end date; otherwise ``historic``.

Worked example: police domestic-abuse incidents for adult A on 2023-01-10 and
2023-05-01 with a 180-day follow-up give the periods [2023-01-10, 2023-07-09]
and [2023-05-01, 2023-10-28]; they overlap, so one involvement starts
2023-01-10 and ends 2023-10-28 (historic if the extract date is 2024-03-31).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._context import (
    AncillaryContext,
    code_of,
    encode,
    isin,
    make_frame,
    obj,
    to_days,
)
from earlywarning.data.synthetic._fake_identity import (
    drama_phone_numbers,
    email_addresses,
    sample_forenames,
    sample_origins,
    sample_surnames,
)
from earlywarning.data.synthetic._workforce import Workforce

__all__ = ["SERVICES", "MERGE_GAP_DAYS", "build_service_involvement"]


@dataclass(frozen=True)
class _Service:
    key: str
    name: str
    agency: str
    role: str
    follow_up_days: int
    domain: str


SERVICES = (
    _Service("police_da", "Police: domestic abuse", "police", "Domestic Abuse Officer", 180,
             "police"),
    _Service("police_iom", "Police: integrated offender management", "police",
             "IOM Police Officer", 365, "police"),
    _Service("police_missing", "Police: missing persons", "police", "Missing Persons Coordinator",
             120, "police"),
    _Service("police_local", "Police: neighbourhood team", "police", "Police Constable", 90,
             "police"),
    _Service("housing_options", "Housing options (homelessness)", "housing",
             "Housing Options Officer", 180, "housing"),
    _Service("housing_tenancy", "Tenancy sustainment", "housing", "Tenancy Sustainment Officer",
             180, "housing"),
    _Service("housing_asb", "Housing anti-social behaviour team", "housing", "Housing Officer",
             180, "housing"),
    _Service("asc", "Adult social care", "asc", "Social Worker (Adults)", 0, "council"),
    _Service("amh", "Adult mental health", "adult_mental_health", "Community Mental Health Nurse",
             270, "nhs"),
    _Service("drug_alcohol", "Drug and alcohol service", "drug_alcohol", "Recovery Worker", 270,
             "recovery"),
    _Service("health_visiting", "Health visiting", "health_visiting", "Health Visitor", 365,
             "nhs"),
    _Service("gp", "GP practice", "gp", "GP Safeguarding Lead", 180, "nhs"),
    _Service("yos", "Youth offending service", "youth_justice", "YOS Case Manager", 270,
             "council"),
    _Service("young_carers", "Young carers service", "young_carers",
             "Young Carers Support Worker", 365, "carers"),
)  # fmt: skip
"""Partner services derived from events, with the lead professional's role."""

_SERVICE_INDEX = {s.key: i for i, s in enumerate(SERVICES)}
MERGE_GAP_DAYS = 30
"""Involvements of one person with one service less than this apart are merged."""

_CSC_SERVICES = (
    ("Early Help", "early_help"),
    ("Children's social care (child in need)", "csc"),
    ("Children's social care (child protection plan)", "csc"),
    ("Children's social care (looked after)", "csc"),
)
_DOMAINS = {"police": "{}.police.example", "housing": "{}homes.example",
            "council": "{}.gov.example", "nhs": "{}.nhs.example",
            "recovery": "{}recovery.example", "carers": "{}carers.example"}
_FAR = np.datetime64("2262-01-01", "D")


def _events(ctx: AncillaryContext) -> pd.DataFrame:
    """Every partner event as (person, service, start, end, open, recorded_at)."""
    parts = []

    def add(table, pid, service, start, end, rec, open_ended=False):  # noqa: ANN001, ANN202
        svc = np.asarray(service)
        person = ctx.codes(table, pid)
        keep = (svc >= 0) & (person >= 0)
        start = to_days(start)
        end = to_days(end) if end is not None else np.full(len(start), "NaT", "datetime64[D]")
        parts.append(pd.DataFrame({
            "person": person[keep],
            "service": svc[keep],
            "start": start[keep],
            "end": end[keep],
            "open_ended": np.full(int(keep.sum()), open_ended),
            "recorded_at": pd.to_datetime(pd.Series(rec)).to_numpy("datetime64[ns]")[keep],
        }))

    pol = ctx.table("ext_police_event")
    etype = code_of(pol["poli_event_type"], ["domestic_abuse", "missing_person", "arrest",
                                             "violent_crime", "other_crime"])
    offending = (etype >= 2) & isin(pol["poli_role"], ["suspect", "subject"])
    who = np.maximum(ctx.codes("ext_police_event", "poli_person_id"), 0)
    repeat = np.bincount(who, weights=offending, minlength=len(ctx.person_index))[who] >= 2
    svc = np.select(
        [etype == 0, offending & repeat, etype == 1],
        [_SERVICE_INDEX["police_da"], _SERVICE_INDEX["police_iom"],
         _SERVICE_INDEX["police_missing"]], _SERVICE_INDEX["police_local"])
    add("ext_police_event", "poli_person_id", svc, pol["poli_event_date"], None,
        pol["poli_recorded_at"])

    hou = ctx.table("ext_housing_event")
    ht = code_of(hou["hous_event_type"], ["homelessness_application", "temporary_accommodation",
                                          "rent_arrears", "eviction_notice", "asb_case"])
    svc = np.select(
        [(ht == 0) | (ht == 1), (ht == 2) | (ht == 3), ht == 4],
        [_SERVICE_INDEX["housing_options"], _SERVICE_INDEX["housing_tenancy"],
         _SERVICE_INDEX["housing_asb"]], -1)
    add("ext_housing_event", "hous_person_id", svc, hou["hous_event_date"], hou["hous_end_date"],
        hou["hous_recorded_at"])

    asc = ctx.table("ext_asc_involvement")
    add("ext_asc_involvement", "asci_person_id", np.full(len(asc), _SERVICE_INDEX["asc"]),
        asc["asci_start_date"], asc["asci_end_date"], asc["asci_recorded_at"], open_ended=True)

    hea = ctx.table("ext_health_event")
    health_services = {"adult_mental_health": "amh", "drug_alcohol": "drug_alcohol",
                       "health_visiting": "health_visiting", "gp_concern": "gp"}
    which = code_of(hea["heal_service"], list(health_services))
    svc = np.where(which >= 0, np.array([_SERVICE_INDEX[v] for v in health_services.values()])[
        np.maximum(which, 0)], -1)
    add("ext_health_event", "heal_person_id", svc, hea["heal_event_date"], None,
        hea["heal_recorded_at"])

    yj = ctx.table("ext_youth_justice")
    add("ext_youth_justice", "yjus_person_id", np.full(len(yj), _SERVICE_INDEX["yos"]),
        yj["yjus_event_date"], None, yj["yjus_recorded_at"])

    yc = ctx.table("ext_young_carer")
    add("ext_young_carer", "ycar_person_id", np.full(len(yc), _SERVICE_INDEX["young_carers"]),
        yc["ycar_assessment_date"], yc["ycar_support_end_date"], yc["ycar_recorded_at"],
        open_ended=True)
    ev = pd.concat(parts, ignore_index=True)
    return ev[ev["start"].notna() & (ev["start"] <= ctx.extract_date)].reset_index(drop=True)


def merge_spells(ev: pd.DataFrame, extract_date: np.datetime64) -> pd.DataFrame:
    """Merge each person's events with one service into involvement spells.

    Parameters
    ----------
    ev : pandas.DataFrame
        Columns ``person`` (integer person code), ``service`` (index into
        :data:`SERVICES`), ``start, end, open_ended, recorded_at``.
        Point events have no ``end``: they last the service's follow-up days.
        Spells with ``open_ended`` and no end are still running.
    extract_date : numpy.datetime64
        The extract day.

    Returns
    -------
    pandas.DataFrame
        ``person, service, start, end (NaT when current), current, recorded_at``.
    """
    follow = np.array([s.follow_up_days for s in SERVICES])[ev["service"].to_numpy()]
    start = ev["start"].to_numpy(dtype="datetime64[D]")
    end = ev["end"].to_numpy(dtype="datetime64[D]")
    point_end = start + follow.astype("timedelta64[D]")
    eff_end = np.where(np.isnat(end), np.where(ev["open_ended"].to_numpy(), _FAR, point_end), end)
    eff_end = np.maximum(eff_end, start)
    group = ev["person"].to_numpy(dtype=np.int64) * len(SERVICES) + ev["service"].to_numpy()
    s_day = start.astype(np.int64)
    e_day = eff_end.astype(np.int64)
    order = lexsort((s_day, group))
    group, s_day, e_day = group[order], s_day[order], e_day[order]
    rec = ev["recorded_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[order]
    # Running max of end within each group: shift groups apart so one cumulative max works.
    gid = np.concatenate([[0], np.cumsum(group[1:] != group[:-1])]) if len(group) else group
    shift = gid * np.int64(1_000_000)
    run_max = np.maximum.accumulate(e_day + shift) - shift
    new_group = np.concatenate([[True], gid[1:] != gid[:-1]]) if len(gid) else gid.astype(bool)
    prev_max = np.concatenate([[0], run_max[:-1]]) if len(gid) else run_max
    new_spell = new_group | (s_day > prev_max + MERGE_GAP_DAYS)
    first = np.flatnonzero(new_spell)
    spell_end = np.maximum.reduceat(e_day, first) if len(first) else e_day
    spell_rec = np.minimum.reduceat(rec, first) if len(first) else rec
    current = spell_end >= extract_date.astype(np.int64)
    return pd.DataFrame({
        "person": group[first] // len(SERVICES),
        "service": group[first] % len(SERVICES),
        "start": s_day[first].astype("datetime64[D]"),
        "end": np.where(current, np.datetime64("NaT", "D"), spell_end.astype("datetime64[D]")),
        "current": current,
        "recorded_at": spell_rec.astype("datetime64[ns]"),
    })


_SERVICE_NAMES = (*(sv.name for sv in SERVICES), *(n for n, _ in _CSC_SERVICES), "School")
_SERVICE_AGENCIES = (*(sv.agency for sv in SERVICES), *(a for _, a in _CSC_SERVICES), "school")
_CSC_OFFSET = len(SERVICES)
_SCHOOL = len(_SERVICE_NAMES) - 1


@dataclass
class _Part:
    """Involvement rows of one kind with their lead professionals.

    ``service`` indexes ``_SERVICE_NAMES``; ``lead`` indexes this part's pool
    of contacts (``name, role, email, phone``), so that the strings are only
    built once per professional and taken in bulk at the end.
    """

    person: np.ndarray
    service: np.ndarray
    start: np.ndarray
    end: np.ndarray
    recorded_at: np.ndarray
    lead: np.ndarray
    pool: dict[str, np.ndarray]


def _contacts(fore: np.ndarray, sur: np.ndarray, domain: np.ndarray, role: np.ndarray,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    name = (pd.Series(fore, dtype=object) + " " + pd.Series(sur, dtype=object)).to_numpy()
    return {"name": name, "role": np.asarray(role, dtype=object),
            "email": email_addresses(fore, sur, domain),
            "phone": drama_phone_numbers(len(fore), rng)}


def _partner_part(ctx: AncillaryContext, rng: np.random.Generator) -> _Part:
    """Partner-agency spells, each led by someone from a pool per (service, area)."""
    spells = merge_spells(_events(ctx), ctx.extract_date)
    service = spells["service"].to_numpy()
    n_areas = len(ctx.area_names)
    cell = service * n_areas + ctx.area_of(spells["person"].to_numpy())
    n_cells = len(SERVICES) * n_areas
    size = np.clip(np.ceil(np.bincount(cell, minlength=n_cells) / 40), 2, 500).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    total = int(size.sum())
    origins = sample_origins(total, rng)
    fore = sample_forenames(origins, np.where(rng.random(total) < 0.6, "F", "M"), rng)
    sur = sample_surnames(origins, rng)
    pool_service = np.repeat(np.arange(n_cells) // n_areas, size)
    domain = np.array([_DOMAINS[sv.domain].format(ctx.la_slug) for sv in SERVICES],
                      dtype=object)[pool_service]
    role = np.array([sv.role for sv in SERVICES], dtype=object)[pool_service]
    pick = offset[cell] + np.floor(rng.random(len(spells)) * size[cell]).astype(np.int64)
    return _Part(spells["person"].to_numpy(), service, spells["start"].to_numpy(),
                 spells["end"].to_numpy(), spells["recorded_at"].to_numpy(), pick,
                 _contacts(fore, sur, domain, role, rng))


def _school_part(ctx: AncillaryContext, rng: np.random.Generator) -> _Part:
    """One involvement per enrolment, led by the school's DSL (or its SENCO for SEN pupils)."""
    sch = ctx.table("ext_school_enrolment")
    start, end = to_days(sch["scho_start_date"]), to_days(sch["scho_end_date"])
    person = ctx.codes("ext_school_enrolment", "scho_person_id")
    school_code, schools = encode(sch["scho_school_id"])
    keep = ~np.isnat(start) & (start <= ctx.extract_date) & (person >= 0) & (school_code >= 0)
    start, end, person, school_code = start[keep], end[keep], person[keep], school_code[keep]
    schools = schools.to_numpy(zero_copy_only=False)
    n = len(schools)
    origins = sample_origins(2 * n, rng)
    fore = sample_forenames(origins, np.where(rng.random(2 * n) < 0.75, "F", "M"), rng)
    sur = sample_surnames(origins, rng)
    slug = pd.Series(np.repeat(np.asarray(schools, dtype=object), 2)).astype(str).str.lower()
    domain = ("school" + slug.str.replace(r"[^a-z0-9]", "", regex=True) + ".sch.example")
    role = np.tile(np.array(["Designated Safeguarding Lead", "SENCO"], dtype=object), n)
    sen = isin(sch["scho_sen_status"], ["K", "E"])[keep]
    current = np.isnat(end) | (end >= ctx.extract_date)
    rec = pd.to_datetime(sch["scho_recorded_at"]).to_numpy("datetime64[ns]")[keep]
    return _Part(person, np.full(len(start), _SCHOOL), start,
                 np.where(current, np.datetime64("NaT", "D"), end), rec,
                 school_code * 2 + sen,
                 _contacts(fore, sur, domain.to_numpy(dtype=object), role, rng))


def _csc_part(wf: Workforce) -> _Part:
    """One involvement per EH / CSC episode, led by its latest allocated worker."""
    eps, prof = wf.episodes, wf.professionals
    start = eps["start"].to_numpy(dtype="datetime64[D]")
    rec = eps["recorded_at"].to_numpy(dtype="datetime64[ns]")
    rec = np.where(np.isnat(rec), start.astype("datetime64[ns]"), rec)
    pool = {"name": obj(prof["prof_professional_name"]),
            "role": obj(prof["prof_professional_job_title"]),
            "email": obj(prof["prof_contact_email"]),
            "phone": obj(prof["prof_contact_phone"])}
    return _Part(eps["person"].to_numpy(dtype=np.int64),
                 _CSC_OFFSET + eps["kind"].to_numpy(), start,
                 eps["end"].to_numpy(dtype="datetime64[D]"), rec,
                 eps["last_prof"].to_numpy(dtype=np.int64), pool)


def build_service_involvement(
    ctx: AncillaryContext, wf: Workforce, rng: np.random.Generator,
    emit: Callable[..., pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Build ``ext_service_involvement`` from the core events and the allocations.

    Parameters
    ----------
    ctx : AncillaryContext
        Context from the core tables.
    wf : Workforce
        Allocations, whose workers lead the Early Help and CSC involvements.
    rng : numpy.random.Generator
        Source of randomness.
    emit : callable, optional
        ``emit(name, df, part=(k, last)) -> df`` receives the table in parts
        (Early Help and CSC, partner agencies, schools) as each is built, to
        write and free it; the parts it returns are concatenated.

    Returns
    -------
    pandas.DataFrame
        The table, columns as declared in ``schema.py``.
    """
    builders = (lambda: _csc_part(wf), lambda: _partner_part(ctx, rng),
                lambda: _school_part(ctx, rng))
    frames, first = [], 1
    for k, make in enumerate(builders):
        df = _part_frame(ctx, make(), first)
        first += len(df)
        if emit is not None:
            df = emit("ext_service_involvement", df, part=(k, k == len(builders) - 1))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _part_frame(ctx: AncillaryContext, p: _Part, first_id: int) -> pd.DataFrame:
    """Rows of one part, ids numbered from ``first_id``."""
    from earlywarning.data.synthetic._fake_identity import digit_strings

    n = len(p.person)
    # 32-bit offsets (the frame's own string type, so no converted copy) unless rows could
    # hold more than 2 GB of one column's text
    st = pa.string() if n < 20_000_000 else pa.large_string()
    take = pa.array(np.asarray(p.lead, dtype=np.int64))
    contacts = {k: pa.array(np.asarray(p.pool[k], dtype=object), type=st).take(take)
                for k in ("name", "role", "email", "phone")}
    start = np.asarray(p.start).astype("datetime64[D]")
    end = np.asarray(p.end).astype("datetime64[D]")
    rec = np.asarray(p.recorded_at).astype("datetime64[ns]")
    rec = np.where(np.isnat(rec), start.astype("datetime64[ns]"), rec)
    service = pa.array(np.asarray(p.service, dtype=np.int64))
    person = np.asarray(p.person, dtype=np.int64)
    return make_frame("ext_service_involvement", {
        "serv_involvement_id": digit_strings(np.arange(first_id, first_id + n, dtype=np.int64),
                                             9, "SRV"),
        "serv_person_id": ctx.person_ids(person),
        "serv_family_id": ctx.family_ids(ctx.family_of(person)),
        "serv_service": pa.array(list(_SERVICE_NAMES), type=st).take(service),
        "serv_agency": pa.array(list(_SERVICE_AGENCIES), type=st).take(service),
        "serv_status": pa.array(["historic", "current"], type=st).take(
            pa.array(np.isnat(end).astype(np.int64))),
        "serv_start_date": start,
        "serv_end_date": end,
        "serv_lead_name": contacts["name"],
        "serv_lead_role": contacts["role"],
        "serv_lead_email": contacts["email"],
        "serv_lead_phone": contacts["phone"],
        "serv_recorded_at": np.minimum(rec, ctx.extract_ts),
    }, n)
