"""Data-quality defects for the loader to catch: the synthetic LA's dirty extracts.

Real extracts have missing and unknown codes, duplicated rows, end dates before
start dates, dates in the future or unreadable, and person ids that match
nobody. :func:`inject_defects` puts a set share of such defects into the
analytics tables and returns a log of every one, so that tests can check the
loader rejects (or quarantines) each of them with the right rule.

One defect per corrupted row, so each logged row breaks exactly the rule it
names. Tables that other tables point at (``ssd_person``, CIN episodes,
assessments, s47 enquiries, professionals) are left clean: rejecting one of
their rows would orphan rows elsewhere and blur what the loader is tested on.
Restricted tables and ``ext_source_metadata`` are left clean too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from earlywarning.data.schema import TABLES, Column, Table

__all__ = [
    "BAD_DATE_BEFORE",
    "DEFECT_KINDS",
    "LOADER_RULE",
    "PROTECTED_TABLES",
    "bad_dates_as_text",
    "inject_defects",
]

DEFECT_KINDS = (
    "missing_code", "unknown_code", "duplicate_row", "end_before_start", "future_date",
    "orphan_person", "bad_date",
)  # fmt: skip
"""Kinds of defect, each named after the loader rule it breaks."""

LOADER_RULE = {
    "missing_code": "missing_value",
    "unknown_code": "unknown_code",
    "duplicate_row": "duplicate_key",
    "end_before_start": "end_before_start",
    "future_date": "future_date",
    "orphan_person": "orphan_reference",
    "bad_date": "wrong_type",
}
"""The loader rule (``earlywarning.data._validate``) expected to reject each kind.
For ``duplicate_row`` the loader keeps the first copy and rejects the second."""

BAD_DATE_BEFORE = pd.Timestamp("1900-01-01")
"""In typed (Parquet) output a bad date is a date before this; CSV output can
carry unparseable text instead (see :func:`bad_dates_as_text`)."""

PROTECTED_TABLES = frozenset(
    c.references.split(".")[0] for t in TABLES.values() for c in t.columns if c.references
)
"""Tables referenced by a foreign key: never corrupted (no cascading rejections)."""

_UNKNOWN_CODES = ("99", "UNK", "ZZ", "n/a", "X9", "?")
_BAD_DATE_TEXT = ("31/02/2019", "not known", "2019-13-45", "00/00/0000", "TBC")
_ORPHAN_PREFIX = "UNLINKED"


def _code_columns(t: Table, required_only: bool) -> list[Column]:
    req = set(t.required_columns)
    return [c for c in t.columns if c.codes and c.dtype != "json"
            and (not required_only or c.name in req)]


def _order_pairs(t: Table) -> list[tuple[str, str]]:
    req = set(t.required_columns)
    return [(s, e) for s, e in t.date_order if s in req]


def _future_column(t: Table) -> str | None:
    if t.event_date:
        return t.event_date
    dates = [c.name for c in t.columns if c.dtype == "date" and c.name in t.required_columns]
    return dates[0] if dates else None


def _person_columns(t: Table) -> list[str]:
    return [c.name for c in t.columns if c.references == "ssd_person.pers_person_id"]


def _required_dates(t: Table) -> list[str]:
    """List required dates except ends of pairs (an old end would also precede its start)."""
    ends = {e for _, e in t.date_order}
    return [c.name for c in t.columns
            if c.dtype == "date" and c.name in t.required_columns and c.name not in ends]


def _applicable(t: Table, kind: str) -> bool:
    return {
        "missing_code": bool(_code_columns(t, True)),
        "unknown_code": bool(_code_columns(t, False)),
        "duplicate_row": True,
        "end_before_start": bool(_order_pairs(t)),
        "future_date": _future_column(t) is not None,
        "orphan_person": bool(_person_columns(t)),
        "bad_date": bool(_required_dates(t)),
    }[kind]


def _keys(df: pd.DataFrame, t: Table, rows: np.ndarray) -> np.ndarray:
    parts = [df[k].iloc[rows].astype(str).to_numpy(dtype=object) for k in t.primary_key]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def _default_extract_date(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    meta = tables.get("ext_source_metadata")
    if meta is not None and len(meta):
        return pd.Timestamp(pd.to_datetime(meta["meta_extract_date"]).max()).normalize()
    latest = [pd.to_datetime(df[TABLES[name].recorded_at]).max()
              for name, df in tables.items()
              if name in TABLES and TABLES[name].recorded_at in df.columns and len(df)]
    latest = [x for x in latest if pd.notna(x)]
    if not latest:
        raise ValueError("inject_defects: no extract_date given and none found in "
                         "ext_source_metadata or any recorded_at column")
    return pd.Timestamp(max(latest)).normalize()


def _pick_columns(options: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    return np.array(options, dtype=object)[rng.integers(0, len(options), n)]


def _corrupt(
    df: pd.DataFrame, t: Table, kind: str, rows: np.ndarray, ctx: dict, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Apply one kind of defect to ``rows`` of ``df`` in place; return columns and extra rows."""
    n = len(rows)
    if kind == "duplicate_row":
        col = np.full(n, ",".join(t.primary_key), dtype=object)
        return col, df.iloc[rows].copy()
    if kind in ("missing_code", "unknown_code"):
        cols = [c.name for c in _code_columns(t, kind == "missing_code")]
        col = _pick_columns(cols, n, rng)
        for name in cols:
            hit = rows[col == name]
            if kind == "missing_code":
                df.loc[df.index[hit], name] = None
            else:
                allowed = set(t.column(name).codes or ())
                bad = [v for v in _UNKNOWN_CODES if v not in allowed]
                df.loc[df.index[hit], name] = np.array(bad, dtype=object)[
                    rng.integers(0, len(bad), len(hit))]
        return col, None
    if kind == "end_before_start":
        pairs = _order_pairs(t)
        which = rng.integers(0, len(pairs), n)
        col = np.empty(n, dtype=object)
        for i, (start, end) in enumerate(pairs):
            hit = rows[which == i]
            back = pd.to_timedelta(rng.integers(1, 366, len(hit)), unit="D")
            start_vals = pd.to_datetime(df[start].iloc[hit]).to_numpy()
            df.loc[df.index[hit], end] = start_vals - back.to_numpy()
            col[which == i] = end
        return col, None
    if kind == "future_date":
        name = _future_column(t)
        ahead = pd.to_timedelta(rng.integers(30, 366, n), unit="D").to_numpy()
        df.loc[df.index[rows], name] = np.datetime64(ctx["extract_date"]) + ahead
        for start, end in t.date_order:  # keep the row breaking only the future-date rule
            if start == name and end in df.columns:
                df.loc[df.index[rows], end] = None
        return np.full(n, name, dtype=object), None
    if kind == "orphan_person":
        cols = _person_columns(t)
        col = _pick_columns(cols, n, rng)
        ids = np.array([f"{_ORPHAN_PREFIX}{ctx['next_orphan'] + i:08d}" for i in range(n)],
                       dtype=object)
        ctx["next_orphan"] += n
        for name in cols:
            mask = col == name
            df.loc[df.index[rows[mask]], name] = ids[mask]
        return col, None
    if kind == "bad_date":
        cols = _required_dates(t)
        col = _pick_columns(cols, n, rng)
        old = np.datetime64("1800-01-01") + rng.integers(0, 36_000, n).astype("timedelta64[D]")
        for name in cols:
            mask = col == name
            df.loc[df.index[rows[mask]], name] = old[mask]
        return col, None
    raise ValueError(f"inject_defects: unknown defect kind {kind!r}; valid: {DEFECT_KINDS}")


