"""The ``earlywarning generate`` command: progress bars per stage and a summary table."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["run_generate"]

STAGES = ("population", "simulate", "people", "social care", "agencies", "write")


def run_generate(out: Path, *, children: int | None, years: int | None, seed: int | None,
                 fmt: str, config: Path | None, console: Console) -> None:
    """Validate the options, generate with progress bars, print a summary.

    Raises
    ------
    typer.Exit
        With code 2 when the config or an option is invalid (the message says which).
    """
    from earlywarning.data.synthetic import generate_la, load_config

    try:
        cfg = load_config(config, children=children, years=years, seed=seed)
    except (ValueError, OSError) as exc:
        console.print(f"[red]earlywarning generate: {exc}")
        raise typer.Exit(2) from exc
    if fmt not in ("parquet", "csv"):
        console.print(f"[red]earlywarning generate: --format {fmt!r}: use parquet or csv")
        raise typer.Exit(2)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description:<12}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        tasks = {s: bar.add_task(s, total=1) for s in STAGES}

        def progress(stage: str, done: float, total: float) -> None:
            if stage in tasks:
                bar.update(tasks[stage], completed=done, total=total)

        summary = generate_la(cfg, out, fmt=fmt, progress=progress)
    elapsed = time.perf_counter() - started
    t = Table(title=f"Synthetic LA written to {out} in {elapsed:.1f} s")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in summary.row_counts.items():
        t.add_row(name, f"{n:,}")
    t.add_row("[bold]ground truth child-months", f"{summary.ground_truth_rows:,}")
    t.add_row("[bold]defects injected", f"{summary.defects:,}")
    console.print(t)
    cal = summary.calibration
    last = cal[cal["year"] == cal[cal["year"] != "all"]["year"].max()]
    c = Table(title="Calibration, last complete year (England targets from REFERENCE.md)")
    for col in ("measure", "measured", "target", "within ±20%"):
        c.add_column(col)
    for _, r in last[last["target"].notna()].iterrows():
        c.add_row(r["measure"], f"{r['value']:.1f}", f"{r['target']:.1f}",
                  "yes" if r["within_20pct"] else "[yellow]no")
    console.print(c)
    share = summary.model.get("unobserved_share_measured")
    if share is not None:
        console.print(f"Unobserved share of the escalation hazard's variance: {share:.2f}")
