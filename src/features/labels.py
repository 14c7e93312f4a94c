"""Outcomes: whether the child escalated within the horizon after the as-of date.

A label at as-of date ``D`` with horizon ``H`` days is 1 when an outcome event
is dated in ``(D, D + H]`` (by event date: when it happened, not when it was
recorded), else 0, and missing when ``D + H`` is after the last day the data
covers (the horizon is not complete yet). ``label_event_date`` is the first
such event. See :mod:`earlywarning.features._timeline` for a worked example.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np

from ._engine import Grid, Records, interval_max
from ._sql import spec_sql_text
from ._timeline import first_slot_on_or_after, to_days
from .specs import FeatureSpec

__all__ = ["OUTCOME_SOURCES", "Labels", "outcome_spec", "build_labels", "horizon_complete"]

OUTCOME_SOURCES = {
    "cin_referral": ("ssd_cin_episodes", "referral to children's social care"),
    "s47": ("ssd_s47_enquiry", "section 47 enquiry"),
    "cp_plan": ("ssd_cp_plans", "child protection plan start"),
    "cla": ("ssd_cla_episodes", "start of a care episode"),
}
"""Outcome name -> (table whose event date is the outcome date, description)."""


def outcome_spec(event: str) -> FeatureSpec:
    """Return the spec whose records are the outcome ``event`` (dated by the table's event date)."""
    table, what = OUTCOME_SOURCES[event]
    return FeatureSpec(f"outcome_{event}", table, "count", f"{{value}} {what}", group="outcome")


@dataclass
class Labels:
    """Labels at every (child, slot).

    Attributes
    ----------
    label : ndarray of float, shape (n_children, n_slots)
        1.0, 0.0, or NaN where the horizon is incomplete.
    event_day : ndarray of float
        Day number of the first outcome event in the horizon, NaN if none.
    complete : ndarray of bool, shape (n_slots,)
    """

    label: np.ndarray
    event_day: np.ndarray
    complete: np.ndarray


def horizon_complete(as_of: date, horizon_days: int, data_end: date) -> bool:
    """Whether the whole horizon ``(as_of, as_of + horizon_days]`` lies within the data."""
    return to_days(as_of) + horizon_days <= to_days(data_end)


def build_labels(con: duckdb.DuckDBPyConnection, grid: Grid, events: list[str],
                 horizon_days: int, data_end: date) -> Labels:
    """Compute labels for the registered ``_children`` at every slot.

    An outcome event on day ``e`` labels the slots whose date ``D`` satisfies
    ``D < e <= D + H``, i.e. the slot interval
    ``[first_slot_on_or_after(e - H), first_slot_on_or_after(e))``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    grid : Grid
    events : list of str
        Outcome names (keys of :data:`OUTCOME_SOURCES`), combined as a union.
    horizon_days : int
    data_end : date
        Last day the data covers.

    Returns
    -------
    Labels
    """
    cidx, days = [], []
    for event in events:
        sql = spec_sql_text(outcome_spec(event), "event")
        rec = Records.from_columns(con.execute(sql).fetchnumpy())
        cidx.append(rec.cidx)
        days.append(rec.event_day)
    all_cidx = np.concatenate(cidx) if cidx else np.zeros(0, np.int64)
    all_days = np.concatenate(days) if days else np.zeros(0, np.int64)
    sd = grid.slot_days
    first = first_slot_on_or_after(sd, all_days - horizon_days)
    stop = first_slot_on_or_after(sd, all_days)
    # the first event after D is the maximum of -day
    neg_first = interval_max(all_cidx, first, stop, grid, -all_days.astype(np.float64))
    event_day = -neg_first
    complete = sd + horizon_days <= to_days(data_end)
    label = np.where(np.isnan(event_day), 0.0, 1.0)
    label[:, ~complete] = np.nan
    return Labels(label=label, event_day=event_day, complete=complete)
