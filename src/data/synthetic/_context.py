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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from earlywarning.data.schema import get_table
from earlywarning.data.synthetic._columns import (
    arrow_strings,
    code_of,
    encode,
    isin,
    lexsort,
    lookup,
    make_frame,
    obj,
    sequential_ids,
    string_array,
    take_strings,
    to_days,
)

__all__ = [
    "AREA_NAMES",
    "AncillaryContext",
    "arrow_strings",
    "code_of",
    "encode",
    "isin",
    "build_context",
    "lsoa_area_index",
    "make_frame",
    "n_areas_for",
    "obj",
    "sequential_ids",
    "string_array",
    "to_days",
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
    index = lsoa_codes.index if isinstance(lsoa_codes, pd.Series) else None
    code, uniq = encode(lsoa_codes)
    uniq = uniq.to_numpy(zero_copy_only=False).astype(str)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(uniq, kind="stable")] = np.arange(len(uniq))
    area = (rank * n_areas) // max(len(uniq), 1)
    out = pd.Series(np.where(code >= 0, area[np.maximum(code, 0)] if len(area) else 0, 0),
                    index=index, dtype="Int64")
    return out.where(code >= 0)


def _hash_index(values: np.ndarray, n: int) -> np.ndarray:
    """Stable (run-to-run) bucket 0..n-1 for each value."""
    arr = np.asarray(values, dtype=object).astype(str)
    return (pd.util.hash_array(arr) % np.uint64(n)).astype(np.int64)


