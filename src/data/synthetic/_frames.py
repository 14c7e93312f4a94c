"""Turning simulation arrays into schema-exact DataFrames: ids, dates, coverage, lags.

Causal model, part 6 (how records reach the platform)
-----------------------------------------------------
- **Coverage.** For each agency, a family is linked with probability
  ``agencies[a].coverage`` (times a coverage-gap multiplier for a chosen
  group), from ``linked_from_year`` years after the period start. Events of an
  unlinked family, or before the link, are not written; ``ext_source_coverage``
  says who is linked from when, so features can tell "no record" from "not seen".
- **Recording lag.** ``recorded_at = event date + lag`` with a log-normal lag of
  median ``agencies[a].lag_days_median`` days. A partner-agency row recorded
  after the end date is not yet in the extract and is dropped; children's
  social care rows recorded after it are stamped at the end of the end date.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyarrow as pa
from earlywarning.data.schema import get_table
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._timeline import NEVER, Timeline

__all__ = ["Agencies", "dates", "frame", "ids", "labels", "stamps", "yn"]

_NAT = np.datetime64("NaT", "ns").view(np.int64)
_EMPTY = {"string": "str", "json": "str", "date": "datetime64[ns]",
          "timestamp": "datetime64[ns]", "int": "Int64", "float": "float64"}


def ids(prefix: str, nums: np.ndarray, width: int = 7) -> pd.Series:
    """Fixed-width string ids ``prefix + zero-padded number`` built without Python loops.

    Numbers of more than ``width`` digits keep their last ``width``.
    """
    from earlywarning.data.synthetic._fake_identity import digit_strings

    return digit_strings(np.asarray(nums, dtype=np.int64), width, prefix).to_pandas()


def labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.Series:
    """Strings ``names[codes]`` as a pandas ``str`` Series (negative codes are null).

    Built through an Arrow dictionary array, much faster than converting an
    array of Python strings.
    """
    codes = np.asarray(codes)
    idx = pa.array(codes.astype(np.int32), mask=codes < 0)
    arr = pa.DictionaryArray.from_arrays(idx, pa.array(list(names), type=pa.string()))
    return arr.cast(pa.string()).to_pandas()


def yn(mask: np.ndarray) -> pd.Series:
    """``"Y"``/``"N"`` strings for a boolean array."""
    return labels(("N", "Y"), np.asarray(mask).astype(np.int8))


def dates(days: np.ndarray) -> np.ndarray:
    """Day numbers to ``datetime64[ns]``; ``NEVER`` (or more) becomes ``NaT``."""
    days = np.asarray(days, dtype=np.int64)
    # one pass: nanoseconds since 1970, with NaT's integer where there is no date
    ns = np.where(days >= NEVER, _NAT, days * np.int64(86_400 * 10**9))
    return ns.view("datetime64[ns]")


def stamps(seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970 to ``datetime64[ns]``."""
    return (np.asarray(seconds, dtype=np.int64) * np.int64(10**9)).view("datetime64[ns]")


def _strings(values) -> pd.Series:  # noqa: ANN001
    """Return a pandas ``str`` Series of an array, without a Python object per row if possible.

    Short fixed-width strings (codes such as ``"Y"``, ``"01"``) are factorised
    through an integer view of their bytes; object arrays go through Arrow.
    """
    a = np.asarray(values)
    if a.dtype.kind == "U" and a.dtype.itemsize in (4, 8) and len(a):
        codes, uniq = pd.factorize(a.view(np.uint32 if a.dtype.itemsize == 4 else np.uint64))
        return labels(np.asarray(uniq).view(a.dtype).tolist(), codes)
    if a.dtype == object:
        try:
            return pa.array(a, type=pa.string(), from_pandas=True).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pd.Series(a, dtype="str")


def frame(table: str, cols: dict) -> pd.DataFrame:
    """Return a DataFrame with exactly the columns of ``table`` in schema order.

    Columns not given are all-null of the schema's type.

    Raises
    ------
    KeyError
        If ``cols`` names a column the table does not declare.
    """
    t = get_table(table)
    names = t.column_names
    unknown = sorted(set(cols) - set(names))
    if unknown:
        raise KeyError(f"{table}: generator wrote undeclared columns {unknown}")
    n = len(next(iter(cols.values()))) if cols else 0
    data = {}
    for c in t.columns:
        if c.name in cols:
            v = cols[c.name]
            if c.dtype == "int":
                v = pd.array(np.asarray(v), dtype="Int64")
            elif c.dtype in ("string", "json") and not isinstance(v, pd.Series):
                v = _strings(v)
            data[c.name] = v.reset_index(drop=True) if isinstance(v, pd.Series) else v
        else:
            data[c.name] = pd.Series([None] * n, dtype=_EMPTY[c.dtype]) if n else pd.Series(
                [], dtype=_EMPTY[c.dtype])
    return pd.DataFrame(data, columns=names)


