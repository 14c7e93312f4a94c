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

__all__ = ["Records", "Grid", "interval_count", "interval_sum", "interval_max", "slots_for"]


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
    """Columns of a spec query as numpy arrays (days since 1970-01-01)."""

    cidx: np.ndarray
    known_day: np.ndarray
    event_day: np.ndarray
    until_day: np.ndarray
    link_from: np.ndarray
    link_until: np.ndarray
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
            cidx=arr("cidx", np.int64), known_day=arr("known_day", np.int64),
            event_day=arr("event_day", np.int64), until_day=arr("until_day", np.int64),
            link_from=arr("link_from", np.int64), link_until=arr("link_until", np.int64),
            value=arr("value", np.float64), denom=arr("denom", np.float64),
        )

    def __len__(self) -> int:
        return int(len(self.cidx))


def slots_for(rec: Records, grid: Grid, *, window: int | None, spell: bool) -> tuple[
        np.ndarray, np.ndarray]:
    """Return the slot interval ``[first, stop)`` in which each record counts.

    Parameters
    ----------
    rec : Records
    grid : Grid
    window : int or None
        Window in days: the record stops counting at ``event_day + window``.
        ``None``: it counts for all later slots.
    spell : bool
        Count while the spell is open (stops at ``until_day``) instead of by window.

    Returns
    -------
    first, stop : ndarray of int32
    """
    sd = grid.slot_days
    first = np.maximum(first_slot_on_or_after(sd, rec.known_day),
                       first_slot_on_or_after(sd, rec.link_from))
    stop = first_slot_on_or_after(sd, rec.link_until)
    if spell:
        stop = np.minimum(stop, first_slot_on_or_after(sd, rec.until_day))
    elif window is not None:
        stop = np.minimum(stop, first_slot_on_or_after(sd, rec.event_day + window))
    return first, stop


def interval_sum(cidx: np.ndarray, first: np.ndarray, stop: np.ndarray, grid: Grid,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``weights`` (1 by default) over records whose interval covers each slot.

    Returns
    -------
    ndarray of float64, shape (n_children, n_slots)
    """
    keep = first < stop
    width = grid.n_slots + 1
    size = grid.n_children * width
    w = None if weights is None else weights[keep]
    base = cidx[keep] * width
    deltas = np.bincount(base + first[keep], weights=w, minlength=size).astype(np.float64)
    deltas -= np.bincount(base + stop[keep], weights=w, minlength=size)
    return np.cumsum(deltas.reshape(grid.n_children, width), axis=1)[:, : grid.n_slots]


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
