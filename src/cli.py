"""The ``earlywarning`` command line: every stage is a subcommand."""

from __future__ import annotations

import time
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
def _root(ctx: typer.Context) -> None:
    """Explained, audited early-warning flags for Early Help in children's services."""
    import os

    from earlywarning.memory import without_huge_pages

    # MLflow's artifact download bars would interleave with our own progress output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # every stage allocates and frees large arrays: 4 KB pages cost far less to fault in
    ctx.with_resource(without_huge_pages())


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
        t.add_row(tab.name, tab.grain, tab.agency, str(len(tab.columns)),
                  ", ".join(tab.primary_key))
    console.print(t)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the synthetic LA into.")],
    children: Annotated[int | None, typer.Option("--children", help="Children aged 0-17 at "
                                                 "the end date (default 60,000).")] = None,
    years: Annotated[int | None, typer.Option("--years", help="Years of records.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of "
                                                "SyntheticConfig knobs.")] = None,
) -> None:
    """Generate a synthetic local authority (tables, ground truth, generation.json)."""
    from earlywarning.data.synthetic._cli import run_generate

    run_generate(out, children=children, years=years, seed=seed, fmt=fmt, config=config,
                 console=console)


@app.command()
def load(
    path: Annotated[Path, typer.Argument(help="Folder of <table>.csv|.parquet extracts, or a "
                                              "DuckDB file.")],
    warehouse: Annotated[Path, typer.Option("--warehouse", help="Warehouse to (re)build.")
                         ] = Path("data/warehouse.duckdb"),
    quarantine: Annotated[bool, typer.Option(
        "--quarantine", help="Publish the valid rows; rejected rows go to _quarantine. "
                             "Default (strict): publish only if nothing is rejected.")] = False,
    report_dir: Annotated[Path | None, typer.Option(
        "--report-dir", help="Where to write load_report.json/.md (default: beside the "
                             "warehouse).")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="DuckDB memory limit, e.g. 4GB (it spills beyond).")] = None,
) -> None:
    """Validate extracts and load them into the warehouse, atomically, with a load report."""
    from earlywarning.data.load import load as load_extracts
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("loading", total=None)

        def step(table: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=table or "done")

        try:
            result = load_extracts(path, warehouse, quarantine=quarantine,
                                   report_dir=report_dir, memory_limit=memory_limit,
                                   progress=step)
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from exc
    result.report.print(console)
    console.print(f"Report: {result.report_paths[0]}  {result.report_paths[1]}")
    if not result.published:
        raise typer.Exit(1)


@app.command()
def features(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
) -> None:
    """Build the point-in-time feature table (cohort, labels, features, dictionary)."""
    from earlywarning.features.cli import run_features

    raise typer.Exit(run_features(pipeline, console))


@app.command()
def train(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
) -> None:
    """Train, evaluate against the pre-registered pass bar, log to MLflow, register if met."""
    from earlywarning.models._cli import train_command

    raise typer.Exit(train_command(console, pipeline))


@app.command()
def evaluate(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
    run_dir: Annotated[Path | None, typer.Option(
        "--run-dir", help="Re-evaluate this run folder against its own pass bar (default: "
                          "train and evaluate afresh).")] = None,
) -> None:
    """Evaluate a model: metrics beside base rates, at capacity, with CIs; HTML report."""
    from earlywarning.models._cli import evaluate_command

    raise typer.Exit(evaluate_command(console, pipeline, run_dir))


@app.command()
def ablate(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
    run_dir: Annotated[Path | None, typer.Option(
        "--run-dir", help="Run folder to add the ablation to (default: the latest run).")
    ] = None,
) -> None:
    """Retrain without each agency's data: what each source adds to precision at capacity."""
    from earlywarning.models._cli import ablate_command

    raise typer.Exit(ablate_command(console, pipeline, run_dir))


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
) -> None:
    """Chain generate/load (if needed), features, train, evaluate, ablation and report."""
    from earlywarning.models._cli import run_command

    raise typer.Exit(run_command(console, pipeline))


