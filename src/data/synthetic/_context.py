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
import pyarrow.compute as pc
from earlywarning.data.schema import get_table

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


def obj(values: object) -> np.ndarray:
    """Values as a numpy object array (fast for Arrow-backed strings; nulls stay null)."""
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def sequential_ids(prefix: str, n: int, width: int) -> pa.Array:
    """Ids ``prefix`` + zero-padded 1..n, e.g. ``INV00000001``, as an Arrow string array."""
    from earlywarning.data.synthetic._fake_identity import digit_strings

    return digit_strings(np.arange(1, n + 1, dtype=np.int64), width, prefix)


def string_array(values: object) -> pd.api.extensions.ExtensionArray:
    """Build a pandas ``string`` array quickly through Arrow (None and NaN become null)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return pd.arrays.ArrowStringArray(values.cast(pa.string()))
    arr = obj(values)
    return pd.arrays.ArrowStringArray(pa.array(arr, type=pa.string(), from_pandas=True))


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
        if len(v) != n:
            raise ValueError(f"table {table_name}: column {col.name} has {len(v)} values, "
                             f"expected {n}")
        if col.dtype in ("string", "json"):
            out[col.name] = string_array(v)
        elif col.dtype in ("date", "timestamp"):
            d = np.asarray(v)
            d = d.astype("datetime64[ns]") if d.dtype.kind == "M" else pd.to_datetime(
                pd.Series(d, dtype=object)).to_numpy("datetime64[ns]")
            out[col.name] = d.astype("datetime64[D]").astype("datetime64[ns]") if (
                col.dtype == "date") else d
        elif col.dtype == "int":
            out[col.name] = pd.array(pd.Series(v, dtype="Float64").round(), dtype="Int64")
        else:
            out[col.name] = np.asarray(v, dtype=np.float64)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def to_days(values: object) -> np.ndarray:
    """Dates as ``datetime64[D]`` (NaT where missing)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]")


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
        return _lookup(self._person_pa, [arrow_strings(person_ids)])[0]

    def lookup_all(self, columns: list[tuple[str, str]]) -> None:
        """Look up the person codes of many ``(table, column)`` at once (one hash table)."""
        todo = [(t, c) for t, c in columns if (t, c) not in self._codes and t in self.tables]
        found = _lookup(self._person_pa, [arrow_strings(self.table(t)[c]) for t, c in todo])
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
        return _take(self._person_pa, codes)

    def family_ids(self, family_codes: np.ndarray) -> pa.Array:
        """Return the family ids of ``family_codes`` as an Arrow string array (null for -1)."""
        return _take(self._family_pa, family_codes)


