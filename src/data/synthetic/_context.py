"""Shared context for the ancillary tables: dates, the LA's name, and who lives where.

The ancillary builders (workforce, service involvement, family voice,
identity, source metadata) all need the same few facts about the core tables:
the extract date, each person's current family, and each family's area. They
are worked out once here, vectorised, and handed around in an
:class:`AncillaryContext`.

Areas: the LA is split into 3-6 areas (by size). An LSOA belongs to one area
(sorted LSOA codes cut into equal runs, see :func:`lsoa_area_index`), and a
family belongs to the area of the LSOA of its members' most recent address, so
that every team, allocation and note about one family sits in one area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from earlywarning.data.schema import get_table

__all__ = [
    "AREA_NAMES",
    "AncillaryContext",
    "build_context",
    "lsoa_area_index",
    "make_frame",
    "n_areas_for",
]

AREA_NAMES = ("North", "South", "Central", "East", "West", "Riverside")
"""Area names, used in order: a 4-area LA has North, South, Central and East."""

_NS_PER_DAY = 86_400 * 10**9


def n_areas_for(n_children: int) -> int:
    """Choose the number of areas (3 to 6) for an LA with ``n_children`` children.

    Parameters
    ----------
    n_children : int
        Children in the LA's records.

    Returns
    -------
    int
        3 up to 15,000 children, 4 up to 40,000, 5 up to 120,000, else 6.
    """
    return int(np.searchsorted([15_000, 40_000, 120_000], n_children, side="left") + 3)


def lsoa_area_index(lsoa_codes: pd.Series, n_areas: int) -> pd.Series:
    """Map each LSOA code to an area index 0..n_areas-1.

    Sorted distinct codes are cut into ``n_areas`` runs of (nearly) equal
    length, so neighbouring codes share an area and the mapping depends only on
    the set of codes present.

    Parameters
    ----------
    lsoa_codes : pandas.Series
        LSOA codes (nulls allowed).
    n_areas : int
        Number of areas.

    Returns
    -------
    pandas.Series
        Area index (Int64, null where the code is null), same index as the input.
    """
    codes = pd.Series(lsoa_codes, dtype=object)
    uniq = np.sort(codes.dropna().unique().astype(str))
    rank = np.searchsorted(uniq, codes.fillna("").astype(str).to_numpy())
    idx = (rank * n_areas) // max(len(uniq), 1)
    return pd.Series(idx, index=codes.index, dtype="Int64").where(codes.notna())


def _hash_index(values: pd.Series, n: int) -> np.ndarray:
    """Stable (run-to-run) bucket 0..n-1 for each value."""
    return (pd.util.hash_array(values.astype(str).to_numpy()) % np.uint64(n)).astype(np.int64)


def make_frame(table_name: str, data: dict[str, object], n: int) -> pd.DataFrame:
    """Build a table with exactly the columns of ``schema.py``, typed.

    Parameters
    ----------
    table_name : str
        Declared table name.
    data : dict
        Column name to array-like of length ``n``; columns left out are null.
    n : int
        Number of rows.

    Returns
    -------
    pandas.DataFrame
        Columns in canonical order: strings as ``string``, dates and
        timestamps as ``datetime64[ns]``, ints as ``Int64``, floats as ``float64``.

    Raises
    ------
    KeyError
        If ``data`` names a column the table does not have.
    """
    table = get_table(table_name)
    unknown = set(data) - set(table.column_names)
    if unknown:
        raise KeyError(f"table {table_name} has no columns {sorted(unknown)}")
    out = {}
    for col in table.columns:
        v = data.get(col.name)
        if v is None:
            v = np.full(n, None, dtype=object)
        if col.dtype in ("string", "json"):
            out[col.name] = pd.array(np.asarray(v, dtype=object), dtype="string")
        elif col.dtype in ("date", "timestamp"):
            s = pd.Series(pd.to_datetime(np.asarray(v)) if len(v) else [], dtype="datetime64[ns]")
            out[col.name] = (s.dt.normalize() if col.dtype == "date" else s).to_numpy()
        elif col.dtype == "int":
            out[col.name] = pd.array(pd.Series(v, dtype="Float64").round(), dtype="Int64")
        else:
            out[col.name] = np.asarray(v, dtype=np.float64)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def to_days(values: object) -> np.ndarray:
    """Dates as ``datetime64[D]`` (NaT where missing)."""
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]")


@dataclass
class AncillaryContext:
    """What the ancillary builders need to know about the core tables.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        The core tables (missing ones read as empty, see :meth:`table`).
    extract_date : numpy.datetime64
        Day of the extract (the config's end date): nothing happens after it.
    period_start : numpy.datetime64
        First day the extracts cover.
    la_name, la_slug : str
        Display name of the (fictional) LA and its lower-case slug for emails.
    area_names : list of str
        One name per area.
    person_family : pandas.Series
        Person id to current family id (latest household membership).
    family_area : pandas.Series
        Family id to area index.
    person_area : pandas.Series
        Person id to area index (the family's, else their own address's).
    """

    tables: dict[str, pd.DataFrame]
    extract_date: np.datetime64
    period_start: np.datetime64
    la_name: str
    la_slug: str
    area_names: list[str]
    person_family: pd.Series
    family_area: pd.Series
    person_area: pd.Series

    def table(self, name: str) -> pd.DataFrame:
        """Return core table ``name``, or an empty one with its declared columns."""
        df = self.tables.get(name)
        cols = get_table(name).column_names
        if df is None:
            return make_frame(name, {}, 0)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            df = df.assign(**{c: pd.Series(pd.NA, index=df.index, dtype=object) for c in missing})
        return df

    @property
    def extract_ts(self) -> np.datetime64:
        """Last instant of the extract day, as ``datetime64[ns]``."""
        return self.extract_date.astype("datetime64[ns]") + np.timedelta64(_NS_PER_DAY - 1, "ns")


def _config_value(config: object, names: tuple[str, ...], default: object = None) -> object:
    for name in names:
        v = getattr(config, name, None)
        if v is not None:
            return v
    return default


def _extract_date(config: object, tables: dict[str, pd.DataFrame]) -> np.datetime64:
    v = _config_value(config, ("end_date", "extract_date", "end"))
    if v is not None:
        return np.datetime64(pd.Timestamp(v).date(), "D")
    latest = []
    for name, df in tables.items():
        rec = get_table(name).recorded_at if name in _declared() else None
        if rec and rec in df.columns and len(df):
            latest.append(pd.to_datetime(df[rec]).max())
    latest = [x for x in latest if pd.notna(x)]
    if not latest:
        raise ValueError(
            "synthetic config: no end_date given and no recorded_at dates in the core tables "
            "to infer the extract date from"
        )
    return np.datetime64(max(latest).date(), "D")


def _declared() -> set[str]:
    from earlywarning.data.schema import TABLES

    return set(TABLES)


def build_context(tables: dict[str, pd.DataFrame], config: object) -> AncillaryContext:
    """Work out dates, areas and each person's family from the core tables.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Core tables of the synthetic LA (any may be missing or empty).
    config : object
        Generator config; read with ``getattr``: ``end_date`` (extract date),
        ``start_date`` or ``years``, ``la_name``, ``n_areas``.

    Returns
    -------
    AncillaryContext
    """
    extract = _extract_date(config, tables)
    start = _config_value(config, ("start_date",))
    if start is not None:
        period_start = np.datetime64(pd.Timestamp(start).date(), "D")
    else:
        years = int(_config_value(config, ("years",), 10))
        period_start = np.datetime64((pd.Timestamp(extract) - pd.DateOffset(years=years)).date(),
                                     "D")
    la_name = str(_config_value(config, ("la_name",), "Ashvale"))
    la_slug = re.sub(r"[^a-z0-9]+", "", la_name.lower()) or "la"

    ctx = AncillaryContext(tables, extract, period_start, la_name, la_slug, [],
                           pd.Series(dtype=object), pd.Series(dtype="Int64"),
                           pd.Series(dtype="Int64"))
    person = ctx.table("ssd_person")
    n_children = int(_config_value(config, ("children",),
                                   (person["pers_is_child"].astype(object) == "Y").sum()))
    n_areas = int(_config_value(config, ("n_areas",), n_areas_for(n_children)))
    if not 1 <= n_areas <= len(AREA_NAMES):
        raise ValueError(f"synthetic config: n_areas = {n_areas}: must be 1-{len(AREA_NAMES)}")
    ctx.area_names = list(AREA_NAMES[:n_areas])

    fam = ctx.table("ssd_family")[["fami_person_id", "fami_family_id", "fami_start_date",
                                   "fami_table_id"]]
    fam = fam.sort_values(["fami_person_id", "fami_start_date", "fami_table_id"])
    latest = fam.drop_duplicates("fami_person_id", keep="last")
    ctx.person_family = pd.Series(latest["fami_family_id"].to_numpy(dtype=object),
                                  index=latest["fami_person_id"].to_numpy(dtype=object))

    addr = ctx.table("ssd_address")[["addr_person_id", "addr_address_start_date",
                                     "addr_table_id", "addr_lsoa_code"]]
    addr = addr[addr["addr_lsoa_code"].notna()]
    addr_area = lsoa_area_index(addr["addr_lsoa_code"], n_areas)
    addr = addr.assign(area=addr_area.to_numpy(),
                       family=addr["addr_person_id"].map(ctx.person_family).to_numpy())
    addr = addr.sort_values(["addr_address_start_date", "addr_table_id"])
    fam_area = addr[addr["family"].notna()].drop_duplicates("family", keep="last")
    family_area = pd.Series(fam_area["area"].to_numpy(), index=fam_area["family"].to_numpy(),
                            dtype="Int64")
    all_families = pd.Index(fam["fami_family_id"].dropna().unique())
    no_addr = all_families.difference(family_area.index)
    family_area = pd.concat([
        family_area,
        pd.Series(_hash_index(pd.Series(no_addr), n_areas), index=no_addr, dtype="Int64"),
    ])
    ctx.family_area = family_area

    own = addr.drop_duplicates("addr_person_id", keep="last")
    own_area = pd.Series(own["area"].to_numpy(), index=own["addr_person_id"].to_numpy(),
                         dtype="Int64")
    pids = person["pers_person_id"].astype(object)
    area = pids.map(ctx.person_family).map(family_area)
    area = area.fillna(pids.map(own_area))
    fallback = pd.Series(_hash_index(pids, n_areas), index=pids.index)
    area = area.fillna(fallback).astype(np.int64)
    ctx.person_area = pd.Series(area.to_numpy(), index=pids.to_numpy())
    return ctx
