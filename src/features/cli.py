"""The ``earlywarning features`` command: progress bars per stage and a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

__all__ = ["run_features"]


def run_features(pipeline: Path, console: Console) -> int:
    """Build the feature table of ``pipeline``, printing progress and a summary.

    Returns
    -------
    int
        Exit code: 0 on success, 2 for a bad pipeline or warehouse.
    """
    from earlywarning.config import PipelineConfigError, load_pipeline

    from .build import FeatureBuildError, build_features

    try:
        cfg = load_pipeline(pipeline)
    except PipelineConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def step(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            result = build_features(cfg, source=str(pipeline), progress=step)
        except FeatureBuildError as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            return 2
    m = result.manifest
    table = Table(title=f"{m['pipeline']}: cohort {m['cohort']}, outcome {m['outcome']} within "
                        f"{m['horizon_days']} days")
    for col in ("as-of date", "role", "children", "positives", "base rate", "horizon"):
        table.add_column(col, justify="right")
    for d in m["as_of_dates"]:
        rate = "-" if d["base_rate"] is None else f"{d['base_rate']:.2%}"
        pos = "-" if d["n_positive"] is None else str(d["n_positive"])
        table.add_row(d["date"], d["role"], f"{d['n_rows']:,}", pos, rate,
                      "complete" if d["horizon_complete"] else "incomplete")
    console.print(table)
    console.print(f"{m['row_count']:,} rows, {len(m['feature_columns'])} features, "
                  f"{len(m['audit_columns'])} audit columns -> {result.out_dir}")
    return 0
