"""Interval accumulation: dated records -> one value per (child, as-of slot).

Why this shape: the naive way joins every record to every as-of date whose
window contains it, then groups. With sorted as-of dates a record counts for
a *contiguous run* of slots ``[first, stop)`` (see :mod:`._timeline`), so a
count is a +1 at ``first`` and a -1 at ``stop`` followed by a cumulative sum
along the slots: work proportional to the records, not records x dates.
Sums use the same deltas with weights; maxima (and so days-since-last) are
not invertible, so they expand each interval to its slots, or, when every
interval runs to the last slot, take a running maximum.

Arrays are dense ``(n_children, n_slots)``; one feature at a time, so memory
is a few of them, not the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._timeline import first_slot_on_or_after

__all__ = [
    "Records", "Grid", "first_slots", "stop_slots", "slots_for", "started_sum", "interval_sum",
    "interval_count", "interval_max",
]


@dataclass(frozen=True)
class Grid:
    """The as-of slots and the number of children."""

    slot_days: np.ndarray
    n_children: int

    @property
    def n_slots(self) -> int:
        """Number of as-of dates."""
        return int(len(self.slot_days))


@dataclass(frozen=True)
class Records:
    """Columns of a spec query as numpy arrays (days since 1970-01-01).

    ``until_day`` is given for spells only, ``link_from``/``link_until`` for
    subjects other than the child (``None`` = unbounded).
    """

    cidx: np.ndarray
    known_day: np.ndarray
    event_day: np.ndarray
    until_day: np.ndarray | None = None
    link_from: np.ndarray | None = None
    link_until: np.ndarray | None = None
    value: np.ndarray | None = None
    denom: np.ndarray | None = None

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray]) -> Records:
        """Build from a ``fetchnumpy()`` result."""
        def arr(name: str, dtype: type) -> np.ndarray | None:
            if name not in cols:
                return None
            return np.asarray(cols[name], dtype=dtype)

        return cls(
            cidx=arr("cidx", np.int64), known_day=arr("known_day", np.int32),
            event_day=arr("event_day", np.int32), until_day=arr("until_day", np.int32),
            link_from=arr("link_from", np.int32), link_until=arr("link_until", np.int32),
            value=arr("value", np.float64), denom=arr("denom", np.float64),
        )

    def __len__(self) -> int:
        return int(len(self.cidx))


def first_slots(rec: Records, grid: Grid) -> np.ndarray:
    """First slot at which each record counts: known, and its subject linked."""
    first = first_slot_on_or_after(grid.slot_days, rec.known_day)
    if rec.link_from is not None:
        first = np.maximum(first, first_slot_on_or_after(grid.slot_days, rec.link_from))
    return first


def stop_slots(rec: Records, grid: Grid, *, window: int | None, spell: bool) -> np.ndarray:
    """Slot at which each record stops counting (exclusive).

    Parameters
    ----------
    rec : Records
    grid : Grid
    window : int or None
        Window in days: the record stops counting at ``event_day + window``.
        ``None``: it counts for all later slots.
    spell : bool
        Count while the spell is open (stops at ``until_day``) instead of by window.
    """
    sd = grid.slot_days
    stop = np.full(len(rec), grid.n_slots, dtype=np.int32)
    if spell and rec.until_day is not None:
        stop = first_slot_on_or_after(sd, rec.until_day)
    elif window is not None:
        stop = first_slot_on_or_after(sd, rec.event_day.astype(np.int64) + window)
    if rec.link_until is not None:
        stop = np.minimum(stop, first_slot_on_or_after(sd, rec.link_until))
    return stop


def slots_for(rec: Records, grid: Grid, *, window: int | None, spell: bool) -> tuple[
        np.ndarray, np.ndarray]:
    """Return the slot interval ``[first, stop)`` in which each record counts."""
    return first_slots(rec, grid), stop_slots(rec, grid, window=window, spell=spell)


def _cumulative(slot: np.ndarray, cidx: np.ndarray, grid: Grid,
                weights: np.ndarray | None) -> np.ndarray:
    """Sum additions at ``(cidx, slot)`` cumulatively over slots (slot ``n_slots`` dropped).

    Accumulates in slot-major layout (adding whole rows is fast) and returns the
    transposed view, shape (n_children, n_slots).
    """
    n = grid.n_children
    counts = np.bincount(slot.astype(np.int64) * n + cidx, weights=weights,
                         minlength=(grid.n_slots + 1) * n)
    dense = counts.reshape(grid.n_slots + 1, n)[: grid.n_slots]
    np.add.accumulate(dense, axis=0, out=dense)
    return dense.T


def interval_sum(cidx: np.ndarray, first: np.ndarray, stop: np.ndarray, grid: Grid,
                 weights: np.ndarray | None = None, *,
                 started: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``weights`` (1 by default) over records whose interval covers each slot.

    A record adds at ``first`` and takes away again at ``max(first, stop)``, so an
    empty interval cancels out without filtering. ``started`` (the running sum of
    the additions, from :func:`started_sum`) can be shared by several windows of
    the same records.

    Returns
    -------
    ndarray, shape (n_children, n_slots)
    """
    if started is None:
        started = _cumulative(first, cidx, grid, weights)
    return started - _cumulative(np.maximum(first, stop), cidx, grid, weights)


def started_sum(cidx: np.ndarray, first: np.ndarray, grid: Grid,
                weights: np.ndarray | None = None) -> np.ndarray:
    """Return the running sum of :func:`interval_sum`'s additions (shared across windows)."""
    return _cumulative(first, cidx, grid, weights)


def interval_count(cidx: np.ndarray, first: np.ndarray, stop: np.ndarray,
                   grid: Grid) -> np.ndarray:
    """Count records whose interval covers each slot, shape (n_children, n_slots)."""
    return interval_sum(cidx, first, stop, grid)


def interval_max(cidx: np.ndarray, first: np.ndarray, stop: np.ndarray, grid: Grid,
                 values: np.ndarray) -> np.ndarray:
    """Maximum of ``values`` over records whose interval covers each slot (NaN if none).

    Returns
    -------
    ndarray of float64, shape (n_children, n_slots)
    """
    n = grid.n_slots
    out = np.full(grid.n_children * n, -np.inf)
    keep = first < stop
    cidx, first, stop, values = cidx[keep], first[keep], stop[keep], values[keep]
    if len(cidx) and np.all(stop == n):
        # every interval runs to the last slot: max at its first slot, then a running max
        np.maximum.at(out, cidx * n + first, values)
        out = np.maximum.accumulate(out.reshape(grid.n_children, n), axis=1).ravel()
    elif len(cidx):
        lengths = (stop - first).astype(np.int64)
        rows = np.repeat(np.arange(len(cidx)), lengths)
        starts = np.cumsum(lengths) - lengths
        offset = np.arange(len(rows)) - np.repeat(starts, lengths)
        np.maximum.at(out, cidx[rows] * n + first[rows] + offset, values[rows])
    out[np.isneginf(out)] = np.nan
    return out.reshape(grid.n_children, n)
