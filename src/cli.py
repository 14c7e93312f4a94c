"""The ``earlywarning`` command line: every stage is a subcommand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="earlywarning",
    help="Explained, audited early-warning flags for Early Help in children's services.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _root() -> None:
    """Explained, audited early-warning flags for Early Help in children's services."""


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the data dictionary as Markdown.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the Markdown data dictionary to this file.")
    ] = None,
) -> None:
    """Show the linked dataset contract (tables, keys, codes, rules)."""
    from earlywarning.data.schema import TABLES, data_dictionary_markdown

    if markdown or out:
        text = data_dictionary_markdown()
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            console.print(f"Wrote data dictionary to {out}")
        else:
            typer.echo(text)
        return
    from rich.table import Table as RichTable

    t = RichTable(title="Linked dataset tables")
    for col in ("table", "one row per", "agency", "columns", "primary key"):
        t.add_column(col)
    for tab in TABLES.values():
        t.add_row(tab.name, tab.grain, tab.agency, str(len(tab.columns)), ", ".join(tab.primary_key))
    console.print(t)


def main() -> None:
    """Entry point for ``python -m earlywarning.cli``."""
    app()


if __name__ == "__main__":
    main()
