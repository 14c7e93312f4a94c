"""The app database: SQLAlchemy 2 engine and sessions (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

__all__ = ["Base", "make_engine", "make_sessionmaker", "create_schema"]


class Base(DeclarativeBase):
    """Declarative base of every app table."""


def make_engine(database_url: str) -> Engine:
    """Create an engine for ``database_url``.

    SQLite files get their folder created, write-ahead logging (readers do not
    block the writer) and foreign keys switched on.
    """
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(database_url, pool_size=20, max_overflow=40, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


_APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
    "BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
    "BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END",
]
_APPEND_ONLY_PG = [
    "CREATE OR REPLACE FUNCTION ew_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
    "FOR EACH ROW EXECUTE FUNCTION ew_append_only()",
    "CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ew_append_only()",
]
APPEND_ONLY_TABLES = ("audit_events", "decisions", "run_reviews")


def create_schema(engine: Engine) -> None:
    """Create every app table and the append-only triggers.

    The audit log, decisions and run reviews refuse UPDATE and DELETE in the
    database itself, whichever code connects.
    """
    from earlywarning.app import _models  # noqa: F401 - registers the tables

    Base.metadata.create_all(engine)
    stmts = _APPEND_ONLY_SQLITE if engine.dialect.name == "sqlite" else _APPEND_ONLY_PG
    with engine.begin() as conn:
        for table in APPEND_ONLY_TABLES:
            for stmt in stmts:
                conn.execute(text(stmt.format(t=table)))
