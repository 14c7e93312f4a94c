"""Column helpers for the ancillary tables: fast string columns through Arrow.

Tables of a million-child LA have tens of millions of string cells. Python
string objects are slow to build, hash and convert, so these helpers keep
strings in Arrow: ids are formatted straight into Arrow buffers, category
columns are matched with Arrow compute, and person ids are looked up in one
pass (parsing ``P0012345``-style numbers from the buffers when ids follow
that pattern, else one Arrow hash table for every column at once).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from earlywarning.data.schema import get_table

__all__ = [
    "KeyIndex",
    "arrow_strings",
    "code_of",
    "encode",
    "equal_codes",
    "isin",
    "lexsort",
    "lookup",
    "make_frame",
    "obj",
    "sequential_ids",
    "string_array",
    "take_strings",
    "to_days",
]


def obj(values: object) -> np.ndarray:
    """Values as a numpy object array (fast for Arrow-backed strings; nulls stay null)."""
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def lexsort(keys: tuple | list) -> np.ndarray:
    """``numpy.lexsort(keys)`` (last key primary, ties in input order), faster for integers.

    Integer and boolean keys whose ranges multiply to less than 2**62 are packed
    into one int64, least significant first. When the row number fits below
    them too, the packed keys are all distinct, so one plain (SIMD) sort of the
    values gives the order, and the row numbers are read back from them: about
    five times faster than a stable argsort on millions of rows. Otherwise the
    packed keys are argsorted stably; other keys go to ``numpy.lexsort``. Every
    path gives the same order as ``numpy.lexsort``.
    """
    arrs = [np.asarray(k) for k in keys]
    if not arrs or not len(arrs[0]) or any(a.dtype.kind not in "biu" for a in arrs):
        return np.lexsort(arrs)
    n = len(arrs[0])
    ranges = [(int(a.min()), int(a.max())) for a in arrs]
    width = math.prod(hi - lo + 1 for lo, hi in ranges)
    if width >= 2**62:
        return np.lexsort(arrs)
    with_row = width * n < 2**62
    span = n if with_row else 1
    packed = np.arange(n, dtype=np.int64) if with_row else np.zeros(n, dtype=np.int64)
    for a, (lo, hi) in zip(arrs, ranges, strict=True):  # least significant first
        packed += (a.astype(np.int64) - lo) * np.int64(span)
        span *= hi - lo + 1
    if not with_row:
        return np.argsort(packed, kind="stable")
    packed.sort()
    packed %= n
    return packed


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
    if isinstance(values, pd.Series) and values.dtype.kind == "M" and values.dt.tz is None:
        return values.to_numpy().astype("datetime64[D]")
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]")


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


def lookup(keys: pa.Array, queries: list[pa.Array]) -> list[np.ndarray]:
    """Return the position of each query value in ``keys`` (unique), -1 when absent or null."""
    return KeyIndex(keys).positions(queries)


_DENSE_LIMIT = 50_000_000


class KeyIndex:
    """Positions of unique string keys, built once and used for many query columns.

    Ids like ``P0012345`` (one prefix, fixed-width digits, as the generator
    makes them) are parsed, not hashed: a dense array maps each number to its
    key's position. Other keys (or a query that does not parse) fall back to one
    Arrow dictionary encoding of the keys followed by the queries, in which the
    keys take codes 0..len(keys)-1 in order, so a query's code is its position.

    Parameters
    ----------
    keys : pyarrow.Array
        Unique string keys.
    """

    def __init__(self, keys: pa.Array) -> None:
        self.keys = keys
        self._pattern: tuple[str, int] | None = None
        self._position: np.ndarray | None = None
        if len(keys):
            self._index_numbers()

    def _index_numbers(self) -> None:
        self._pattern = _numbered_pattern(self.keys)
        if self._pattern is None:
            return
        parsed = self._numbers(self.keys)
        if parsed is None or not parsed[1].all() or parsed[0].max() >= _DENSE_LIMIT:
            self._pattern = None
            return
        position = np.full(int(parsed[0].max()) + 1, -1, dtype=np.int64)
        position[parsed[0]] = np.arange(len(parsed[0]))
        if (position >= 0).sum() == len(parsed[0]):  # else duplicate keys: hash instead
            self._position = position
        else:
            self._pattern = None

    def _numbers(self, arr: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
        prefix, width = self._pattern
        fixed = _fixed_width_numbers(arr, prefix, width)
        if fixed is not None:
            return fixed
        digits = width - len(prefix)
        ok = pc.and_(pc.equal(pc.binary_length(arr), width), pc.starts_with(arr, prefix))
        ok = ok.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        tail = pc.utf8_slice_codeunits(pc.if_else(pa.array(ok), arr, prefix + "0" * digits),
                                       len(prefix))
        try:
            num = pc.cast(tail, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowException:
            return None
        return num, ok

    def positions(self, queries: list[pa.Array]) -> list[np.ndarray]:
        """Return the position of each value of each query in the keys (-1: absent or null)."""
        if not len(self.keys):
            return [np.full(len(q), -1, dtype=np.int64) for q in queries]
        out: list[np.ndarray | None] = []
        for q in queries:
            got = None
            if self._position is not None:
                got = (self._numbers(q) if len(q)
                       else (np.zeros(0, np.int64), np.zeros(0, bool)))
            if got is None:
                out.append(None)
                continue
            num, ok = got
            inside = ok & (num < len(self._position))
            out.append(np.where(inside, self._position[np.where(inside, num, 0)], -1))
        slow = [q for q, o in zip(queries, out, strict=True) if o is None]
        if slow:
            hashed = iter(self._hashed(slow))
            out = [next(hashed) if o is None else o for o in out]
        return out

    def _hashed(self, queries: list[pa.Array]) -> list[np.ndarray]:
        n = len(self.keys)
        enc = pa.concat_arrays([self.keys, *queries]).dictionary_encode()
        idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        # the keys' distinct values take the first codes; a repeated key maps to its first row
        u = int(idx[:n].max()) + 1
        first = np.full(u + 1, -1, dtype=np.int64)  # slot u: absent
        pos = np.flatnonzero(idx[:n] >= 0)[::-1]
        first[idx[pos]] = pos
        idx = first[np.where((idx >= 0) & (idx < u), idx, u)]
        bounds = np.cumsum([n, *(len(q) for q in queries)])
        return [idx[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def _numbered_pattern(arr: pa.Array) -> tuple[str, int] | None:
    """Return ``(prefix, width)`` if the first value looks like ``P0012345`` (else None)."""
    first = arr[0].as_py() if len(arr) else None
    if first is None:
        return None
    digits = len(first) - len(first.rstrip("0123456789"))
    if digits == 0 or digits > 15:
        return None
    return first[: len(first) - digits], len(first)


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
    if width <= 8:
        return _eight_bytes(data, bytes(head))
    ok = (data[:, : len(head)] == head).all(axis=1)
    num = np.zeros(len(arr), dtype=np.int64)
    for j in range(len(head), width):  # one pass per digit position
        digit = data[:, j].astype(np.int64) - ord("0")
        ok &= (digit >= 0) & (digit <= 9)
        num = num * 10 + digit
    return np.where(ok, num, 0), ok


def _eight_bytes(rows: np.ndarray, prefix: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse rows of ``prefix`` + digits, at most 8 bytes long, 8 bytes at a time (SWAR).

    Each row is right-aligned in 8 bytes padded with ``"0"`` (no copy when it is
    8 bytes long) and read as one little-endian ``uint64``, first byte lowest.
    The prefix's bytes are compared under a mask and then set to ``"0"``; a byte
    is a digit when its high nibble is 3 before and after adding 6; digits are
    then combined in pairs, fours and eights with one multiply each (10, 100
    and 10,000 times the higher-order half plus the lower). Returns the numbers
    (int64, 0 where a row does not parse) and a mask of rows that parse.
    """
    n, width = rows.shape
    if width == 8:
        x = np.ascontiguousarray(rows).reshape(-1).view("<u8")
    else:
        padded = np.full((n, 8), ord("0"), dtype=np.uint8)
        padded[:, 8 - width:] = rows
        x = padded.reshape(-1).view("<u8")
    u = np.uint64
    shift = 8 * (8 - width)
    mask = u(((1 << 8 * len(prefix)) - 1) << shift)
    ok = (x & mask) == u(int.from_bytes(prefix, "little") << shift)
    zeros = u(0x3030303030303030)
    x = (x & ~mask) | (zeros & mask)
    hi = u(0xF0F0F0F0F0F0F0F0)
    ok &= (x & hi) == zeros
    ok &= ((x + u(0x0606060606060606)) & hi) == zeros
    x &= u(0x0F0F0F0F0F0F0F0F)
    x = (x * u(10 << 8 | 1)) >> u(8)
    x = ((x & u(0x00FF00FF00FF00FF)) * u(100 << 16 | 1)) >> u(16)
    x = ((x & u(0x0000FFFF0000FFFF)) * u(10_000 << 32 | 1)) >> u(32)
    x[~ok] = 0
    return x.view(np.int64), ok


def equal_codes(values: object) -> np.ndarray:
    """Return integer codes of string values, equal exactly where the values are (null: -1).

    Numbered ids (one prefix, fixed-width digits) are parsed; other values are hashed.
    """
    arr = arrow_strings(values)
    pattern = _numbered_pattern(arr) if not arr.null_count else None
    if pattern is not None:
        parsed = _fixed_width_numbers(arr, *pattern)
        if parsed is not None and parsed[1].all():
            return parsed[0]
    return encode(arr)[0]


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


def take_strings(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """Return ``values[codes]`` as Arrow strings, null where a code is negative."""
    codes = np.asarray(codes, dtype=np.int64)
    if not len(values):
        return pa.nulls(len(codes), pa.large_string())
    return values.take(pa.array(np.maximum(codes, 0), mask=codes < 0))