@app.command()
def score(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="As-of date to score (default: scoring.as_of / as_of.score).")] = None,
    allow_candidate: Annotated[bool, typer.Option(
        "--allow-candidate", help="Score with the unapproved 'candidate' model (testing only).")
    ] = False,
) -> None:
    """Score the cohort with the approved model: flags with risk, band, reasons, provenance."""
    from earlywarning.models._score_cli import score_command

    raise typer.Exit(score_command(console, pipeline, as_of, allow_candidate))


@app.command()
def explain(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file, e.g. pipelines/demo.yaml.")],
    person_id: Annotated[str, typer.Option("--person-id", help="Pseudonymous person id.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Explain at this date instead of the latest stored flag.")] = None,
    allow_candidate: Annotated[bool, typer.Option(
        "--allow-candidate", help="Use the unapproved 'candidate' model (testing only).")
    ] = False,
) -> None:
    """Print the reasons for and against one child's risk, with sources and limits."""
    from earlywarning.models._score_cli import explain_command

    raise typer.Exit(explain_command(console, pipeline, person_id, as_of, allow_candidate))


@app.command("app-init")
def app_init(
    warehouse: Annotated[Path | None, typer.Option(
        help="Warehouse with flags (default EW_WAREHOUSE_PATH or data/warehouse.duckdb).")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="App database URL (default EW_DATABASE_URL or sqlite:///data/app.db).")] = None,
    demo_users: Annotated[bool, typer.Option(help="Create one demo user per role.")] = True,
    users_file: Annotated[Path, typer.Option(help="Where to write demo sign-ins.")] = Path(
        "data/demo_users.txt"),
) -> None:
    """Create the web app's database, import flags from the warehouse, create demo users."""
    from earlywarning.app._cli import app_init_command

    raise typer.Exit(app_init_command(console, warehouse, database_url, demo_users, users_file))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Demo mode: allow a random secret key.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the web app (set EW_SECRET_KEY, or use --demo on your own machine)."""
    from earlywarning.app._cli import serve_command

    raise typer.Exit(serve_command(console, host, port, demo, workers))


@app.command()
def audit(
    run_dir: Annotated[Path, typer.Argument(help="Run folder, e.g. runs/demo/20250101-120000.")],
    replicates: Annotated[int | None, typer.Option(
        help="Bootstrap replicates (default: the pipeline's audit.bootstrap_replicates).")] = None,
    mlflow_log: Annotated[bool, typer.Option(
        "--mlflow/--no-mlflow", help="Log the audit to the run in MLflow.")] = True,
) -> None:
    """Fairness audit of a run: ethics report, model card, ATRS record, datasheets."""
    from earlywarning.fairness._cli import audit_command

    raise typer.Exit(audit_command(console, run_dir, replicates, mlflow_log))


@app.command("audit-scores")
def audit_scores(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet of scores, outcomes and groups.")],
    group_cols: Annotated[list[str], typer.Option(
        "--group-cols", help="Group columns (repeat or comma-separate).")],
    score_col: Annotated[str, typer.Option(help="Score column (0-1).")] = "score",
    label_col: Annotated[str, typer.Option(help="Outcome column (0/1).")] = "label",
    flagged_col: Annotated[str | None, typer.Option(help="Column of flags at capacity.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Flag scores at or above this.")] = None,
    top_fraction: Annotated[float | None, typer.Option(
        help="Flag the highest-scoring fraction.")] = None,
    intersection: Annotated[list[str], typer.Option(
        help="Pair of group columns audited jointly, e.g. 'ethnicity*imd'.")] = [],  # noqa: B006
    min_group_size: Annotated[int, typer.Option(help="Smaller groups: too few to say.")] = 30,
    replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    cluster_col: Annotated[str | None, typer.Option(
        help="Rows sharing this column (e.g. a family id) are resampled together.")] = None,
) -> None:
    """Audit another tool's risk scores with the same ethics report."""
    from earlywarning.fairness._cli import audit_scores_command

    raise typer.Exit(audit_scores_command(
        console, file, score_col, label_col, group_cols, flagged_col, threshold, top_fraction,
        intersection, min_group_size, replicates, seed, out, cluster_col))


