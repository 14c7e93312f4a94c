"""Command-line handlers for ``audit``, ``audit-scores`` and ``approve`` (called by ``cli.py``)."""

from __future__ import annotations

import getpass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ._approval import ApprovalError, approve
from ._audit import AuditSettings
from ._data import group_label
from ._run import AuditOutput, audit_run, audit_scores_file


def _summary(console: Console, out: AuditOutput) -> None:
    r = out.result
    verdict = "[green]PASSED" if r.bar_passed else "[red]FAILED"
    console.print(f"Fairness bar: {verdict}[/] ({r.n_rows:,} rows audited)")
    t = r.table[r.table.disparity]
    if len(t):
        table = Table(title="Clear disparities (95% interval of the difference excludes 0)")
        for col in ("attribute", "group", "metric", "value", "difference", "95% interval"):
            table.add_column(col)
        for row in t.sort_values("diff_ref", key=abs, ascending=False).head(12).itertuples():
            table.add_row(row.attribute_label, group_label(row.attribute, row.group),
                          row.metric_label, f"{row.value:.3f}",
                          f"{row.diff_ref:+.3f}",
                          f"{row.diff_ref_low:+.3f} to {row.diff_ref_high:+.3f}")
        console.print(table)
    for note in r.notes:
        console.print(f"[yellow]{note}")
    console.print(f"Ethics report: {out.report} (sha256 {out.report_sha256[:12]}…)")


def audit_command(console: Console, run_dir: Path, n_boot: int | None, log: bool) -> int:
    """Run ``earlywarning audit RUN_DIR``; return the exit code."""
    try:
        out = audit_run(run_dir, n_boot=n_boot, log_to_mlflow=log,
                        say=lambda s: console.print(f"[dim]{s}"))
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]audit: {err}")
        return 2
    _summary(console, out)
    return 0


def audit_scores_command(console: Console, file: Path, score_col: str, label_col: str,
                         group_cols: list[str], flagged_col: str | None, threshold: float | None,
                         top_fraction: float | None, intersections: list[str],
                         min_group_size: int, n_boot: int, seed: int, out_dir: Path | None,
                         cluster_col: str | None = None) -> int:
    """Run ``earlywarning audit-scores FILE``; return the exit code."""
    groups = [c.strip() for g in group_cols for c in g.split(",") if c.strip()]
    pairs = []
    for item in intersections:
        parts = [p.strip() for p in item.replace("×", "*").split("*")]
        pairs.append(tuple(parts))
    try:
        out = audit_scores_file(
            file, group_cols=groups, score_col=score_col, label_col=label_col,
            flagged_col=flagged_col, threshold=threshold, top_fraction=top_fraction,
            intersections=pairs, out_dir=out_dir, cluster_col=cluster_col,
            settings=AuditSettings(min_group_size=min_group_size, n_boot=n_boot, seed=seed),
            say=lambda s: console.print(f"[dim]{s}"))
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]audit-scores: {err}")
        return 2
    _summary(console, out)
    return 0


def approve_command(console: Console, run_dir: Path, decision: str, reason: str,
                    by: str | None) -> int:
    """Run ``earlywarning approve RUN_DIR``; return the exit code."""
    who = by or getpass.getuser()
    try:
        record = approve(run_dir, decision, reason, who)
    except ApprovalError as err:
        console.print(f"[red]approve: {err}")
        return 2
    moved = (f"alias 'champion' now points at {record.model_name} version "
             f"{record.model_version}" if record.alias_moved else "no alias moved")
    console.print(f"Recorded decision #{record.seq}: {record.decision} by {record.by} at "
                  f"{record.at} against report sha256 {record.report_sha256[:12]}…; {moved}")
    return 0
