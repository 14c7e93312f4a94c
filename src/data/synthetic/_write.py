"""Deterministic writing: same tables -> byte-identical Parquet/CSV files.

Parquet files are written with an explicit Arrow schema built from
``schema.py`` (date -> ``date32``, timestamp -> ``timestamp[us]``, int ->
``int64``, float -> ``float64``, string/json -> ``string``), fixed writer options
(zstd level 3, dictionary encoding, statistics, fixed row-group size) and no
pandas or creation-time metadata. Rows are in the order the generator built
them, which is itself deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from earlywarning.data.schema import TABLES, get_table
from earlywarning.data.synthetic._worker import OrderedWorker
from earlywarning.memory import c_library

__all__ = ["GroundTruthWriter", "PartWriter", "atomic_dir", "keep_freed_memory_small",
           "limit_malloc_arenas", "slim", "writable", "write_and_free", "write_json",
           "write_table"]

_ARROW = {"string": pa.string(), "json": pa.string(), "date": pa.date32(),
          "timestamp": pa.timestamp("us"), "int": pa.int64(), "float": pa.float64()}
ROW_GROUP = 1_000_000
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1, "version": "2.6",
                   "data_page_size": 1 << 20}


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns worth min/max statistics: dates, times and numbers (not free text or ids)."""
    return [f.name for f in schema if not (pa.types.is_string(f.type)
                                           or pa.types.is_large_string(f.type))]


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: everything but unique ids, timestamps and floats.

    Float columns (probabilities, scores) have almost no repeated values: trying
    a dictionary first costs a hash of every value before Arrow falls back to
    plain encoding, and makes the file larger.
    """
    return [f.name for f in schema if not f.name.endswith(("_id", "_recorded_at"))
            and f.name != "person_id" and not pa.types.is_floating(f.type)]


def arrow_table(name: str, df: pd.DataFrame) -> pa.Table:
    """``df`` as an Arrow table typed by the schema of ``name`` (extra columns kept as inferred)."""
    cols, fields = [], []
    declared = {c.name: c for c in get_table(name).columns} if name in TABLES else {}
    for col in df.columns:
        s = df[col]
        c = declared.get(col)
        if c is None:
            arr = pa.array(s.to_numpy() if s.dtype.kind in "biufM" else s, from_pandas=True)
        elif c.dtype in ("date", "timestamp"):
            v = s.to_numpy(dtype="datetime64[ns]")
            unit = "D" if c.dtype == "date" else "us"
            arr = pa.array(v.astype(f"datetime64[{unit}]"), type=_ARROW[c.dtype],
                           mask=np.isnat(v))
        elif c.dtype == "int":
            arr = pa.array(s, type=pa.int64(), from_pandas=True)
        elif c.dtype == "float":
            arr = pa.array(s.to_numpy(dtype="float64", na_value=np.nan), type=pa.float64(),
                           from_pandas=True)
        else:
            arr = pa.array(s, type=pa.string(), from_pandas=True)
        cols.append(arr)
        fields.append(pa.field(col, arr.type))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def writable(name: str, parts: list[pd.DataFrame], fmt: str) -> pd.DataFrame | pa.Table:
    """Frames that together make one table, ready for :func:`write_table`.

    For Parquet, one Arrow table whose later parts are appended as chunks (no
    copy of the first, largest part; its strings are shared with pandas); for
    CSV, one DataFrame.
    """
    if fmt == "parquet":
        return pa.concat_tables([arrow_table(name, p) for p in parts])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def write_table(name: str, df: pd.DataFrame | pa.Table, out: Path, fmt: str) -> Path:
    """Write one table as ``out/<name>.parquet`` or ``.csv`` and return the path."""
    if fmt == "parquet":
        path = out / f"{name}.parquet"
        table = df if isinstance(df, pa.Table) else arrow_table(name, df)
        pq.write_table(table, path, row_group_size=ROW_GROUP,
                       use_dictionary=_dictionary_columns(table.schema),
                       write_statistics=_statistics_columns(table.schema), **PARQUET_OPTIONS)
        return path
    if fmt == "csv":
        path = out / f"{name}.csv"
        _write_csv(name, df, path, header=True)
        return path
    raise ValueError(f"format {fmt!r}: use 'parquet' or 'csv'")


def _write_csv(name: str, df: pd.DataFrame, path: Path, header: bool) -> None:
    d = df.copy()
    declared = {c.name: c for c in get_table(name).columns} if name in TABLES else {}
    for col in d.columns:
        c = declared.get(col)
        if c is not None and c.dtype == "date":
            d[col] = pd.to_datetime(d[col]).dt.strftime("%Y-%m-%d")
        elif c is not None and c.dtype == "timestamp":
            d[col] = pd.to_datetime(d[col]).dt.strftime("%Y-%m-%d %H:%M:%S")
    d.to_csv(path, index=False, lineterminator="\n", encoding="utf-8", header=header,
             mode="w" if header else "a")


class PartWriter:
    """Writes one table part by part (in order, on its own thread), for tables too big to hold.

    Parts are what :func:`writable` returns; at most two wait in memory.
    """

    def __init__(self, name: str, out: Path, fmt: str) -> None:
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format {fmt!r}: use 'parquet' or 'csv'")
        self.name, self.fmt = name, fmt
        self.path = out / f"{name}.{fmt}"
        self._writer: pq.ParquetWriter | None = None
        self._parts = 0
        self._jobs = OrderedWorker(max_queued=2)

    def write(self, data: pd.DataFrame | pa.Table) -> None:
        """Queue the next part (waiting while two are queued)."""
        self._jobs.submit(self._write, [data])

    def _write(self, box: list) -> None:
        data = box.pop()
        if self.fmt == "csv":
            _write_csv(self.name, data, self.path, header=self._parts == 0)
        else:
            if self._writer is None:
                self._writer = pq.ParquetWriter(
                    self.path, data.schema,
                    use_dictionary=_dictionary_columns(data.schema),
                    write_statistics=_statistics_columns(data.schema), **PARQUET_OPTIONS)
            self._writer.write_table(data, row_group_size=ROW_GROUP)
        self._parts += 1
        del data
        keep_freed_memory_small("tables")

    def close(self) -> Path:
        """Finish the file (re-raising any writing error) and return its path."""
        try:
            self._jobs.wait()
        finally:
            if self._writer is not None:
                self._writer.close()
        return self.path

    def abort(self) -> None:
        """For a failing caller: drop the parts not yet written, stop the thread, close the file."""
        self._jobs.cancel()
        if self._writer is not None:
            self._writer.close()


def _floats_uncompressed(schema: pa.Schema) -> dict:
    """:data:`PARQUET_OPTIONS` with float columns stored uncompressed.

    The ground truth's probabilities and adversity are nearly incompressible
    (zstd kept 92% of their bytes) but compressing them took CPU from the
    simulation, beside which the months are written: at 60,000 children the
    simulation took 3.6-4.0 s against 3.8-4.4 s, for a file 7% larger.
    """
    packed = [f.name for f in schema if not pa.types.is_floating(f.type)]
    return {**PARQUET_OPTIONS,
            "compression": {f.name: PARQUET_OPTIONS["compression"] if f.name in packed else "none"
                            for f in schema},
            "compression_level": dict.fromkeys(packed, PARQUET_OPTIONS["compression_level"])}


class GroundTruthWriter:
    """Streams ``ground_truth/child_month.parquet`` one month (row group) at a time.

    No Arrow schema is stored, so dictionary-encoded driver columns read back
    as plain strings.

    Encoding and compression run on a background thread (Arrow releases the
    GIL), in submission order, so writing overlaps the simulation.
    """

    def __init__(self, path: Path, convert=None) -> None:  # noqa: ANN001
        self.path = path
        self.convert = convert
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self._jobs = OrderedWorker(max_queued=3)  # bounds memory: at most three months wait

    def write(self, columns: dict) -> None:
        """Queue one month of rows (a dict of equal-length arrays or Series)."""
        self._jobs.submit(self._write, columns)

    def _write(self, columns: dict) -> None:
        if self.convert is not None:
            columns = self.convert(columns)
        arrays = {}
        for k, v in columns.items():
            if isinstance(v, pa.Array):
                arrays[k] = v
            elif k == "month":
                arrays[k] = pa.array(np.asarray(v).astype("datetime64[D]"), type=pa.date32())
            elif isinstance(v, pd.Series):
                arrays[k] = pa.array(v, type=pa.string(), from_pandas=True)
            elif np.asarray(v).dtype == object:
                arrays[k] = pa.array(v, type=pa.string())
            else:
                arrays[k] = pa.array(v)
        table = pa.table(arrays)
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path, table.schema, use_dictionary=_dictionary_columns(table.schema),
                write_statistics=["month"], store_schema=False,
                **_floats_uncompressed(table.schema))
        self.writer.write_table(table, row_group_size=ROW_GROUP)
        self.rows += table.num_rows

    def close(self) -> None:
        """Wait for queued months and finish the file (re-raising any writing error)."""
        self._jobs.wait()
        if self.writer is not None:
            self.writer.close()

    def abort(self) -> None:
        """For a failing caller: drop the months not yet written, stop the thread, close the file.

        A no-op after :meth:`close`.
        """
        self._jobs.cancel()
        if self.writer is not None:
            self.writer.close()


def write_json(path: Path, data: dict) -> None:
    """Write JSON with sorted keys and a trailing newline (stable bytes)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")