@app.command()
def approve(
    run_dir: Annotated[Path, typer.Argument(help="Audited run folder.")],
    decision: Annotated[str, typer.Option(help="approve or refuse.")],
    reason: Annotated[str, typer.Option(help="Why the board decided so.")],
    by: Annotated[str | None, typer.Option(help="Who decided (default: your user name).")] = None,
) -> None:
    """Record an ethics board decision; only approval moves the 'champion' alias."""
    from earlywarning.fairness._cli import approve_command

    raise typer.Exit(approve_command(console, run_dir, decision, reason, by))


def _stage(title: str, command, *args) -> None:  # noqa: ANN001 - a typer command function
    """Run one CLI stage in-process; stop the demo with its exit code if it fails."""
    console.rule(f"[bold]{title}")
    started = time.perf_counter()
    try:
        command(*args)
    except typer.Exit as done:
        if done.exit_code:
            console.print(f"[red]{title} failed (exit {done.exit_code}); the demo stops here. "
                          "Earlier outputs are intact.")
            raise
    except SystemExit as done:  # pragma: no cover - defensive: a stage calling sys.exit
        if done.code:
            raise typer.Exit(int(done.code)) from done
    console.print(f"{title} took {time.perf_counter() - started:.1f} s")


def _latest_run_dir(pipeline: Path) -> Path:
    from earlywarning.config import load_pipeline

    root = Path("runs") / load_pipeline(pipeline).name
    runs = sorted(p for p in root.glob("*") if (p / "metrics.json").exists())
    if not runs:
        raise typer.Exit(1)
    return runs[-1]


def _champion_approved(pipeline: Path) -> bool:
    from earlywarning.config import load_pipeline
    from earlywarning.fairness._approval import ApprovalError, require_champion

    try:
        require_champion(f"earlywarning-{load_pipeline(pipeline).name}")
    except ApprovalError:
        return False
    return True


@app.command()
def demo(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline file.")] = Path("pipelines/demo.yaml"),
    serve_app: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="End by serving the web app on localhost.")] = True,
    port: Annotated[int, typer.Option(help="Port for the web app.")] = 8000,
) -> None:
    """Run the whole job on the embedded defaults: the command behind 'make demo'.

    Generates and loads the synthetic LA (if the warehouse is missing), builds
    features, trains and evaluates against the pre-registered pass bar, audits
    fairness (ethics report, model card, ATRS record), scores the latest as-of
    date with reasons, and serves the web app. The model is *not* approved for
    you: the demo scores with the unapproved candidate (marked as such) until
    the ethics board approves it in the app or with 'earlywarning approve'.
    """
    started = time.perf_counter()
    _stage("1-4 · Data, features, training, evaluation", run, pipeline)
    run_dir = _latest_run_dir(pipeline)
    _stage("5 · Fairness audit and governance artefacts", audit, run_dir, None, True)
    has_champion = _champion_approved(pipeline)
    if not has_champion:
        console.print("[yellow]No model approved by the ethics board yet: scoring with the "
                      "candidate (testing only); flags say so. Approve it in the app's ethics "
                      "pages or with `earlywarning approve`.")
    _stage("6 · Scoring with reasons", score, pipeline, None, not has_champion)
    _stage("7 · Web app database and demo users", app_init, None, None, True,
           Path("data/demo_users.txt"))
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    console.rule(f"[bold]Done in {minutes} min {seconds} s")
    console.print(f"Evaluation report: {run_dir / 'report.html'}")
    console.print(f"Ethics report:     {run_dir / 'fairness' / 'ethics_report.html'}")
    if serve_app:
        console.print(f"Serving the web app at http://127.0.0.1:{port}/ (Ctrl-C to stop). "
                      "Sign-ins are in data/demo_users.txt.")
        serve("127.0.0.1", port, True)


def main() -> None:
    """Entry point for ``python -m earlywarning.cli``."""
    app()


if __name__ == "__main__":
    main()
