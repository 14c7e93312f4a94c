"""What ``earlywarning app-init`` and ``earlywarning serve`` do (the CLI stays thin)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from earlywarning.app._db import create_schema, make_engine, make_sessionmaker
from earlywarning.app._settings import Settings
from earlywarning.app.services._import import ImportSummary, NoFlagsYet, import_from_warehouse
from earlywarning.app.services._users import DemoUser, create_demo_users, write_demo_users

__all__ = ["InitResult", "init_app_database", "serve"]


@dataclass
class InitResult:
    """What ``app-init`` did."""

    summary: ImportSummary | None
    users: list[DemoUser]
    notice: str | None = None
    """Why nothing was imported (no flags yet), if so."""


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
        try:
            summary = import_from_warehouse(db, settings.warehouse_path,
                                            capacity=settings.capacity)
        except NoFlagsYet as exc:
            # Before the first scoring (the board approves a model first) the
            # app still starts: the ethics pages work, the flag list is empty.
            summary, notice = None, str(exc)
        else:
            notice = None
        users = create_demo_users(db) if demo_users else []
    engine.dispose()
    if users and users_file is not None:
        write_demo_users(users, users_file, url)
    return InitResult(summary, users, notice)


def serve(settings: Settings, host: str, port: int, workers: int = 1,
          access_log: bool = True) -> None:
    """Run the app with uvicorn until interrupted.

    With ``workers > 1`` each worker process builds the app from the ``EW_*``
    environment; a demo run without a secret key gets one shared random key
    so that every worker accepts every session cookie.
    """
    import uvicorn
    from earlywarning.app._web import create_app

    # Keep idle connections longer than a person pauses between pages, so a
    # browser's next request does not race the server closing its connection.
    common = dict(host=host, port=port, log_level="info", proxy_headers=False,
                  server_header=False, access_log=access_log, timeout_keep_alive=30)
    if workers <= 1:
        uvicorn.run(create_app(settings), **common)
        return
    os.environ["EW_SECRET_KEY"] = settings.effective_secret_key
    if settings.demo_mode:
        os.environ["EW_DEMO_MODE"] = "1"
    for name in ("database_url", "warehouse_path", "runs_dir"):
        os.environ[f"EW_{name.upper()}"] = str(getattr(settings, name))
    uvicorn.run("earlywarning.app._web:create_app", factory=True, workers=workers, **common)