def inject_defects(
    tables: dict[str, pd.DataFrame],
    rate: float,
    rng: np.random.Generator,
    kinds: list[str] | None = None,
    extract_date: object | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Corrupt a share ``rate`` of the rows of each analytics table, and log each defect.

    In every analytics table (not restricted, not referenced by a foreign key,
    not ``ext_source_metadata``) ``round(rate * rows)`` distinct rows get one
    defect each, of a kind drawn evenly from those of ``kinds`` that the table
    can have (a table without code columns gets no code defects...).

    - ``missing_code``: a required code column set to null;
    - ``unknown_code``: a code column set to a value outside its code list;
    - ``duplicate_row``: the row appended again (same primary key);
    - ``end_before_start``: an end date 1-365 days before its start;
    - ``future_date``: the event date 30-365 days after the extract date
      (its paired end date, if any, cleared);
    - ``orphan_person``: a person id that is in no ``ssd_person`` row;
    - ``bad_date``: a required date set before 1900 (typed output; see
      :func:`bad_dates_as_text` for CSV).

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The synthetic LA's tables; not modified.
    rate : float
        Share of rows to corrupt, 0 to 1.
    rng : numpy.random.Generator
        Source of randomness; the same state gives the same defects.
    kinds : list of str, optional
        Kinds to inject (default: all of :data:`DEFECT_KINDS`).
    extract_date : date-like, optional
        Reference for ``future_date``; default ``ext_source_metadata``'s
        extract date, else the latest ``recorded_at``.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        A new dict with corrupted copies of the changed tables.
    log : pandas.DataFrame
        One row per defect: ``table, key`` (primary key, ``|``-joined when
        composite), ``kind, column``.

    Raises
    ------
    ValueError
        If ``rate`` is outside [0, 1] or a kind is unknown.
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"inject_defects: rate = {rate}: must be between 0 and 1")
    kinds = list(DEFECT_KINDS if kinds is None else kinds)
    unknown = [k for k in kinds if k not in DEFECT_KINDS]
    if unknown:
        raise ValueError(f"inject_defects: unknown defect kinds {unknown}; valid: {DEFECT_KINDS}")
    ctx = {"extract_date": pd.Timestamp(extract_date if extract_date is not None
                                        else _default_extract_date(tables)).normalize(),
           "next_orphan": 1}
    person = tables.get("ssd_person")
    if person is not None and person["pers_person_id"].astype(str).str.startswith(
            _ORPHAN_PREFIX).any():
        raise ValueError(f"inject_defects: ssd_person ids start with {_ORPHAN_PREFIX!r}, which "
                         "is reserved for orphan ids")
    out = dict(tables)
    logs = []
    for name in TABLES:
        df = tables.get(name)
        if df is None:
            continue
        parts, log = _inject_table(name, df, rate, rng, kinds, ctx)
        if log is not None:
            logs.append(log)
            out[name] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out, _concat_logs(logs)


