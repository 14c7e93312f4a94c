"""Load a folder of extracts (or a DuckDB file) into the warehouse, validating every row.

``load`` reads each table's extract with DuckDB (CSV as text, Parquet or DuckDB as typed),
never into pandas, so files larger than memory stream through. Every rule comes from
:mod:`earlywarning.data.schema` via :mod:`earlywarning.data._validate`. Rejected rows go
to ``_quarantine`` with all their reasons; every table gets its counts, date ranges and
missingness in the :class:`~earlywarning.data._report.LoadReport`.

The new warehouse is built in a temporary file beside the old one and published with
``os.replace``. Strict mode (the default) publishes only a clean load; ``quarantine=True``
publishes the valid rows. Any exception discards the build, so the previous warehouse is
left byte-identical.

Example
-------
>>> from earlywarning.data.load import load                      # doctest: +SKIP
>>> result = load("data/la", "data/warehouse.duckdb", quarantine=True)  # doctest: +SKIP
>>> result.published, result.report.table("ssd_person").rows_rejected   # doctest: +SKIP
(True, 0)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
from earlywarning.data import _report as rep
from earlywarning.data import _validate as val
from earlywarning.data import warehouse as wh
from earlywarning.data._report import Issue, LoadReport, RuleCount, TableReport
from earlywarning.data.schema import (
    AGENCIES,
    HEALTH_SERVICE_AGENCY,
    IDENTIFYING_SSD_PERSON_COLUMNS,
    TABLES,
    Table,
)

__all__ = ["LoadResult", "LoadReport", "load", "schema_version"]

EXTENSIONS = (".parquet", ".csv")
"""Extract formats in order of preference when a table has both."""
DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
CSV_BUFFER_BYTES = 4 << 20
"""CSV read buffer: small enough to stream under a tight ``memory_limit``, and no slower."""
METADATA_TABLE = "ext_source_metadata"
IDENTITY_TABLE = "ext_person_identity"
PERSON_TABLE = "ssd_person"

Progress = Callable[[str, int, int], None]
"""``progress(table, done, total)``: called before each table and once at the end."""


@dataclass
class LoadResult:
    """What :func:`load` did.

    Attributes
    ----------
    report : LoadReport
        Counts, rule outcomes, coverage and notes.
    warehouse : Path
        The warehouse path (replaced only if ``published``).
    published : bool
        Whether the new warehouse replaced the old one.
    report_paths : tuple of Path
        ``load_report.json`` and ``load_report.md``.
    """

    report: LoadReport
    warehouse: Path
    published: bool
    report_paths: tuple[Path, Path]


@dataclass
class _Extract:
    table: Table
    path: Path | None
    kind: str  # "csv", "parquet", "duckdb" or "missing"

    @property
    def file(self) -> str:
        if self.kind == "duckdb":
            return f"{self.path.name}:{self.table.name}"
        return self.path.name if self.path else f"{self.table.name}.*"


def schema_version() -> str:
    """Short hash of the schema declarations: changes whenever a table or rule changes."""
    return hashlib.sha256(repr(list(TABLES.values())).encode()).hexdigest()[:16]


def load(
    source: str | os.PathLike,
    warehouse: str | os.PathLike = wh.DEFAULT_WAREHOUSE,
    *,
    quarantine: bool = False,
    report_dir: str | os.PathLike | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    load_date: date | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Validate the extracts in ``source`` and (re)build the warehouse from them.

    Parameters
    ----------
    source : path-like
        A folder with one ``<table>.parquet`` or ``<table>.csv`` per table (other files
        are reported and ignored), or a DuckDB file with one table per schema table.
    warehouse : path-like
        The DuckDB warehouse to (re)place; default ``data/warehouse.duckdb``.
    quarantine : bool
        False (strict, the default): publish only if no table failed and no row was
        rejected. True: publish the valid rows; rejected ones are in ``_quarantine``.
    report_dir : path-like, optional
        Where to write ``load_report.json`` and ``load_report.md``; default beside the
        warehouse.
    memory_limit : str, optional
        DuckDB ``memory_limit`` (e.g. ``"2GB"``); DuckDB spills beyond it.
    threads : int, optional
        DuckDB threads (default: all cores).
    load_date : date, optional
        Dates after it are in the future when no extract date is known; default today.
    progress : callable, optional
        ``progress(table, done, total)`` for progress bars.

    Returns
    -------
    LoadResult
        The report and whether the warehouse was published.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If ``source`` is neither a folder nor a DuckDB file.
    """
    source = Path(source)
    warehouse = Path(warehouse)
    load_date = load_date or date.today()
    extracts, ignored, kind = _discover(source)
    report = LoadReport(
        source_path=str(source), source_kind=kind, warehouse=str(warehouse),
        mode="quarantine" if quarantine else "strict",
        loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), ignored=ignored)
    wh.remove_stale_builds(warehouse)
    built = wh.building_path(warehouse)
    con = duckdb.connect(str(built))
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = {val.sql_literal(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if kind == "duckdb":
            con.execute(f"ATTACH {val.sql_literal(str(source))} AS __srcdb (READ_ONLY)")
        _create_tables(con)
        state = _LoadState(load_date=load_date)
        ordered = sorted(extracts, key=lambda e: e.table.name != METADATA_TABLE)
        for i, extract in enumerate(ordered):
            if progress:
                progress(extract.table.name, i, len(ordered))
            report.tables.append(_load_table(con, extract, state))
        if progress:
            progress("", len(ordered), len(ordered))
        report.tables.sort(key=lambda t: list(TABLES).index(t.table))
        report.coverage = _coverage(con)
        report.fingerprint = wh.warehouse_fingerprint(con)
        publish = quarantine or report.clean
        report.published = publish
        _write_report_tables(con, report, source, load_date)
        if kind == "duckdb":
            con.execute("DETACH __srcdb")
        con.execute("CHECKPOINT")
        con.close()
        if publish:
            wh.publish(built, warehouse)
    finally:
        con.close()
        wh.discard(built)  # a no-op once published (the file has been renamed)
    paths = report.write(Path(report_dir) if report_dir else warehouse.parent)
    return LoadResult(report, warehouse, report.published, paths)


# --- discovering extracts ---------------------------------------------------------------
def _discover(source: Path) -> tuple[list[_Extract], list[Issue], str]:
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
        extracts = [_Extract(t, source if t.name in names else None,
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
        extracts.append(_Extract(t, chosen, chosen.suffix.lower()[1:] if chosen else "missing"))
    return extracts, ignored, "folder"


# --- building the warehouse ---------------------------------------------------------------
@dataclass
class _LoadState:
    load_date: date
    extract_dates: dict[str, date] = field(default_factory=dict)
    identity_sql: str | None = None
    identity_columns: tuple[str, ...] = ()


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES.values():
        cols = ", ".join(f"{val.quote_ident(c.name)} {val.SQL_TYPES[c.dtype]}" for c in t.columns)
        con.execute(f"CREATE TABLE {val.quote_ident(t.name)} ({cols})")
    con.execute(f'CREATE TABLE {wh.QUARANTINE_TABLE} ("table" VARCHAR, source_file VARCHAR, '
                f'row_number BIGINT, "column" VARCHAR, rule VARCHAR, message VARCHAR, '
                f'raw_row VARCHAR)')
    con.execute(f'CREATE TABLE {wh.REPORT_TABLE} ("table" VARCHAR, rule VARCHAR, '
                f'"column" VARCHAR, n_rows BIGINT, message VARCHAR)')
    con.execute(f"CREATE TABLE {wh.META_TABLE} (key VARCHAR, value VARCHAR)")


def _fail(tr: TableReport, rule: str, template: str, **fields: object) -> TableReport:
    fields.setdefault("file", tr.source_file or tr.table)
    message = template.format(table=tr.table, rule=rule, **fields)
    tr.failures.append(Issue(tr.table, rule, fields.get("column"), None, message))
    return tr


def _first_invalid_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int, int] | None:
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


def _open_source(con: duckdb.DuckDBPyConnection, ex: _Extract,
                 tr: TableReport) -> dict[str, str] | None:
    """Create view ``__src`` (``__rn`` + the extract's columns); return their types."""
    path = ex.path
    if ex.kind in ("csv", "parquet") and path.stat().st_size == 0:
        _fail(tr, val.EMPTY_FILE, val.MSG_EMPTY_FILE)
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
        bad = _first_invalid_utf8(path) if ex.kind == "csv" else None
        if bad:
            offset, byte, line = bad
            _fail(tr, val.WRONG_ENCODING, val.MSG_WRONG_ENCODING, byte=byte, offset=offset,
                  line=line, row=line - 1)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            _fail(tr, val.UNREADABLE_FILE, val.MSG_UNREADABLE_FILE, error=first)
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


def _count_relation(ex: _Extract) -> str:
    """Return the extract as a relation that counts fast (Parquet: from its footer)."""
    if ex.kind == "parquet":
        return f"read_parquet({val.sql_literal(str(ex.path))})"
    return "__src0"


def _extract_dates(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """Latest extract date of each table named in the (loaded) ``ext_source_metadata``."""
    return dict(con.execute(f"SELECT meta_table, max(meta_extract_date) FROM {METADATA_TABLE} "
                            "GROUP BY 1").fetchall())


def _load_table(con: duckdb.DuckDBPyConnection, ex: _Extract, state: _LoadState) -> TableReport:
    """Validate one table's extract, insert its valid rows, quarantine the rest."""
    t = ex.table
    tr = TableReport(t.name, ex.file if ex.path else None, restricted=t.restricted)
    if ex.kind == "missing":
        if t.name == IDENTITY_TABLE and state.identity_sql:
            tr.rows_read = 0
            _add_identity(con, tr, state)
            return tr
        return _fail(tr, val.MISSING_FILE, val.MSG_MISSING_FILE, file=f"{t.name}.*")
    types = _open_source(con, ex, tr)
    if types is None:
        return tr
    extract_date = state.extract_dates.get(t.name)
    if extract_date:
        reference, label = extract_date, "extract date"
    else:
        reference, label = state.load_date, "load date"
    tr.reference = f"dates after the {label} {reference.isoformat()} are rejected as future"
    src = val.TableSource(t, "__src", ex.file, types, reference, label)
    if t.recorded_at and t.recorded_at not in types:
        known = extract_date or date.fromtimestamp(ex.path.stat().st_mtime)
        how = "extract date in ext_source_metadata" if extract_date else \
            "file's modification date"
        src.derived[t.recorded_at] = val.sql_literal(known)
        tr.notes.append(Issue(t.name, rep.DERIVED_RECORDED_AT, t.recorded_at, None,
                              rep.MSG_DERIVED_RECORDED_AT.format(
                                  file=ex.file, table=t.name, column=t.recorded_at,
                                  source=how, date=known.isoformat())))
    for c in t.columns:
        if c.references:
            parent, key = c.references.split(".")
            # The parent's loaded keys are unique when they are its whole primary key.
            unique = TABLES[parent].primary_key == (key,)
            src.parents[c.name] = (f"(SELECT {'' if unique else 'DISTINCT '}"
                                   f"{val.quote_ident(key)} AS k FROM main."
                                   f"{val.quote_ident(parent)})")
    moved = [c for c in src.extra_columns if t.name == PERSON_TABLE
             and c in IDENTIFYING_SSD_PERSON_COLUMNS]
    for c in src.extra_columns:
        if c not in moved:
            tr.notes.append(Issue(t.name, rep.IGNORED_COLUMN, c, None, rep.MSG_IGNORED_COLUMN
                                  .format(file=ex.file, table=t.name, column=c)))
    for c in t.columns:
        if c.name not in types and c.name not in src.derived and c.name not in \
                t.required_columns:
            tr.notes.append(Issue(t.name, rep.ABSENT_COLUMN, c.name, None, rep.MSG_ABSENT_COLUMN
                                  .format(file=ex.file, table=t.name, column=c.name)))
    con.execute(f"CREATE OR REPLACE TEMP VIEW __typed AS {val.typed_select_sql(src)}")
    if src.missing_required:
        for col in src.missing_required:
            _fail(tr, val.MISSING_COLUMN, val.MSG_MISSING_COLUMN, file=ex.file, column=col)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS "
                    f"{val.missing_column_rows_sql(src, '__typed')}")
        _quarantine(con, tr, ex.file)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __duph AS "
                    f"{val.duplicate_hashes_sql(src, '__typed')}")
        has_dups = con.execute("SELECT count(*) FROM __duph").fetchone()[0] > 0
        con.execute(f"CREATE OR REPLACE TEMP TABLE __dup AS "
                    f"{val.duplicate_keys_sql(src, '__typed', '__duph' if has_dups else None)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE __badrn AS "
                    f"{val.bad_row_numbers_sql(src, '__typed', '__dup')}")
        n_bad = con.execute("SELECT count(*) FROM __badrn").fetchone()[0]
        if n_bad:  # reasons and messages are built for the rejected rows only
            con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS "
                        f"{val.rejected_rows_sql(src, '__typed', '__dup', '__badrn')}")
            _quarantine(con, tr, ex.file)
        cols = ", ".join(val.quote_ident(c) for c in t.column_names)
        keep = " WHERE __rn NOT IN (SELECT __rn FROM __badrn)" if n_bad else ""
        tr.rows_accepted = con.execute(
            f"INSERT INTO main.{val.quote_ident(t.name)} ({cols}) SELECT {cols} "
            f"FROM __typed{keep}").fetchone()[0]
        if moved:
            _stash_identity(src, moved, state, keep)
    tr.rows_read = con.execute(f"SELECT count(*) FROM {_count_relation(ex)}").fetchone()[0]
    if tr.rows_accepted + tr.rows_rejected != tr.rows_read:
        raise RuntimeError(f"{ex.file}: table {t.name}: {tr.rows_accepted} accepted + "
                           f"{tr.rows_rejected} rejected != {tr.rows_read} read")
    if moved:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __identity AS {state.identity_sql}")
        state.identity_sql = "SELECT * FROM __identity"
        n = con.execute("SELECT count(*) FROM __identity").fetchone()[0]
        for c in moved:
            tr.notes.append(Issue(t.name, rep.PSEUDONYMISED, c, n, rep.MSG_PSEUDONYMISED.format(
                file=ex.file, column=c, target=IDENTIFYING_SSD_PERSON_COLUMNS[c], n=n)))
    if t.name == IDENTITY_TABLE and state.identity_sql:
        _add_identity(con, tr, state)
    _profile(con, t, tr)
    if t.name == METADATA_TABLE:
        state.extract_dates = _extract_dates(con)
    con.execute("DROP TABLE IF EXISTS __csv")  # frees its memory or spill space
    return tr


def _stash_identity(src: val.TableSource, moved: list[str], state: _LoadState,
                    keep: str) -> None:
    pid = val.quote_ident(src.table.primary_key[0])
    targets = [IDENTIFYING_SSD_PERSON_COLUMNS[c] for c in moved]
    items = ", ".join(f"CAST({val.quote_ident('__extra__' + c)} AS VARCHAR) AS "
                      f"{val.quote_ident(IDENTIFYING_SSD_PERSON_COLUMNS[c])}" for c in moved)
    state.identity_sql = f"SELECT {pid} AS iden_person_id, {items} FROM __typed{keep}"
    state.identity_columns = tuple(targets)


def _add_identity(con: duckdb.DuckDBPyConnection, tr: TableReport, state: _LoadState) -> None:
    """Merge identifying columns moved out of ``ssd_person`` into ``ext_person_identity``."""
    cols = ["iden_person_id", *state.identity_columns]
    names = ", ".join(val.quote_ident(c) for c in cols)
    added = con.execute(
        f"INSERT INTO {IDENTITY_TABLE} ({names}) SELECT {names} FROM __identity WHERE "
        f"iden_person_id NOT IN (SELECT iden_person_id FROM {IDENTITY_TABLE})").fetchone()[0]
    sets = ", ".join(f"{val.quote_ident(c)} = coalesce(e.{val.quote_ident(c)}, "
                     f"i.{val.quote_ident(c)})" for c in state.identity_columns)
    con.execute(f"UPDATE {IDENTITY_TABLE} AS e SET {sets} FROM __identity AS i "
                f"WHERE e.iden_person_id = i.iden_person_id")
    tr.notes.append(Issue(tr.table, rep.PSEUDONYMISED, ", ".join(state.identity_columns), added,
                          f"{IDENTITY_TABLE}: {added} people added and others completed from "
                          f"the identifying columns of ssd_person"))


def _quarantine(con: duckdb.DuckDBPyConnection, tr: TableReport, file: str) -> None:
    tr.rows_rejected = con.execute("SELECT count(*) FROM __bad").fetchone()[0]
    con.execute(
        f"INSERT INTO {wh.QUARANTINE_TABLE} SELECT ?, ?, __rn, "
        f"array_to_string(list_transform(__reasons, lambda r: r.column), '; '), "
        f"array_to_string(list_transform(__reasons, lambda r: r.rule), '; '), "
        f"array_to_string(list_transform(__reasons, lambda r: r.message), '; '), __raw "
        f"FROM __bad ORDER BY __rn", [tr.table, file])
    rows = con.execute(
        "SELECT r.rule, r.column, count(*), arg_min(r.message, __rn), min(r.i) "
        "FROM (SELECT __rn, unnest(__reasons) AS r FROM __bad) GROUP BY ALL "
        "ORDER BY min(r.i)").fetchall()
    tr.rule_counts = [RuleCount(rule, column, n, msg) for rule, column, n, msg, _ in rows]


def _profile(con: duckdb.DuckDBPyConnection, t: Table, tr: TableReport) -> None:
    """Missingness of every column and the range of every date column, over accepted rows."""
    items = ["count(*)"] + [f"count({val.quote_ident(c.name)})" for c in t.columns]
    dated = [c.name for c in t.columns if c.name in (t.event_date, t.recorded_at)]
    items += [f"min({val.quote_ident(c)}), max({val.quote_ident(c)})" for c in dated]
    row = con.execute(f"SELECT {', '.join(items)} FROM {val.quote_ident(t.name)}").fetchone()
    n = row[0]
    for c, present in zip(t.columns, row[1:1 + len(t.columns)], strict=True):
        tr.missingness.append({"column": c.name, "n_missing": n - present,
                               "share": (n - present) / n if n else 0.0})
    rest = row[1 + len(t.columns):]
    for i, c in enumerate(dated):
        lo, hi = rest[2 * i], rest[2 * i + 1]
        tr.date_ranges.append({"column": c, "min": None if lo is None else str(lo),
                               "max": None if hi is None else str(hi),
                               "n_rows": n - tr.missingness[t.column_names.index(c)]
                               ["n_missing"]})


def _coverage(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per agency: families linked (``ext_source_coverage``) and events actually present."""
    total = con.execute("SELECT count(DISTINCT fami_family_id) FROM ssd_family").fetchone()[0]
    linked = dict(con.execute("SELECT cove_source, count(DISTINCT cove_family_id) FROM "
                              "ext_source_coverage GROUP BY 1").fetchall())
    extract = dict(con.execute(f"SELECT meta_agency, max(meta_extract_date) FROM "
                               f"{METADATA_TABLE} GROUP BY 1").fetchall())
    parts = []
    for t in TABLES.values():
        if not (t.event_date and t.person_column) or t.restricted:
            continue
        person, when = val.quote_ident(t.person_column), val.quote_ident(t.event_date)
        if t.agency in AGENCIES:
            agency = val.sql_literal(t.agency)
        else:  # rows name their own agency (ext_health_event)
            service = next(c.name for c in t.columns if c.codes and set(c.codes) ==
                           set(HEALTH_SERVICE_AGENCY))
            cases = " ".join(f"WHEN {val.sql_literal(k)} THEN {val.sql_literal(v)}"
                             for k, v in HEALTH_SERVICE_AGENCY.items())
            agency = f"CASE {val.quote_ident(service)} {cases} END"
        parts.append(f"SELECT {agency} AS agency, {person} AS pid, {when} AS d "
                     f"FROM {val.quote_ident(t.name)}")
    events = {r[0]: r[1:] for r in con.execute(
        f"SELECT agency, count(*), count(DISTINCT pid), min(d), max(d) FROM "
        f"({' UNION ALL '.join(parts)}) GROUP BY 1").fetchall()}
    out = []
    for code, name in AGENCIES.items():
        if code not in linked and code not in events and code not in extract:
            continue
        n_events, people, first, last = events.get(code, (0, 0, None, None))
        n_linked = linked.get(code, 0)
        out.append({"agency": code, "name": name, "families_linked": n_linked,
                    "families_total": total, "share": n_linked / total if total else None,
                    "events": n_events, "people": people,
                    "first": None if first is None else str(first),
                    "last": None if last is None else str(last),
                    "extract_date": None if code not in extract else str(extract[code])})
    return out


def _write_report_tables(con: duckdb.DuckDBPyConnection, report: LoadReport, source: Path,
                         load_date: date) -> None:
    import earlywarning

    issues = report.issues()
    columns = [[i.table for i in issues], [i.rule for i in issues], [i.column for i in issues],
               [i.n_rows for i in issues], [i.message for i in issues]]
    # One statement (a row-at-a-time executemany commits every row).
    con.execute(f"INSERT INTO {wh.REPORT_TABLE} SELECT unnest(?::VARCHAR[]), "
                f"unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), "
                f"unnest(?::VARCHAR[])", columns)
    meta = {
        "fingerprint": report.fingerprint,
        "loaded_at": report.loaded_at,
        "load_date": load_date.isoformat(),
        "source_path": str(source.resolve()),
        "source_kind": report.source_kind,
        "mode": report.mode,
        "clean": str(report.clean).lower(),
        "schema_version": schema_version(),
        "earlywarning_version": getattr(earlywarning, "__version__", "unknown"),
        "duckdb_version": duckdb.__version__,
        "rows_loaded": str(sum(t.rows_accepted for t in report.tables)),
        "rows_rejected": str(sum(t.rows_rejected for t in report.tables)),
        "tables_failed": ",".join(t.table for t in report.tables if t.failed),
    }
    con.execute(f"INSERT INTO {wh.META_TABLE} SELECT unnest(?::VARCHAR[]), "
                f"unnest(?::VARCHAR[])", [list(meta), list(meta.values())])