class atomic_dir:  # noqa: N801 - used as a context manager
    """Write into ``OUT.partial`` and move it to ``OUT`` only when everything succeeded."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.tmp = self.out.with_name(self.out.name + ".partial")

    def __enter__(self) -> Path:
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.out.exists():
            old = self.out.with_name(self.out.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            shutil.rmtree(old)
        else:
            os.replace(self.tmp, self.out)


def keep_freed_memory_small(phase: str = "tables") -> None:
    """Tune glibc's allocator for a generation phase (Linux; a no-op elsewhere).

    glibc raises its mmap threshold each time a large block is freed, after
    which medium arrays come from the heap and freed memory is not returned:
    table building's peak RSS then grows to about twice its live data. For
    ``"tables"``, once the process holds more than :data:`TRIM_ABOVE_BYTES`,
    the threshold is fixed low and the heap trimmed, so RSS stays near the live
    data. Otherwise (``"simulate"``, whose same-sized monthly arrays are reused,
    or a small LA) it is fixed high: mapping and trimming cost page faults and
    hold the allocator's lock, which a small LA need not pay.
    """
    libc = _glibc()
    if libc is None:
        return
    big = phase == "tables" and _rss_bytes() > TRIM_ABOVE_BYTES
    libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024 if big else 32 * 1024 * 1024)
    if big:
        libc.malloc_trim(0)
        pa.default_memory_pool().release_unused()


def limit_malloc_arenas(children: int) -> bool:
    """Let a large LA's threads allocate from two glibc arenas that keep their memory (Linux).

    glibc gives each thread its own arena, grown in 64 MB heaps. The generator's
    workers (ground truth, child events, writers) allocate and free arrays of
    several MB every month, so at 1M children their heaps were mapped, faulted
    in and unmapped some 300 times in the simulation alone. With two arenas for
    the whole process, and up to 1 GB of free heap top kept between the explicit
    trims of :func:`keep_freed_memory_small`, that memory is reused: the
    simulation's page faults fall about fourfold. (One arena saves as many
    faults, but then the ancillary step took about 7 s longer at 1M, probably as
    its threads waited for each other's allocations.) The trim threshold does not
    stop glibc from unmapping a thread arena's heap the moment it is empty (its
    second and later heaps, each created afresh when needed again); a top pad as
    large as a heap (:data:`THREAD_HEAP_BYTES`) does: at 1M children the
    simulation's page faults fell from 3.5-4.1 M to 2.2-2.3 M, its system time
    from 6-7 s to 4 s (the ground-truth thread had been creating and dropping
    heaps many times a second).

    The setting is process-wide and lasts (glibc fixes its arena limit once a
    thread first needs an arena), so it is made only from
    :data:`LARGE_LA_CHILDREN` children, whose generation dominates its
    process, and only before the generator starts its threads.

    Returns
    -------
    bool
        Whether the setting was made.
    """
    libc = _glibc() if children >= LARGE_LA_CHILDREN else None
    if libc is None:
        return False
    return (bool(libc.mallopt(M_ARENA_MAX, 2)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**30))
            and bool(libc.mallopt(M_TOP_PAD, THREAD_HEAP_BYTES)))


M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
"""glibc's ``mallopt`` parameter numbers (``malloc.h``)."""
THREAD_HEAP_BYTES = 64 * 2**20
"""The size of each heap of a glibc thread arena on 64-bit systems (``HEAP_MAX_SIZE``)."""


