"""Finding and opening extracts: a folder of CSV/Parquet files or a DuckDB file.

Each extract becomes a DuckDB view ``__src`` with ``__rn`` (the 1-based data row
number in the file) and the file's columns, renamed to the declared names when only
their case or surrounding spaces differ. Nothing is read into Python: CSV is staged
as text in a temporary table (spilling to disk beyond the memory limit), Parquet and
DuckDB tables are read in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
from earlywarning.data import _report as rep
from earlywarning.data import _validate as val
from earlywarning.data._report import Issue, TableReport
from earlywarning.data.schema import TABLES, Table

EXTENSIONS = (".parquet", ".csv")
"""Extract formats in order of preference when a table has both."""
DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
CSV_BUFFER_BYTES = 4 << 20
"""CSV read buffer: small enough to stream under a tight ``memory_limit``, and no slower."""


@dataclass
class Extract:
    """One table's extract: its file (or DuckDB table) and kind."""

    table: Table
    path: Path | None
    kind: str  # "csv", "parquet", "duckdb" or "missing"

    @property
    def file(self) -> str:
        """Name shown in messages: the file name, or ``db.duckdb:table``."""
        if self.kind == "duckdb":
            return f"{self.path.name}:{self.table.name}"
        return self.path.name if self.path else f"{self.table.name}.*"


def discover(source: Path) -> tuple[list[Extract], list[Issue], str]:
    """Find one extract per declared table in a folder or a DuckDB file.

    Returns
    -------
    tuple
        The extracts (``kind="missing"`` for tables without one, in schema order), the
        ignored files or tables as report issues, and ``"folder"`` or ``"duckdb"``.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If ``source`` is a file that is not a DuckDB database.
    """
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such folder or DuckDB file to load")
    if source.is_file():
        if source.suffix.lower() not in DUCKDB_SUFFIXES:
            raise ValueError(
                f"{source}: not a folder of extracts or a DuckDB file "
                f"({', '.join(DUCKDB_SUFFIXES)})")
        con = duckdb.connect(str(source), read_only=True)
        try:
            names = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main'").fetchall()}
        finally:
            con.close()
        extracts = [Extract(t, source if t.name in names else None,
                             "duckdb" if t.name in names else "missing")
                    for t in TABLES.values()]
        ignored = [Issue(None, rep.IGNORED_FILE, None, None,
                         rep.MSG_IGNORED_FILE.format(file=f"{source.name}:{n}"))
                   for n in sorted(names - set(TABLES))]
        return extracts, ignored, "duckdb"
    if not source.is_dir():
        raise ValueError(f"{source}: not a folder of extracts or a DuckDB file")
    found: dict[str, dict[str, Path]] = {}
    ignored: list[Issue] = []
    for path in sorted(source.iterdir()):
        stem, suffix = path.name.rsplit(".", 1) if "." in path.name else (path.name, "")
        if path.is_file() and stem in TABLES and f".{suffix.lower()}" in EXTENSIONS:
            found.setdefault(stem, {})[f".{suffix.lower()}"] = path
        else:
            shown = path.name + ("/" if path.is_dir() else "")
            ignored.append(Issue(None, rep.IGNORED_FILE, None, None,
                                 rep.MSG_IGNORED_FILE.format(file=shown)))
    extracts = []
    for t in TABLES.values():
        files = found.get(t.name, {})
        chosen = next((files[e] for e in EXTENSIONS if e in files), None)
        for path in files.values():
            if path is not chosen:
                ignored.append(Issue(t.name, rep.IGNORED_FILE, None, None,
                                     rep.MSG_IGNORED_FILE.format(file=path.name)
                                     + f" (using {chosen.name})"))
        extracts.append(Extract(t, chosen, chosen.suffix.lower()[1:] if chosen else "missing"))
    return extracts, ignored, "folder"