@dataclass
class AncillaryContext:
    """What the ancillary builders need to know about the core tables.

    People and families are handled through integer codes (positions in
    :attr:`person_index` and :attr:`family_index`) so that lookups over
    millions of rows stay fast.

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
    person_index, family_index : pandas.Index
        Person ids of ``ssd_person`` (in its order) and family ids.
    person_family : numpy.ndarray
        Family code of each person's current household (-1: none).
    family_area : numpy.ndarray
        Area of each family.
    person_area : numpy.ndarray
        Area of each person (the family's, else their own address's).
    """

    tables: dict[str, pd.DataFrame]
    extract_date: np.datetime64
    period_start: np.datetime64
    la_name: str
    la_slug: str
    area_names: list[str]
    person_index: pd.Index
    family_index: pd.Index
    person_family: np.ndarray
    family_area: np.ndarray
    person_area: np.ndarray
    _codes: dict = field(default_factory=dict, repr=False)
    _person_pa: pa.Array = field(default=None, repr=False)
    _family_pa: pa.Array = field(default=None, repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """Return core table ``name``, or an empty one with its declared columns."""
        df = self.tables.get(name)
        cols = get_table(name).column_names
        if df is None:
            return make_frame(name, {}, 0)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            df = df.assign(**{c: pd.Series(None, index=df.index, dtype=object) for c in missing})
        return df

    @property
    def extract_ts(self) -> np.datetime64:
        """Last instant of the extract day, as ``datetime64[ns]``."""
        return self.extract_date.astype("datetime64[ns]") + np.timedelta64(_NS_PER_DAY - 1, "ns")

    def person_codes(self, person_ids: object) -> np.ndarray:
        """Return the position of each id in ``ssd_person`` (-1 if absent)."""
        return lookup(self._person_pa, [arrow_strings(person_ids)])[0]

    def lookup_all(self, columns: list[tuple[str, str]]) -> None:
        """Look up the person codes of many ``(table, column)`` at once (one hash table)."""
        todo = [(t, c) for t, c in columns if (t, c) not in self._codes and t in self.tables]
        found = lookup(self._person_pa, [arrow_strings(self.table(t)[c]) for t, c in todo])
        self._codes.update(dict(zip(todo, found, strict=True)))

    def codes(self, table: str, column: str) -> np.ndarray:
        """Return the person codes of ``table.column`` (looked up once, then cached)."""
        key = (table, column)
        if key not in self._codes:
            self._codes[key] = self.person_codes(self.table(table)[column])
        return self._codes[key]

    def family_of(self, codes: np.ndarray) -> np.ndarray:
        """Return the current family code of each person code (-1 if none or unknown)."""
        codes = np.asarray(codes, dtype=np.int64)
        if not len(self.person_family):
            return np.full(len(codes), -1, dtype=np.int64)
        return np.where(codes >= 0, self.person_family[np.maximum(codes, 0)], -1)

    def area_of(self, codes: np.ndarray) -> np.ndarray:
        """Return the area of each person code (area 0 for unknown people)."""
        codes = np.asarray(codes, dtype=np.int64)
        if not len(self.person_area):
            return np.zeros(len(codes), dtype=np.int64)
        return np.where(codes >= 0, self.person_area[np.maximum(codes, 0)], 0)

    def person_ids(self, codes: np.ndarray) -> pa.Array:
        """Return the person ids of ``codes`` as an Arrow string array (null for -1)."""
        return take_strings(self._person_pa, codes)

    def family_ids(self, family_codes: np.ndarray) -> pa.Array:
        """Return the family ids of ``family_codes`` as an Arrow string array (null for -1)."""
        return take_strings(self._family_pa, family_codes)


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

    person = tables.get("ssd_person")
    person = person if person is not None else make_frame("ssd_person", {}, 0)
    n_children = int(_config_value(config, ("children",),
                                   isin(person["pers_is_child"], ["Y"]).sum()))
    n_areas = int(_config_value(config, ("n_areas",), n_areas_for(n_children)))
    if not 1 <= n_areas <= len(AREA_NAMES):
        raise ValueError(f"synthetic config: n_areas = {n_areas}: must be 1-{len(AREA_NAMES)}")
    # Arrow-backed string indexes: no Python string object per person or family
    person_index = pd.Index(string_array(person["pers_person_id"]))
    ctx = AncillaryContext(tables, extract, period_start, la_name, la_slug,
                           list(AREA_NAMES[:n_areas]), person_index, pd.Index([], dtype="str"),
                           np.full(len(person_index), -1), np.zeros(0, np.int64),
                           np.zeros(len(person_index), np.int64))

    # each person's current family: the household membership with the latest start
    ctx._person_pa = arrow_strings(person["pers_person_id"])
    ctx.lookup_all([(name, c.name) for name in tables if name in _declared()
                    for c in get_table(name).columns
                    if c.references == "ssd_person.pers_person_id"])
    fam = ctx.table("ssd_family")
    f_person = ctx.codes("ssd_family", "fami_person_id")
    f_code, family_index = encode(fam["fami_family_id"])
    f_start = to_days(fam["fami_start_date"]).astype(np.int64)
    order = lexsort((f_start, f_person))
    ok = f_person[order] >= 0
    person_family = np.full(len(person_index), -1, dtype=np.int64)
    person_family[f_person[order][ok]] = f_code[order][ok]  # later starts overwrite earlier
    ctx.family_index = pd.Index(string_array(family_index))
    ctx._family_pa = family_index.cast(pa.large_string())
    ctx.person_family = person_family

    # each family's area: the LSOA of its members' most recent address
    addr = ctx.table("ssd_address")
    a_person = ctx.codes("ssd_address", "addr_person_id")
    a_area = lsoa_area_index(addr["addr_lsoa_code"], n_areas).to_numpy(dtype="float64",
                                                                       na_value=np.nan)
    a_start = to_days(addr["addr_address_start_date"]).astype(np.int64)
    good = (a_person >= 0) & ~np.isnan(a_area)
    a_person, a_area, a_start = a_person[good], a_area[good].astype(np.int64), a_start[good]
    order = lexsort((a_start,))
    n_fam = len(ctx.family_index)
    family_area = np.full(n_fam, -1, dtype=np.int64)
    a_family = person_family[a_person]
    has_fam = a_family[order] >= 0
    family_area[a_family[order][has_fam]] = a_area[order][has_fam]
    no_addr = family_area < 0
    family_area[no_addr] = _hash_index(obj(ctx.family_index[no_addr]), n_areas)
    ctx.family_area = family_area

    own_area = np.full(len(person_index), -1, dtype=np.int64)
    own_area[a_person[order]] = a_area[order]
    area = np.where(person_family >= 0, family_area[np.maximum(person_family, 0)]
                    if n_fam else -1, own_area)
    lost = area < 0
    area[lost] = _hash_index(obj(person_index[lost]), n_areas)
    ctx.person_area = area
    return ctx
