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
import numpy as np
from earlywarning.data import _report as rep
from earlywarning.data import _validate as val
from earlywarning.data import warehouse as wh
from earlywarning.data._profile import coverage, profile_table
from earlywarning.data._report import Issue, LoadReport, RuleCount, TableReport
from earlywarning.data._sources import Extract, count_relation, discover, open_source
from earlywarning.data.schema import (
    IDENTIFYING_SSD_PERSON_COLUMNS,
    TABLES,
)

__all__ = ["LoadResult", "LoadReport", "load", "schema_version"]

METADATA_TABLE = "ext_source_metadata"
IDENTITY_TABLE = "ext_person_identity"
PERSON_TABLE = "ssd_person"

SORTED_KEY_CHECK_MAX_ROWS = 64_000_000
"""Largest table whose key hashes are sorted in memory (512 MB) for the duplicate check."""

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
    extracts, ignored, kind = discover(source)
    report = LoadReport(
        source_path=str(source), source_kind=kind, warehouse=str(warehouse),
        mode="quarantine" if quarantine else "strict",
        loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), ignored=ignored)
    wh.remove_stale_builds(warehouse)
    built = wh.building_path(warehouse)
    con = duckdb.connect(str(built))
    try:
        con.execute("SET enable_progress_bar = false")  # progress goes to ``progress``
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
        report.coverage = coverage(con)
        report.fingerprint = wh.warehouse_fingerprint(con, state.fingerprints)
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


# --- building the warehouse ---------------------------------------------------------------
@dataclass
class _LoadState:
    load_date: date
    extract_dates: dict[str, date] = field(default_factory=dict)
    identity_sql: str | None = None
    identity_columns: tuple[str, ...] = ()
    fingerprints: dict[str, tuple[int, int]] = field(default_factory=dict)


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES.values():
        cols = ", ".join(val.column_definition_sql(t, c) for c in t.columns)
        con.execute(f"CREATE TABLE {val.quote_ident(t.name)} ({cols})")
    con.execute(f'CREATE TABLE {wh.QUARANTINE_TABLE} ("table" VARCHAR, source_file VARCHAR, '
                f'row_number BIGINT, "column" VARCHAR, rule VARCHAR, message VARCHAR, '
                f'raw_row VARCHAR)')
    con.execute(f'CREATE TABLE {wh.REPORT_TABLE} ("table" VARCHAR, rule VARCHAR, '
                f'"column" VARCHAR, n_rows BIGINT, message VARCHAR)')
    con.execute(f"CREATE TABLE {wh.META_TABLE} (key VARCHAR, value VARCHAR)")


def _extract_dates(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """Latest extract date of each table named in the (loaded) ``ext_source_metadata``."""
    return dict(con.execute(f"SELECT meta_table, max(meta_extract_date) FROM {METADATA_TABLE} "
                            "GROUP BY 1").fetchall())


def _load_table(con: duckdb.DuckDBPyConnection, ex: Extract, state: _LoadState) -> TableReport:
    """Validate one table's extract, insert its valid rows, quarantine the rest."""
    t = ex.table
    tr = TableReport(t.name, ex.file if ex.path else None, restricted=t.restricted)
    if ex.kind == "missing":
        if t.name == IDENTITY_TABLE and state.identity_sql:
            tr.rows_read = 0
            _add_identity(con, tr, state)
            return tr
        return tr.fail(val.MISSING_FILE, val.MSG_MISSING_FILE, file=f"{t.name}.*")
    types = open_source(con, ex, tr)
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
            tr.fail(val.MISSING_COLUMN, val.MSG_MISSING_COLUMN, file=ex.file, column=col)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS "
                    f"{val.missing_column_rows_sql(src, '__typed')}")
        _quarantine(con, tr, ex.file)
    else:
        tr.rows_read = con.execute(f"SELECT count(*) FROM {count_relation(ex)}").fetchone()[0]
        has_dups = _duplicate_candidates(con, src, tr.rows_read)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __dup AS "
                    f"{val.duplicate_keys_sql(src, '__typed', '__duph' if has_dups else None)}")
        # The one full pass: every rule and lookup evaluated once per row, kept in memory
        # (spilling beyond the memory limit) for the insert and the quarantine.
        con.execute(f"CREATE OR REPLACE TEMP TABLE __checked AS "
                    f"{val.checked_rows_sql(src, '__typed', '__dup')}")
        n_bad = con.execute("SELECT count(*) FILTER (__bad) FROM __checked").fetchone()[0]
        if n_bad:  # reasons and messages are built for the rejected rows only
            con.execute("CREATE OR REPLACE TEMP TABLE __badrows AS "
                        "SELECT * FROM __checked WHERE __bad")
            con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS "
                        f"{val.rejected_rows_sql(src, '__badrows')}")
            _quarantine(con, tr, ex.file)
        cols = ", ".join(val.quote_ident(c) for c in t.column_names)
        accepted = "__checked WHERE NOT __bad" if n_bad else "__checked"
        tr.rows_accepted = con.execute(
            f"INSERT INTO main.{val.quote_ident(t.name)} ({cols}) SELECT {cols} "
            f"FROM {accepted}").fetchone()[0]
        if moved:
            _stash_identity(src, moved, state, accepted)
    if tr.rows_read is None:
        tr.rows_read = con.execute(f"SELECT count(*) FROM {count_relation(ex)}").fetchone()[0]
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
    state.fingerprints[t.name] = profile_table(con, t, tr)
    if t.name == METADATA_TABLE:
        state.extract_dates = _extract_dates(con)
    for temp in ("__csv", "__checked", "__badrows", "__bad", "__duph", "__dup"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")  # frees its memory or spill space
    return tr


def _duplicate_candidates(con: duckdb.DuckDBPyConnection, src: val.TableSource,
                          n_rows: int) -> bool:
    """Create ``__duph``, the key hashes seen more than once; return whether there are any.

    Up to :data:`SORTED_KEY_CHECK_MAX_ROWS` rows the 64-bit hashes are sorted with numpy
    (8 bytes a row, several times cheaper than DuckDB's hash aggregate over as many
    groups as rows); beyond it DuckDB groups them, spilling within its memory limit.
    """
    if n_rows > SORTED_KEY_CHECK_MAX_ROWS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __duph AS "
                    f"{val.duplicate_hashes_sql(src, '__typed')}")
        return con.execute("SELECT count(*) FROM __duph").fetchone()[0] > 0
    hashes = con.execute(val.key_hashes_sql(src, "__typed")).fetchnumpy()["h"]
    hashes.sort()
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    con.execute("CREATE OR REPLACE TEMP TABLE __duph AS SELECT unnest(?::UBIGINT[]) AS h",
                [repeated.tolist()])
    return len(repeated) > 0


def _stash_identity(src: val.TableSource, moved: list[str], state: _LoadState,
                    accepted: str) -> None:
    pid = val.quote_ident(src.table.primary_key[0])
    targets = [IDENTIFYING_SSD_PERSON_COLUMNS[c] for c in moved]
    items = ", ".join(f"CAST({val.quote_ident('__extra__' + c)} AS VARCHAR) AS "
                      f"{val.quote_ident(IDENTIFYING_SSD_PERSON_COLUMNS[c])}" for c in moved)
    state.identity_sql = f"SELECT {pid} AS iden_person_id, {items} FROM {accepted}"
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
