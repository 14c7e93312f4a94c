"""What ``earlywarning app-init`` and ``earlywarning serve`` do (the CLI stays thin)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from earlywarning.app._db import create_schema, make_engine, make_sessionmaker
from earlywarning.app._settings import Settings
from earlywarning.app.services._import import ImportSummary, import_from_warehouse
from earlywarning.app.services._users import DemoUser, create_demo_users, write_demo_users

__all__ = ["InitResult", "init_app_database", "serve"]


@dataclass
class InitResult:
    """What ``app-init`` did."""

    summary: ImportSummary | None
    users: list[DemoUser]


def init_app_database(
    settings: Settings, *, demo_users: bool = True, users_file: Path | None = None,
    url: str = "http://127.0.0.1:8000",
) -> InitResult:
    """Create the app database, import flags from the warehouse, create demo users.

    Parameters
    ----------
    settings : Settings
        Database URL, warehouse path and capacity come from here.
    demo_users : bool
        Create one user per role with a fresh random password.
    users_file : Path, optional
        Where to write the demo sign-ins (owner-readable only).
    url : str
        The address printed in the users file.
    """
    engine = make_engine(settings.database_url)
    create_schema(engine)
    factory = make_sessionmaker(engine)
    with factory() as db:
        summary = import_from_warehouse(db, settings.warehouse_path, capacity=settings.capacity)
        users = create_demo_users(db) if demo_users else []
    engine.dispose()
    if users and users_file is not None:
        write_demo_users(users, users_file, url)
    return InitResult(summary, users)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn
    from earlywarning.app._web import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                proxy_headers=False, server_header=False)