def first_invalid_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int, int] | None:
    """Byte offset, byte value and 1-based line of the first byte that is not UTF-8.

    Reads the file in 1 MiB chunks, carrying an incomplete multi-byte sequence over to
    the next chunk, so memory stays flat whatever the file size.
    """
    offset = newlines = 0  # file offset of data[0]; newlines before it
    carry = b""
    with path.open("rb") as f:
        while True:
            chunk = f.read(chunk_size)
            data = carry + chunk
            if not data:
                return None
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                if chunk and exc.end == len(data) and "end of data" in exc.reason:
                    good = exc.start  # a sequence cut by the chunk boundary
                else:
                    head = data[:exc.start]
                    return offset + exc.start, data[exc.start], newlines + head.count(b"\n") + 1
            newlines += data[:good].count(b"\n")
            offset += good
            carry = data[good:]


def open_source(con: duckdb.DuckDBPyConnection, ex: Extract,
                 tr: TableReport) -> dict[str, str] | None:
    """Create view ``__src`` (``__rn`` + the extract's columns); return their types.

    An empty, unreadable or non-UTF-8 file is recorded as a failure on ``tr`` and gives
    ``None``. Running out of memory is not the file's fault: it propagates.
    """
    path = ex.path
    if ex.kind in ("csv", "parquet") and path.stat().st_size == 0:
        tr.fail(val.EMPTY_FILE, val.MSG_EMPTY_FILE)
        return None
    lit = val.sql_literal(str(path))
    try:
        if ex.kind == "parquet":
            con.execute(f"CREATE OR REPLACE TEMP VIEW __src0 AS SELECT file_row_number + 1 "
                        f"AS __rn, * EXCLUDE (file_row_number) FROM read_parquet({lit}, "
                        f"file_row_number = true)")
        elif ex.kind == "csv":
            # Staged as text, in file order (so rowid + 1 is the data row number), in a
            # temporary table, which DuckDB spills to disk beyond its memory limit.
            con.execute(f"CREATE OR REPLACE TEMP TABLE __csv AS SELECT * FROM read_csv("
                        f"{lit}, all_varchar = true, header = true, "
                        f"buffer_size = {CSV_BUFFER_BYTES})")
            con.execute("CREATE OR REPLACE TEMP VIEW __src0 AS SELECT rowid + 1 AS __rn, * "
                        "FROM __csv")
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW __src0 AS SELECT rowid + 1 AS __rn, * "
                        f"FROM __srcdb.main.{val.quote_ident(ex.table.name)}")
        described = con.execute("DESCRIBE __src0").fetchall()
    except duckdb.OutOfMemoryException:
        raise  # not a fault of the file: the load stops and nothing is published
    except duckdb.Error as exc:
        bad = first_invalid_utf8(path) if ex.kind == "csv" else None
        if bad:
            offset, byte, line = bad
            tr.fail(val.WRONG_ENCODING, val.MSG_WRONG_ENCODING, byte=byte, offset=offset,
                  line=line, row=line - 1)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            tr.fail(val.UNREADABLE_FILE, val.MSG_UNREADABLE_FILE, error=first)
        return None
    declared = {c.lower(): c for c in ex.table.column_names}
    renamed, types, seen = [], {}, set()
    for name, dtype, *_ in described:
        if name == "__rn":
            continue
        target = declared.get(name.strip().lower(), name)
        if target in seen:
            target = name
        seen.add(target)
        renamed.append(f"{val.quote_ident(name)} AS {val.quote_ident(target)}")
        types[target] = dtype
    con.execute(f"CREATE OR REPLACE TEMP VIEW __src AS SELECT __rn, {', '.join(renamed)} "
                f"FROM __src0")
    return types


def count_relation(ex: Extract) -> str:
    """Return the extract as a relation that counts fast (Parquet: from its footer)."""
    if ex.kind == "parquet":
        return f"read_parquet({val.sql_literal(str(ex.path))})"
    return "__src0"
