"""As-of dates, slots and the point-in-time convention.

The convention (one, used everywhere)
-------------------------------------
An as-of date ``D`` is the **end of day D**: the moment a practitioner would
look at the list on the morning of ``D + 1``. Hence, at day precision:

* a record is *known at D* when its event date ``<= D`` and it was recorded on
  or before ``D`` (``recorded_at < D + 1 day``, i.e. strictly before the
  midnight that ends ``D``: triage's strict cut-off, applied to that instant);
* a feature window of ``W`` days covers event dates in ``(D - W, D]``;
* a spell (CP plan, care episode, household membership...) is *open at D*
  when ``start <= D < end`` (an end date of ``D`` means it ended that day);
* a label counts outcome events dated in ``(D, D + H]`` for a horizon of
  ``H`` days, so every event date is either a feature (``<= D``) or a label
  (``> D``), never both and never neither.

Worked example (dates asserted in ``tests/features/test_timeline.py``)::

    D = 2024-04-01, W = 365, H = 365
    365-day window:  event dates 2023-04-03 .. 2024-04-01 (D - 365 = 2023-04-02,
                     a leap day lies in between, so 2023-04-02 is just outside)
    DA notification dated 2024-03-30, recorded 2024-04-01 23:59  -> counted at D
    the same notification recorded 2024-04-02 00:00              -> not counted at D;
                                                                    counted at 2024-05-01
    CP plan starting 2024-04-01  -> on a plan at D: not in the cohort at D
    CP plan starting 2024-04-02  -> label 1 (first day of the horizon)
    CP plan starting 2025-04-01  -> label 1 (D + 365, last day of the horizon)
    CP plan starting 2025-04-02  -> label 0 at D

Slots
-----
The engine evaluates every feature at a sorted list of as-of dates, the
*slots*. A record contributes to the slots of a half-open interval
``[first, stop)``: ``first`` is the first slot whose date is ``>=`` the day it
became known and ``stop`` the first slot whose date is ``>=`` the day it stops
counting (event date + W for a window, the end date for a spell).
:func:`first_slot_on_or_after` does that arithmetic for whole arrays.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = [
    "EPOCH",
    "NEVER",
    "as_of_dates",
    "to_days",
    "from_days",
    "first_slot_on_or_after",
    "window_start",
    "horizon_end",
]

EPOCH = date(1970, 1, 1)
NEVER = date(9999, 12, 31)
"""Sentinel for an open end (a spell with no end date)."""

_OFFSETS = {
    "weekly": pd.DateOffset(weeks=1),
    "monthly": pd.DateOffset(months=1),
    "quarterly": pd.DateOffset(months=3),
    "yearly": pd.DateOffset(years=1),
}


def as_of_dates(start: date, end: date, frequency: str) -> list[date]:
    """List the as-of dates from ``start`` to ``end`` inclusive, every ``frequency``.

    Parameters
    ----------
    start, end : date
        First and last as-of date (``end`` is included when it falls on the grid).
    frequency : {"weekly", "monthly", "quarterly", "yearly"}
        Step between dates; monthly steps keep the day of the month of ``start``.

    Returns
    -------
    list of date

    Examples
    --------
    >>> as_of_dates(date(2024, 1, 1), date(2024, 3, 1), "monthly")
    [datetime.date(2024, 1, 1), datetime.date(2024, 2, 1), datetime.date(2024, 3, 1)]
    """
    step = _OFFSETS[frequency]
    out = []
    i = 0
    while True:
        d = (pd.Timestamp(start) + step * i).date()
        if d > end:
            return out
        out.append(d)
        i += 1


def to_days(d: date) -> int:
    """Days since 1970-01-01 (the integer form the engine works in)."""
    return (d - EPOCH).days


def from_days(n: int) -> date:
    """Inverse of :func:`to_days`."""
    return EPOCH + timedelta(days=int(n))


def first_slot_on_or_after(slot_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the first slot whose date is on or after each of ``days``.

    Equals the number of slots dated strictly before the day, so a record that
    becomes known on day ``k`` counts from slot ``first_slot_on_or_after(k)``
    on, and one that stops counting on day ``s`` counts up to (not including)
    slot ``first_slot_on_or_after(s)``.

    Parameters
    ----------
    slot_days : ndarray of int
        Sorted as-of dates as days since 1970-01-01.
    days : ndarray of int
        Days to place.

    Returns
    -------
    ndarray of int32, values in ``0 .. len(slot_days)``
    """
    return np.searchsorted(slot_days, days, side="left").astype(np.int32)


def window_start(as_of: date, window_days: int) -> date:
    """First event date inside a ``window_days`` window ending on ``as_of``."""
    return as_of - timedelta(days=window_days - 1)


def horizon_end(as_of: date, horizon_days: int) -> date:
    """Last event date inside the label horizon after ``as_of``."""
    return as_of + timedelta(days=horizon_days)
