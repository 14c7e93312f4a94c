"""The ``earlywarning score`` and ``earlywarning explain`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

__all__ = ["explain_command", "score_command"]


def _load(pipeline: Path, console: Console) -> Any | None:
    from earlywarning.config import PipelineConfigError, load_pipeline

    try:
        return load_pipeline(pipeline)
    except PipelineConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return None


def score_command(console: Console, pipeline: Path, as_of: str | None,
                  allow_candidate: bool) -> int:
    """Score a pipeline at an as-of date and print the flags with their first reasons.

    Returns
    -------
    int
        0 on success, 2 when scoring is refused (the message says why).
    """
    from earlywarning.models.scoring import ScoringError, resolve_as_of, score

    cfg = _load(pipeline, console)
    if cfg is None:
        return 2
    try:
        date = resolve_as_of(cfg, as_of)
        with console.status(f"scoring {cfg.name} at {date} …"):
            result = score(cfg, date, allow_candidate=allow_candidate)
    except (ScoringError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        console.print("The previous flags are unchanged.")
        return 2
    flags = result.flags
    first = (result.reasons.sort_values("order").groupby("flag_id")["text"].first())
    table = Table(title=f"{len(flags)} flags for {cfg.name} at {date} "
                        f"(capacity {cfg.capacity.flags_per_month} a month)")
    for col in ("rank", "child", "risk", "band", "main reason"):
        table.add_column(col)
    for f in flags.head(20).itertuples():
        table.add_row(str(f.rank), f.person_id, f"{f.risk:.0%}", f.band,
                      first.get(f.flag_id, ""))
    console.print(table)
    if len(flags) > 20:
        console.print(f"… and {len(flags) - 20} more.")
    if len(flags):
        approved = "approved" if result.model_alias == "champion" else "NOT approved: candidate"
        console.print(f"Model {flags.model_name.iloc[0]} version {flags.model_version.iloc[0]} "
                      f"({approved}); written to the warehouse ({cfg.data.warehouse}) and "
                      f"{result.out_dir}"
                      + (f"; MLflow run {result.mlflow_run_id}" if result.mlflow_run_id else ""))
    return 0


def _stored_flag(cfg: Any, person_id: str) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame] | None:
    """Find the person's latest stored flag of this pipeline, with reasons and provenance."""
    import duckdb
    from earlywarning.models._registry_io import registered_model_name

    warehouse = Path(cfg.data.warehouse)
    if not warehouse.exists():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if not {"flags", "flag_reasons", "flag_provenance"} <= tables:
            return None
        flag = con.execute(
            "SELECT * FROM flags WHERE person_id = ? AND model_name = ? "
            "ORDER BY as_of DESC LIMIT 1", [person_id, registered_model_name(cfg.name)]).df()
        if flag.empty:
            return None
        fid = flag["flag_id"].iloc[0]
        reasons = con.execute('SELECT * FROM flag_reasons WHERE flag_id = ? ORDER BY "order"',
                              [fid]).df()
        prov = con.execute("SELECT * FROM flag_provenance WHERE flag_id = ?", [fid]).df()
        return flag.iloc[0], reasons, prov
    finally:
        con.close()


def _print_reasons(console: Console, reasons: pd.DataFrame) -> None:
    heads = {"risk": "Reasons for concern", "protective": "Reasons against (protective)",
             "missing_data": "Missing data"}
    for direction, title in heads.items():
        part = reasons[reasons["direction"] == direction]
        if part.empty:
            continue
        console.print(f"[bold]{title}[/bold]")
        for text in part.sort_values("order")["text"]:
            console.print(f"  • {text}", highlight=False)


def explain_command(console: Console, pipeline: Path, person_id: str, as_of: str | None,
                    allow_candidate: bool) -> int:
    """Print the reasons for one child's risk.

    A flagged child's stored flag is shown with its provenance; any other child
    in the cohort is explained live from the feature table with the approved
    model.

    Returns
    -------
    int
        0 on success, 2 when the child or the model cannot be found.
    """
    from earlywarning.models._registry_io import (
        ScoringError,
        build_features_for,
        load_dictionary_for,
        load_scoring_model,
    )
    from earlywarning.models.explain import ReasonSettings, explain, predict_risk
    from earlywarning.models.scoring import resolve_as_of, risk_band

    cfg = _load(pipeline, console)
    if cfg is None:
        return 2
    stored = None if as_of else _stored_flag(cfg, person_id)
    if stored is not None:
        flag, reasons, prov = stored
        console.print(f"[bold]{person_id}[/bold] flagged at {flag['as_of']:%Y-%m-%d}: rank "
                      f"{flag['rank']}, risk {flag['risk']:.0%}, {flag['band']}; model "
                      f"{flag['model_name']} version {flag['model_version']}")
        _print_reasons(console, reasons)
        console.print("[bold]Sources and limits[/bold]")
        for p in prov.itertuples():
            when = "" if pd.isna(p.extract_date) else f" (extract {p.extract_date:%Y-%m-%d})"
            console.print(f"  • {p.note}{when}", highlight=False)
        return 0
    try:
        date = resolve_as_of(cfg, as_of)
        loaded = load_scoring_model(cfg.name, allow_candidate)
        rows = build_features_for(cfg, date)
        row = rows[rows["person_id"].astype(str) == person_id]
        if row.empty:
            raise ScoringError(f"{person_id} is not in the {cfg.cohort.name} cohort of "
                               f"{cfg.name} at {date}")
        dictionary = load_dictionary_for(cfg, loaded)
        exp = explain(loaded.model, row, dictionary,
                      settings=ReasonSettings(n_risk=cfg.scoring.top_reasons))
        risk = float(predict_risk(loaded.model, row)[0])
    except (ScoringError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    band = risk_band([risk], dict(cfg.scoring.bands))[0]
    console.print(f"[bold]{person_id}[/bold] at {date} (not flagged): risk {risk:.0%}, {band}; "
                  f"model {loaded.name} version {loaded.version} ({loaded.alias})")
    _print_reasons(console, exp.reasons)
    return 0