def arrow_strings(values: object) -> pa.Array:
    """Return ``values`` as an Arrow large-string array (zero-copy when already Arrow)."""
    if isinstance(values, pd.Series | pd.Index) and values.dtype != object:
        try:
            arr = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array(obj(values), type=pa.large_string(), from_pandas=True)
    else:
        arr = pa.array(obj(values), type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _lookup(keys: pa.Array, queries: list[pa.Array]) -> list[np.ndarray]:
    """Position of each query value in ``keys`` (unique), -1 when absent or null.

    One Arrow dictionary encoding over the keys followed by every query: the
    keys take codes 0..len(keys)-1 in order (first occurrence), so a query's
    code is its position.
    """
    if not queries:
        return []
    if not len(keys):
        return [np.full(len(q), -1, dtype=np.int64) for q in queries]
    fast = _numbered_lookup(keys, queries)
    if fast is not None:
        return fast
    enc = pa.concat_arrays([keys, *queries]).dictionary_encode()
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    idx = np.where(idx < len(keys), idx, -1)
    bounds = np.cumsum([len(keys), *(len(q) for q in queries)])
    return [idx[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


_DENSE_LIMIT = 50_000_000


def _numbered_lookup(keys: pa.Array, queries: list[pa.Array]) -> list[np.ndarray] | None:
    """Fast path for ids like ``P0012345`` (same prefix, fixed-width digits): parse the numbers.

    Returns None when the keys do not all follow one such pattern, are not
    unique, or are too large to index densely; the caller then hashes the strings.
    """
    first = keys[0].as_py()
    if first is None:
        return None
    digits = len(first) - len(first.rstrip("0123456789"))
    prefix, width = first[: len(first) - digits], len(first)
    if digits == 0 or digits > 15:
        return None

    def numbers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
        fixed = _fixed_width_numbers(arr, prefix, width)
        if fixed is not None:
            return fixed
        ok = pc.and_(pc.equal(pc.binary_length(arr), width), pc.starts_with(arr, prefix))
        ok = ok.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        tail = pc.utf8_slice_codeunits(pc.if_else(pa.array(ok), arr, prefix + "0" * digits),
                                       len(prefix))
        try:
            num = pc.cast(tail, pa.int64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return num, ok

    parsed = numbers(keys)
    if parsed is None or not parsed[1].all() or parsed[0].max() >= _DENSE_LIMIT:
        return None
    key_num = parsed[0]
    position = np.full(int(key_num.max()) + 1, -1, dtype=np.int64)
    position[key_num] = np.arange(len(key_num))
    if (position >= 0).sum() != len(key_num):
        return None  # duplicate keys
    out = []
    for q in queries:
        got = numbers(q) if len(q) else (np.zeros(0, np.int64), np.zeros(0, bool))
        if got is None:
            return None
        num, ok = got
        inside = ok & (num < len(position))
        out.append(np.where(inside, position[np.where(inside, num, 0)], -1))
    return out


def _fixed_width_numbers(arr: pa.Array, prefix: str, width: int
                         ) -> tuple[np.ndarray, np.ndarray] | None:
    """Read ``prefix`` + digits straight from the Arrow buffers when every value is ``width`` long.

    Returns the numbers and a mask of values that follow the pattern, or None
    when the array has nulls or values of other lengths (the caller falls back).
    """
    if arr.null_count or not len(arr):
        return None
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=off_type)[arr.offset: arr.offset + len(arr) + 1]
    if offsets[-1] - offsets[0] != width * len(arr) or not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]: offsets[-1]].reshape(-1, width)
    head = np.frombuffer(prefix.encode("utf-8"), dtype=np.uint8)
    ok = (data[:, : len(head)] == head).all(axis=1)
    num = np.zeros(len(arr), dtype=np.int64)
    for j in range(len(head), width):  # one pass per digit position
        digit = data[:, j].astype(np.int64) - ord("0")
        ok &= (digit >= 0) & (digit <= 9)
        num = num * 10 + digit
    return np.where(ok, num, 0), ok


def code_of(values: object, vocabulary: list[str] | tuple[str, ...]) -> np.ndarray:
    """Return the index of each value in ``vocabulary`` (-1 for other values and nulls)."""
    arr = arrow_strings(values)
    pos = pc.index_in(arr, value_set=pa.array(list(vocabulary), type=pa.large_string()))
    return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def isin(values: object, vocabulary: list[str] | tuple[str, ...]) -> np.ndarray:
    """Return whether each value is in ``vocabulary`` (nulls: False)."""
    return code_of(values, vocabulary) >= 0


def encode(values: object) -> tuple[np.ndarray, pa.Array]:
    """Dictionary-encode strings: codes (-1 for null) and the distinct values (first-seen order)."""
    enc = arrow_strings(values).dictionary_encode()
    return (enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64),
            enc.dictionary)


def _take(values: pa.Array, codes: np.ndarray) -> pa.Array:
    codes = np.asarray(codes, dtype=np.int64)
    if not len(values):
        return pa.nulls(len(codes), pa.large_string())
    return values.take(pa.array(np.maximum(codes, 0), mask=codes < 0))


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
    person_index = pd.Index(obj(person["pers_person_id"]), dtype=object)
    ctx = AncillaryContext(tables, extract, period_start, la_name, la_slug,
                           list(AREA_NAMES[:n_areas]), person_index, pd.Index([], dtype=object),
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
    order = np.lexsort((f_start, f_person))
    ok = f_person[order] >= 0
    person_family = np.full(len(person_index), -1, dtype=np.int64)
    person_family[f_person[order][ok]] = f_code[order][ok]  # later starts overwrite earlier
    ctx.family_index = pd.Index(family_index.to_numpy(zero_copy_only=False), dtype=object)
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
    order = np.argsort(a_start, kind="stable")
    n_fam = len(ctx.family_index)
    family_area = np.full(n_fam, -1, dtype=np.int64)
    a_family = person_family[a_person]
    has_fam = a_family[order] >= 0
    family_area[a_family[order][has_fam]] = a_area[order][has_fam]
    no_addr = family_area < 0
    family_area[no_addr] = _hash_index(obj(ctx.family_index)[no_addr], n_areas)
    ctx.family_area = family_area

    own_area = np.full(len(person_index), -1, dtype=np.int64)
    own_area[a_person[order]] = a_area[order]
    area = np.where(person_family >= 0, family_area[np.maximum(person_family, 0)]
                    if n_fam else -1, own_area)
    lost = area < 0
    area[lost] = _hash_index(obj(person_index)[lost], n_areas)
    ctx.person_area = area
    return ctx