def _glibc():  # noqa: ANN202
    """Return glibc's ``mallopt`` and ``malloc_trim`` (as a ``ctypes`` library), or None."""
    return c_library("mallopt", "malloc_trim")


LARGE_LA_CHILDREN = 250_000
"""LA size from which the generator works to its memory budget (8 GB at 1M children):
its threads share two malloc arenas (:func:`limit_malloc_arenas`), freed memory is
handed back after each table (:func:`keep_freed_memory_small`), and the calibration
report and the identity and voice builders no longer overlap the other work
(``generate_la``)."""
TRIM_ABOVE_BYTES = 2 * 2**30
"""Resident memory above which freed memory is handed back to the system after each table."""


def _rss_bytes() -> int:
    """Return the resident memory of this process in bytes (Linux ``/proc/self/statm``; else 0)."""
    import os

    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def write_and_free(name: str, box: list, out: Path, fmt: str) -> Path:
    """:func:`write_table` of the table held alone in ``box``, then return its memory.

    The box is emptied, so no reference (not even the job's arguments) keeps
    the written table alive.
    """
    path = write_table(name, box.pop(), out, fmt)
    keep_freed_memory_small("tables")
    return path


def slim(name: str, df: pd.DataFrame, end_date) -> pd.DataFrame:  # noqa: ANN001
    """Keep of a written table only its earliest row and its last 400 days.

    The earliest row keeps the period covered (source metadata); the last 400
    days feed the calibration report's latest-year measures.
    """
    t = get_table(name)
    if t.event_date is None or not len(df):
        return df.iloc[:1]
    day = df[t.event_date]
    recent = day > pd.Timestamp(end_date) - pd.Timedelta(days=400)
    recent.iloc[int(np.argmin(day.to_numpy()))] = True
    return df[recent.to_numpy()].reset_index(drop=True)