class Agencies:
    """Coverage and recording lag of each agency for this LA.

    Which families each agency links is drawn once, here. Recording lags are
    drawn by :meth:`observe` from ``rng``; each table builder observes through
    its own :meth:`fork`, so builders may run in any order, or at once, and
    draw the same lags.
    """

    def __init__(self, cfg: SyntheticConfig, tl: Timeline, fam_groups: dict[str, np.ndarray],
                 n_families: int, rng: np.random.Generator) -> None:
        self.cfg, self.tl, self.rng = cfg, tl, rng
        self.linked: dict[str, np.ndarray] = {}
        self.from_day: dict[str, int] = {}
        for name in sorted(cfg.agencies):
            a = cfg.agencies[name]
            cov = np.full(n_families, a.coverage, dtype=np.float32)
            for gap in cfg.bias.coverage_gaps:
                if gap.source == name:
                    cov[fam_groups[gap.group.model_dump_json()]] *= gap.coverage_multiplier
            self.linked[name] = rng.random(n_families, dtype=np.float32) < cov
            self.from_day[name] = tl.period_start + int(round(a.linked_from_year * 365.25))
        self.end_sec = (tl.end + 1) * 86400 - 1

    def fork(self, key: int) -> Agencies:
        """Return the same agencies with recording lags drawn from stream ``key`` of the seed.

        The copy shares the coverage draws (read-only); its lags come from
        ``default_rng([seed, 5, key])``, independent of every other fork's.
        ``key`` starts at 1 (a trailing 0 would give the parent's own stream).
        """
        if key < 1:
            raise ValueError(f"fork key {key}: use 1 or more")
        twin = copy.copy(self)
        twin.rng = np.random.default_rng([self.cfg.seed, 5, key])
        return twin

    def observe(self, agency: str, fam: np.ndarray, day: np.ndarray,
                csc: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Which rows the platform holds, and when each was recorded.

        Parameters
        ----------
        agency : str
            Agency code.
        fam : numpy.ndarray
            Family index of each row (``-1`` for people without a family: always linked).
        day : numpy.ndarray
            Event day (the day the lag runs from).
        csc : bool
            Children's social care rows are always kept; late ones are stamped at
            the end of the end date.

        Returns
        -------
        keep : numpy.ndarray of bool
        recorded_at : numpy.ndarray of datetime64[ns]
            For the kept rows only.
        """
        a = self.cfg.agencies[agency]
        n = len(day)
        lag = a.lag_days_median * np.exp(a.lag_sigma * self.rng.standard_normal(n))
        sec = day.astype(np.int64) * 86400 + (lag * 86400).astype(np.int64)
        sec += self.rng.integers(8 * 3600, 18 * 3600, n)
        if csc:
            keep = np.ones(n, bool)
            sec = np.minimum(sec, self.end_sec)
            sec = np.maximum(sec, day.astype(np.int64) * 86400)
        else:
            linked = np.where(fam >= 0, self.linked[agency][np.maximum(fam, 0)], True)
            keep = linked & (day >= self.from_day[agency]) & (sec <= self.end_sec)
        return keep, stamps(sec[keep])

    def coverage_rows(self, fam_start: np.ndarray) -> dict[str, np.ndarray]:
        """Rows of ``ext_source_coverage``: every linked family and agency from the link date.

        Rows come in order of family, then agency (``src`` indexes ``names``, the
        agencies sorted): read off a family-by-agency matrix, with no sort.
        """
        names = sorted(self.cfg.agencies)
        flat = np.flatnonzero(np.stack([self.linked[name] for name in names], axis=1))
        fam = flat // len(names)
        src = (flat - fam * len(names)).astype(np.int16)
        from_day = np.array([self.from_day[name] for name in names], dtype=np.int64)
        start = np.maximum(from_day[src], np.minimum(fam_start, self.tl.end)[fam])
        return {"fam": fam, "src": src, "start": start, "names": names}
