"""Run a spec's generated SQL and accumulate it into per-(child, slot) values."""

from __future__ import annotations

import duckdb
import numpy as np

from ._engine import (
    Grid,
    Records,
    first_slots,
    interval_max,
    interval_sum,
    started_sum,
    stop_slots,
)
from ._sql import spec_sql_text
from .specs import FeatureSpec, feature_column

__all__ = ["fetch_records", "compute_spec"]


def fetch_records(con: duckdb.DuckDBPyConnection, spec: FeatureSpec, *,
                  known_by: str = "recorded") -> Records:
    """Execute the spec's generated query and return its rows as arrays."""
    return Records.from_columns(con.execute(spec_sql_text(spec, known_by)).fetchnumpy())


def compute_spec(con: duckdb.DuckDBPyConnection, spec: FeatureSpec, grid: Grid, *,
                 known_by: str = "recorded", records: Records | None = None,
                 ) -> dict[str, np.ndarray]:
    """Values of every column of ``spec`` at every (child, slot).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection with the ``_children`` table registered.
    spec : FeatureSpec
    grid : Grid
    known_by : {"recorded", "event"}
    records : Records, optional
        Pre-fetched records (skips the query).

    Returns
    -------
    dict
        Column name -> float64 array of shape (n_children, n_slots); NaN where
        the value is missing (the spec's declared ``empty`` value is applied).
    """
    rec = records if records is not None else fetch_records(con, spec, known_by=known_by)
    agg = spec.aggregate
    spell = agg == "open"
    windows = (None,) if spell else (spec.windows or (None,))
    first = first_slots(rec, grid)
    started = started_sum(rec.cidx, first, grid) if agg in ("count", "any", "open") else None
    out: dict[str, np.ndarray] = {}
    for window in windows:
        stop = stop_slots(rec, grid, window=window, spell=spell)
        if agg in ("count", "any", "open"):
            v = interval_sum(rec.cidx, first, stop, grid, started=started)
            if agg == "any":
                v = (v > 0).astype(np.float64)
        elif agg == "sum":
            v = interval_sum(rec.cidx, first, stop, grid, rec.value)
        elif agg in ("mean", "ratio"):
            num = interval_sum(rec.cidx, first, stop, grid, rec.value)
            if agg == "mean":
                den = interval_sum(rec.cidx, first, stop, grid)
            else:
                den = interval_sum(rec.cidx, first, stop, grid, rec.denom)
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        elif agg == "max":
            v = interval_max(rec.cidx, first, stop, grid, rec.value)
        elif agg == "days_since_last":
            latest = interval_max(rec.cidx, first, stop, grid, rec.event_day.astype(np.float64))
            v = grid.slot_days[None, :].astype(np.float64) - latest
        else:  # pragma: no cover - the config model admits only the aggregates above
            raise ValueError(f"unknown aggregate {agg!r}")
        if spec.empty is not None and agg not in ("count", "any", "open", "sum"):
            v = np.where(np.isnan(v), spec.empty, v)
        out[feature_column(spec, window)] = v
    return out
