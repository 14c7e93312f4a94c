"""Cohorts: who is scored at each as-of date.

Every cohort starts from the children alive and aged 0-17 at the as-of date and
drops those already in the outcome's state or outside its scope:

* on a child protection plan at the as-of date (``start <= D < end``),
* looked after at the as-of date,
* unaccompanied asylum-seeking children (an ``ssd_immigration_status`` spell
  with status ``UASC`` starting on or before the as-of date): their care
  starts are not escalations of family need.

Exclusions read the true state by **event date**, even when it was recorded
later: a child whose plan began before ``D`` but was entered after ``D`` is
already on a plan, and keeping them would add a negative the model could never
turn positive. Inclusion rules are point in time (known by ``D``):

* ``all_children``: everyone left;
* ``known_to_services``: a contact, referral, assessment, s47 enquiry or Early
  Help episode dated within ``lookback_days`` and known by ``D``, or an Early
  Help or child-in-need episode open at ``D``;
* ``early_help``: an Early Help episode open at ``D``, or a contact or referral
  closed with no further action within ``lookback_days``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np

from ._compute import compute_spec
from ._engine import Grid
from ._timeline import first_slot_on_or_after
from .specs import Condition, FeatureSpec

__all__ = [
    "COHORTS", "CohortResult", "inclusion_specs", "exclusion_specs", "build_cohort", "age_band",
]

COHORTS = ("early_help", "known_to_services", "all_children")

_EVER = (None,)


def _spec(name: str, table: str, aggregate: str, where: tuple[Condition, ...] = (),
          windows: tuple[int | None, ...] | None = None) -> FeatureSpec:
    return FeatureSpec(name, table, aggregate, f"{{value}} {name}", where=where,  # type: ignore
                       windows=windows, group="cohort")


def exclusion_specs() -> dict[str, FeatureSpec]:
    """Reasons a child is out of every cohort at ``D`` (true state, by event date)."""
    return {
        "on_cp_plan": _spec("on_cp_plan", "ssd_cp_plans", "open"),
        "looked_after": _spec("looked_after", "ssd_cla_episodes", "open"),
        "uasc": _spec("uasc", "ssd_immigration_status", "count",
                      (Condition("immi_immigration_status", "eq", "UASC"),), _EVER),
    }


def inclusion_specs(name: str, lookback_days: int) -> list[FeatureSpec]:
    """List the records that put a child in cohort ``name`` (any one suffices); empty = everyone."""
    lb = (lookback_days,)
    open_eh = _spec("open_early_help", "ssd_early_help_episodes", "open")
    if name == "all_children":
        return []
    if name == "known_to_services":
        return [
            _spec("contact", "ssd_contacts", "count", windows=lb),
            _spec("referral", "ssd_cin_episodes", "count", windows=lb),
            _spec("assessment", "ssd_cin_assessments", "count", windows=lb),
            _spec("s47", "ssd_s47_enquiry", "count", windows=lb),
            _spec("early_help_episode", "ssd_early_help_episodes", "count", windows=lb),
            open_eh,
            _spec("open_cin", "ssd_cin_episodes", "open"),
        ]
    if name == "early_help":
        return [
            open_eh,
            _spec("contact_nfa", "ssd_contacts", "count",
                  (Condition("cont_contact_outcome_json", "eq", "Y", "NFA_FLAG"),), lb),
            _spec("referral_nfa", "ssd_cin_episodes", "count",
                  (Condition("cine_referral_nfa", "eq", "Y"),), lb),
        ]
    raise ValueError(f"cohort.name = {name!r}: unknown cohort; valid: {', '.join(COHORTS)}")


@dataclass
class CohortResult:
    """Cohort membership for every (child, slot) and the counts behind it.

    Attributes
    ----------
    member : ndarray of bool, shape (n_children, n_slots)
    age_days : ndarray of float, shape (n_children, n_slots)
        Age in days at each as-of date.
    counts : dict
        Per reason (``eligible_age``, ``on_cp_plan``, ``looked_after``, ``uasc``,
        ``included``), children per slot.
    """

    member: np.ndarray
    age_days: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)


def build_cohort(con: duckdb.DuckDBPyConnection, grid: Grid, dob_days: np.ndarray,
                 adult_days: np.ndarray, death_days: np.ndarray, name: str,
                 lookback_days: int) -> CohortResult:
    """Cohort membership at every slot for the registered ``_children``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection with ``_children`` registered.
    grid : Grid
    dob_days, adult_days, death_days : ndarray of int
        Per child: date of birth, 18th birthday and death (9999-12-31 if alive),
        as days since 1970-01-01, in ``cidx`` order.
    name : str
        Cohort name (see :data:`COHORTS`).
    lookback_days : int

    Returns
    -------
    CohortResult
    """
    sd = grid.slot_days
    slot = np.arange(grid.n_slots)[None, :]
    born_from = first_slot_on_or_after(sd, dob_days)[:, None]
    adult_from = first_slot_on_or_after(sd, adult_days)[:, None]
    dead_from = first_slot_on_or_after(sd, death_days)[:, None]
    eligible = (slot >= born_from) & (slot < adult_from) & (slot < dead_from)
    counts = {"eligible_age": eligible.sum(axis=0)}
    member = eligible.copy()
    for reason, spec in exclusion_specs().items():
        values = next(iter(compute_spec(con, spec, grid, known_by="event").values()))
        hit = values > 0
        counts[reason] = (hit & eligible).sum(axis=0)
        member &= ~hit
    rules = inclusion_specs(name, lookback_days)
    if rules:
        included = np.zeros_like(member)
        for spec in rules:
            for values in compute_spec(con, spec, grid).values():
                included |= values > 0
        member &= included
    counts["included"] = member.sum(axis=0)
    age = (sd[None, :] - dob_days[:, None]).astype(np.float64)
    return CohortResult(member=member, age_days=age, counts=counts)


def age_band(age_years: np.ndarray) -> np.ndarray:
    """DfE age bands: ``under 1``, ``1-4``, ``5-9``, ``10-15``, ``16-17``."""
    bins = np.array([1, 5, 10, 16])
    labels = np.array(["under 1", "1-4", "5-9", "10-15", "16-17"], dtype=object)
    return labels[np.searchsorted(bins, age_years, side="right")]
