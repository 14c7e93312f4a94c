"""The ``app-init`` and ``serve`` subcommands, called lazily from ``earlywarning.cli``."""

from __future__ import annotations

from pathlib import Path

from earlywarning.app._commands import init_app_database, serve
from earlywarning.app._settings import SettingsError, load_settings
from earlywarning.app.services._import import WarehouseImportError
from rich.console import Console
from rich.table import Table

__all__ = ["app_init_command", "serve_command"]


def app_init_command(
    console: Console, warehouse: Path | None, database_url: str | None, demo_users: bool,
    users_file: Path,
) -> int:
    """Run ``earlywarning app-init``; return the exit code."""
    try:
        # app-init signs nothing, so it needs no secret key.
        settings = load_settings(demo_mode=True, warehouse_path=warehouse,
                                 database_url=database_url)
        result = init_app_database(settings, demo_users=demo_users, users_file=users_file)
    except (SettingsError, WarehouseImportError) as exc:
        console.print(f"[red]app-init: {exc}[/red]")
        return 2
    s = result.summary
    if s is None:
        console.print(f"[yellow]No flags imported yet: {result.notice}. The app works "
                      "without them (the ethics board can review runs); run app-init again "
                      "after scoring.[/yellow]")
    else:
        console.print(f"Imported {s.n_flags} flags (as of {s.flags_as_of}), {s.n_people} "
                      f"people, {s.n_events} case events, {s.n_services} service involvements "
                      f"and {s.n_voice_notes} voice notes from {settings.warehouse_path}")
    if result.users:
        table = Table(title="Demo sign-ins (shown once; also in " + str(users_file) + ")")
        for col in ("username", "password", "role", "sees"):
            table.add_column(col)
        for u in result.users:
            table.add_row(u.username, u.password, u.role, u.scope)
        console.print(table)
    return 0


def serve_command(console: Console, host: str, port: int, demo: bool, workers: int = 1) -> int:
    """Run ``earlywarning serve``; return the exit code."""
    try:
        settings = load_settings(demo_mode=True if demo else None)
    except SettingsError as exc:
        console.print(f"[red]serve: {exc}[/red]")
        return 2
    console.print(f"Serving {settings.service_name} for {settings.council_name} at "
                  f"http://{host}:{port}/ (Ctrl+C to stop)")
    serve(settings, host, port, workers=workers)
    return 0