def inject_defects_parts(name: str, df: pd.DataFrame, rate: float, rng: np.random.Generator,
                         kinds: list[str], extract_date: object) -> tuple[list[pd.DataFrame],
                                                                          pd.DataFrame]:
    """Corrupt one table like :func:`inject_defects`, without copying it to append duplicates.

    Returns the corrupted rows in their order and, when any, the duplicated
    rows to write after them (a list of frames that together are the dirty
    table), and the defect log. The caller is trusted to pass valid ``kinds``
    and ``rate`` and a table whose person ids are not orphan-like.
    """
    ctx = {"extract_date": pd.Timestamp(extract_date).normalize(), "next_orphan": 1}
    parts, log = _inject_table(name, df, rate, rng, list(kinds), ctx)
    return parts, _concat_logs([] if log is None else [log])


def _concat_logs(logs: list[pd.DataFrame]) -> pd.DataFrame:
    return (pd.concat(logs, ignore_index=True) if logs
            else pd.DataFrame({c: pd.Series(dtype=object)
                               for c in ("table", "key", "kind", "column")}))


def _inject_table(name: str, df: pd.DataFrame, rate: float, rng: np.random.Generator,
                  kinds: list[str], ctx: dict) -> tuple[list[pd.DataFrame], pd.DataFrame | None]:
    """Return ``[corrupted, *duplicates]`` and the log (``None`` when untouched)."""
    t = TABLES.get(name)
    if (t is None or not len(df) or t.restricted or name in PROTECTED_TABLES
            or name == "ext_source_metadata"):
        return [df], None
    usable = [k for k in kinds if _applicable(t, k)]
    n_bad = int(round(rate * len(df)))
    if not usable or n_bad == 0:
        return [df], None
    # copy-on-write (pandas 3): only the columns corrupted below are copied
    df = df.reset_index(drop=True)
    rows = np.sort(rng.choice(len(df), n_bad, replace=False))
    kind_of = np.array(usable, dtype=object)[rng.integers(0, len(usable), n_bad)]
    extra, logs = [], []
    for kind in usable:
        sel = rows[kind_of == kind]
        if not len(sel):
            continue
        cols, added = _corrupt(df, t, kind, sel, ctx, rng)
        if added is not None:
            extra.append(added.reset_index(drop=True))
        logs.append(pd.DataFrame({"table": name, "key": _keys(df, t, sel), "kind": kind,
                                  "column": cols}))
    return [df, *extra], _concat_logs(logs)


def bad_dates_as_text(
    tables: dict[str, pd.DataFrame], log: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Turn logged ``bad_date`` cells into unparseable text, for CSV output.

    Each affected date column becomes text (``YYYY-MM-DD``) and the logged
    cells read, e.g., ``31/02/2019`` or ``not known``.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Tables returned by :func:`inject_defects`.
    log : pandas.DataFrame
        Its defect log.

    Returns
    -------
    dict of str to pandas.DataFrame
        A new dict with text date columns where bad dates were logged.
    """
    out = dict(tables)
    bad = log[log["kind"] == "bad_date"]
    for (name, column), group in bad.groupby(["table", "column"], sort=True):
        t = TABLES[name]
        df = out[name].copy()
        keys = _keys(df, t, np.arange(len(df)))
        hit = np.isin(keys, group["key"].to_numpy(dtype=object))
        text = pd.to_datetime(df[column]).dt.strftime("%Y-%m-%d").astype(object)
        text = text.where(df[column].notna(), None)
        idx = np.flatnonzero(hit)
        text.iloc[idx] = np.array(_BAD_DATE_TEXT, dtype=object)[np.arange(len(idx))
                                                               % len(_BAD_DATE_TEXT)]
        df[column] = text
        out[name] = df
    return out
