"""The warehouse: one DuckDB file holding the linked dataset, its load report and quarantine.

Readers call :func:`connect`. The loader builds a new warehouse in a temporary file beside
the old one and :func:`publish` swaps it in with ``os.replace``, so readers see either the
old warehouse or the new one, never half of either, and a failed or killed load leaves the
previous warehouse byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import duckdb
from earlywarning.data.schema import TABLES

__all__ = [
    "DEFAULT_WAREHOUSE",
    "META_TABLE",
    "QUARANTINE_TABLE",
    "REPORT_TABLE",
    "connect",
    "table_fingerprint",
    "hash_sum_sql",
    "warehouse_fingerprint",
    "read_meta",
    "building_path",
    "publish",
    "discard",
    "remove_stale_builds",
]

DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
"""Where ``earlywarning load`` writes unless told otherwise."""

META_TABLE = "_warehouse_meta"
QUARANTINE_TABLE = "_quarantine"
REPORT_TABLE = "_load_report"

_BUILD_MARK = ".building-"


def connect(path: str | os.PathLike = DEFAULT_WAREHOUSE,
            read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse.

    Parameters
    ----------
    path : path-like
        The warehouse file (default ``data/warehouse.duckdb``).
    read_only : bool
        Open read-only (the default): many readers may share the file.

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    FileNotFoundError
        If the warehouse does not exist; the message says how to create it.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(
            f"warehouse {path} does not exist: build it with `earlywarning load PATH "
            f"--warehouse {path}`")
    return duckdb.connect(str(path), read_only=read_only)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """Row count and an order-independent hash sum of every row of ``table``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse.
    table : str
        Table name (a schema table: its declared columns are hashed, in order).

    Returns
    -------
    tuple of int
        ``(row_count, hash_sum)``; the hash sum adds DuckDB's ``hash`` of each row, so
        it does not depend on row order or storage layout.
    """
    cols = TABLES[table].column_names if table in TABLES else [
        r[0] for r in con.execute(f"DESCRIBE {_quote(table)}").fetchall()]
    n, total = con.execute(
        f"SELECT count(*), {hash_sum_sql(cols)} FROM {_quote(table)}").fetchone()
    return int(n), int(total)


def hash_sum_sql(columns: list[str]) -> str:
    """Aggregate SQL giving the order-independent hash sum of :func:`table_fingerprint`."""
    return f"coalesce(sum(hash({', '.join(_quote(c) for c in columns)})), 0)"


def warehouse_fingerprint(con: duckdb.DuckDBPyConnection,
                          known: dict[str, tuple[int, int]] | None = None) -> str:
    """Content hash of every schema table in the warehouse (restricted ones included).

    Two warehouses holding the same rows have the same fingerprint, whatever the row
    order, the load time or the source format. It is what feature manifests record.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse.
    known : dict, optional
        :func:`table_fingerprint` results already computed (by the loader, in the pass
        that profiles each table); other tables are hashed here.

    Returns
    -------
    str
        ``sha256:<hex>`` of each table's name, row count and row-hash sum.
    """
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    digest = hashlib.sha256()
    for name in TABLES:
        if name in present:
            n, total = (known or {}).get(name) or table_fingerprint(con, name)
            digest.update(f"{name}\t{n}\t{total}\n".encode())
    return "sha256:" + digest.hexdigest()


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Return the ``_warehouse_meta`` pairs (fingerprint, loaded_at, source_path...)."""
    return dict(con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())


def building_path(warehouse: str | os.PathLike) -> Path:
    """Return a fresh temporary path, in the warehouse's folder, to build a new one in.

    Same folder, so :func:`publish` is a rename on one file system. The name carries the
    process id so :func:`remove_stale_builds` can tell abandoned builds from live ones.
    """
    warehouse = Path(warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return warehouse.with_name(
        f".{warehouse.name}{_BUILD_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def publish(built: str | os.PathLike, warehouse: str | os.PathLike) -> None:
    """Atomically replace ``warehouse`` by the closed, checkpointed file ``built``.

    A write-ahead log left beside the old warehouse belongs to the old file: it is removed
    first so DuckDB never replays it onto the new one.
    """
    warehouse = Path(warehouse)
    stale_wal = Path(f"{warehouse}.wal")
    if stale_wal.exists():
        stale_wal.unlink()
    os.replace(built, warehouse)


def discard(built: str | os.PathLike) -> None:
    """Delete a build file, its write-ahead log and its spill folder, if present."""
    for path in (Path(built), Path(f"{built}.wal")):
        if path.exists():
            path.unlink()
    spill = Path(f"{built}.tmp")
    if spill.is_dir():
        for child in spill.iterdir():
            child.unlink()
        spill.rmdir()


def remove_stale_builds(warehouse: str | os.PathLike) -> list[Path]:
    """Delete build files left by loads whose process no longer runs (e.g. killed).

    Returns
    -------
    list of Path
        The files removed.
    """
    import psutil

    warehouse = Path(warehouse)
    removed = []
    if not warehouse.parent.is_dir():
        return removed
    for path in warehouse.parent.glob(f".{warehouse.name}{_BUILD_MARK}*"):
        if path.suffix in (".wal", ".tmp"):
            continue
        pid_text = path.name.split(_BUILD_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not psutil.pid_exists(int(pid_text)):
            discard(path)
            removed.append(path)
    return removed
