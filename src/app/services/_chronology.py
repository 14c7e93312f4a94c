"""Plain-language sentences for the accessible case summary.

Each warehouse event table gets one :class:`EventSpec`: the columns to read
and a function that turns a row into a short sentence without names (the
page adds who it was about). Codes are spelled out for a reader who does not
know the data model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EventSpec", "EVENT_SPECS", "humanise"]


def humanise(code: object) -> str:
    """``'domestic_abuse'`` → ``'domestic abuse'``; ``None`` → ``''``."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    return str(code).replace("_", " ").strip()


def _yes(v: object) -> bool:
    return str(v).upper() == "Y"


@dataclass(frozen=True)
class EventSpec:
    """How one event table becomes chronology lines."""

    table: str
    person_col: str
    date_col: str
    agency: str
    columns: tuple[str, ...]
    sentence: Callable[[dict], str | None]
    where: str = ""
    """Extra SQL condition on the table (constant text, no user input)."""


_POLICE_ROLE = {
    "victim": "as a victim", "suspect": "as a suspect", "witness": "as a witness",
    "child_present": "a child was present", "subject": "as the subject",
}
_HEALTH = {
    "adult_mental_health": "Adult mental health service",
    "drug_alcohol": "Drug and alcohol service",
    "health_visiting": "Health visiting", "gp_concern": "GP", "a_and_e": "Hospital A&E",
}


def _police(r: dict) -> str:
    role = _POLICE_ROLE.get(r["poli_role"], humanise(r["poli_role"]))
    return f"Police recorded a {humanise(r['poli_event_type'])} incident ({role})"


def _attendance(r: dict) -> str | None:
    possible = r["atte_sessions_possible"] or 0
    if possible <= 0:
        return None
    pct = 100 * (r["atte_sessions_missed"] or 0) / possible
    if pct < 10:
        return None
    return f"Missed {pct:.0f}% of school sessions this term (persistent absence is 10% or more)"


EVENT_SPECS: tuple[EventSpec, ...] = (
    EventSpec("ssd_contacts", "cont_person_id", "cont_contact_date", "csc",
              ("cont_contact_source_desc",),
              lambda r: "Contact with children's social care"
              + (f" from {r['cont_contact_source_desc']}"
                 if r["cont_contact_source_desc"] else "")),
    EventSpec("ssd_early_help_episodes", "earl_person_id", "earl_episode_start_date",
              "early_help", ("earl_episode_reason",),
              lambda r: "Early Help support started"
              + (f" ({humanise(r['earl_episode_reason'])})" if r["earl_episode_reason"] else "")),
    EventSpec("ssd_early_help_episodes", "earl_person_id", "earl_episode_end_date",
              "early_help", ("earl_episode_end_reason",),
              lambda r: "Early Help support ended"
              + (f" ({humanise(r['earl_episode_end_reason'])})"
                 if r["earl_episode_end_reason"] else "")),
    EventSpec("ssd_cin_episodes", "cine_person_id", "cine_referral_date", "csc",
              ("cine_referral_nfa",),
              lambda r: "Referred to children's social care"
              + ("; no further action" if _yes(r["cine_referral_nfa"]) else "")),
    EventSpec("ssd_cin_assessments", "cina_person_id", "cina_assessment_start_date", "csc",
              ("cina_assessment_outcome_nfa",),
              lambda r: "Social care assessment started"
              + ("; no further action after it" if _yes(r["cina_assessment_outcome_nfa"])
                 else "")),
    EventSpec("ssd_s47_enquiry", "s47e_person_id", "s47e_s47_start_date", "csc", (),
              lambda r: "Child protection enquiry (section 47) started"),
    EventSpec("ssd_initial_cp_conference", "icpc_person_id", "icpc_icpc_date", "csc",
              ("icpc_icpc_outcome_cp_flag",),
              lambda r: "Initial child protection conference"
              + ("; a child protection plan was made" if _yes(r["icpc_icpc_outcome_cp_flag"])
                 else "; no plan was made")),
    EventSpec("ssd_cp_plans", "cppl_person_id", "cppl_cp_plan_start_date", "csc",
              ("cppl_cp_plan_initial_category",),
              lambda r: "Child protection plan started"
              + (f" (category: {r['cppl_cp_plan_initial_category'].lower()})"
                 if r["cppl_cp_plan_initial_category"] else "")),
    EventSpec("ssd_cla_episodes", "clae_person_id", "clae_cla_episode_start_date", "csc", (),
              lambda r: "Came into care", where="clae_cla_episode_start_reason IN ('S')"),
    EventSpec("ssd_missing", "miss_person_id", "miss_missing_episode_start_date", "csc",
              ("miss_missing_episode_type",),
              lambda r: "Reported missing" if r["miss_missing_episode_type"] != "A"
              else "Reported away from home"),
    EventSpec("ext_police_event", "poli_person_id", "poli_event_date", "police",
              ("poli_event_type", "poli_role"), _police),
    EventSpec("ext_housing_event", "hous_person_id", "hous_event_date", "housing",
              ("hous_event_type",), lambda r: f"Housing: {humanise(r['hous_event_type'])}"),
    EventSpec("ext_asc_involvement", "asci_person_id", "asci_start_date", "asc",
              ("asci_service_type",),
              lambda r: f"Adult social care started: {humanise(r['asci_service_type'])}"),
    EventSpec("ext_health_event", "heal_person_id", "heal_event_date", "health",
              ("heal_service", "heal_event_type"),
              lambda r: f"{_HEALTH.get(r['heal_service'], humanise(r['heal_service']))}: "
              f"{humanise(r['heal_event_type'])}"),
    EventSpec("ext_school_attendance", "atte_person_id", "atte_term_end_date", "school",
              ("atte_sessions_possible", "atte_sessions_missed"), _attendance),
    EventSpec("ext_school_exclusion", "excl_person_id", "excl_exclusion_date", "school",
              ("excl_type", "excl_days"),
              lambda r: f"School {humanise(r['excl_type'])}"
              + (f" ({r['excl_days']:g} days)" if r["excl_days"] == r["excl_days"]
                 and r["excl_days"] is not None else "")),
    EventSpec("ext_youth_justice", "yjus_person_id", "yjus_event_date", "youth_justice",
              ("yjus_outcome",), lambda r: f"Youth justice: {humanise(r['yjus_outcome'])}"),
    EventSpec("ext_young_carer", "ycar_person_id", "ycar_assessment_date", "young_carers", (),
              lambda r: "Assessed as a young carer"),
    EventSpec("ext_early_years", "eyrs_person_id", "eyrs_start_date", "early_years", (),
              lambda r: "Started at an early-years setting"),
)
"""Chronology specs. Care is shown from its first episode only (start reason S)."""
