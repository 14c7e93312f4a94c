"""The simulation calendar: days as integers, months as the simulation step.

Dates are held as ``int64`` days since 1970-01-01 (numpy ``datetime64[D]``
values) until tables are written. The simulation steps one calendar month at a
time from ``burn_in_years`` before the period start to the end date.

Worked example (defaults): ``end_date`` 2026-03-31 and ``years`` 10 give a period
2016-04-01 .. 2026-03-31 (120 months, month index ``period_m0`` = 60 after a
5-year burn-in starting 2011-04-01).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from earlywarning.data.synthetic._config import SyntheticConfig

__all__ = ["DAYS_PER_YEAR", "NEVER", "Timeline", "day_of", "to_datetime64"]

DAYS_PER_YEAR = 365.25
NEVER = np.int64(10**6)
"""A day number far beyond any end date: 'has not happened'."""


def day_of(d: dt.date) -> int:
    """Days since 1970-01-01 of a date."""
    return int(np.datetime64(d, "D").astype(np.int64))


def to_datetime64(days: np.ndarray) -> np.ndarray:
    """Day numbers to ``datetime64[ns]`` with ``NaT`` where the day is ``NEVER`` or negative-one."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[(days >= NEVER) | (days == -1)] = np.datetime64("NaT")
    return out


@dataclass(frozen=True)
class Timeline:
    """Calendar of one simulation."""

    sim_start: int
    period_start: int
    end: int
    month_starts: np.ndarray
    period_m0: int

    @property
    def n_months(self) -> int:
        """Number of simulated months (burn-in included)."""
        return len(self.month_starts) - 1

    @classmethod
    def from_config(cls, cfg: SyntheticConfig) -> Timeline:
        """Build the calendar of ``cfg``.

        Returns
        -------
        Timeline
        """
        ps = cfg.start_date.replace(day=1)
        first = dt.date(ps.year - cfg.burn_in_years, ps.month, 1)
        stop = cfg.end_date + dt.timedelta(days=1)
        months = np.arange(np.datetime64(first, "M"), np.datetime64(stop, "M") + 1)
        starts = months.astype("datetime64[D]").astype(np.int64)
        end = day_of(cfg.end_date)
        starts = np.minimum(starts, end + 1)
        starts = np.unique(starts)
        period_start = day_of(cfg.start_date)
        m0 = int(np.searchsorted(starts, period_start, side="right") - 1)
        return cls(sim_start=int(starts[0]), period_start=period_start, end=end,
                   month_starts=starts, period_m0=m0)

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Month index of each day (clipped to the simulated range)."""
        m = np.searchsorted(self.month_starts, days, side="right") - 1
        return np.clip(m, 0, self.n_months - 1)
