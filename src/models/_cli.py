"""Command-line stages of the models area: train, evaluate, ablate, run.

Each returns an exit code: 0 done (a model that fails its pass bar is a
completed, recorded run), 2 for bad input (pipeline file, feature table,
split, pass bar, tracking store), with one clear message.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["train_command", "evaluate_command", "ablate_command", "run_command"]

RUNS_DIR = Path("runs")


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    from earlywarning.config import PipelineConfigError

    from ._ablation import AblationError
    from ._evaluation import EvaluationError
    from ._features_io import FeatureTableError
    from ._passbar import PassBarError
    from ._splits import SplitError
    from ._tracking import TrackingError

    return (PipelineConfigError, FeatureTableError, SplitError, PassBarError, TrackingError,
            EvaluationError, AblationError, FileNotFoundError)


def _fail(console: Console, exc: BaseException) -> int:
    console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return 2


def _log(console: Console, started: float):
    def say(msg: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim] {msg}",
                      highlight=False, soft_wrap=True)
    return say


def _summary(console: Console, metrics: dict) -> None:
    verdict = metrics["pass_bar"]
    colour = "green" if verdict["passed"] else "red"
    console.print(f"[bold {colour}]{verdict['headline']}[/]", highlight=False)
    cand = metrics["run"]["candidate"]
    models = metrics["models"]

    def val(m: str, k: str) -> str:
        v = models.get(m, {}).get(k, {}).get("value")
        return "-" if v is None else f"{v:.3f}"

    console.print(f"base rate {metrics['base_rate']:.3f} (= no-skill PR-AUC); "
                  f"PR-AUC {cand} {val(cand, 'pr_auc')}, oracle {val('oracle', 'pr_auc')} "
                  f"(without the unrecorded latent {val('oracle_recorded', 'pr_auc')}; "
                  f"LightGBM fitted to the true probability {val('truth_fitted', 'pr_auc')}), "
                  f"rule {val('rule', 'pr_auc')}; precision at capacity {cand} "
                  f"{val(cand, 'precision_at_capacity_worst')} (worst case), rule "
                  f"{val('rule', 'precision_at_capacity_worst')}–"
                  f"{val('rule', 'precision_at_capacity_best')}", highlight=False)


def train_command(console: Console, pipeline: Path, runs_dir: Path = RUNS_DIR) -> int:
    """Train, evaluate, track and (if the bar is met) register; print the verdict.

    Parameters
    ----------
    console : rich.console.Console
    pipeline : Path
    runs_dir : Path

    Returns
    -------
    int
        Exit code.
    """
    from earlywarning.config import load_pipeline

    from ._training import train_pipeline

    started = time.perf_counter()
    try:
        cfg = load_pipeline(pipeline)
        result = train_pipeline(cfg, pipeline_path=pipeline, runs_dir=runs_dir,
                                log=_log(console, started))
    except _bad_input_errors() as exc:
        return _fail(console, exc)
    _summary(console, result.metrics)
    console.print(f"Report: {result.run_dir / 'report.html'}")
    return 0


def evaluate_command(console: Console, pipeline: Path, run_dir: Path | None,
                     runs_dir: Path = RUNS_DIR) -> int:
    """Re-evaluate a run folder (default: train and evaluate afresh).

    Parameters
    ----------
    console : rich.console.Console
    pipeline : Path
    run_dir : Path or None
        Re-evaluate this run's saved predictions against its own pre-registered
        bar; without it, train and evaluate as ``earlywarning train`` does.
    runs_dir : Path

    Returns
    -------
    int
    """
    if run_dir is None:
        return train_command(console, pipeline, runs_dir)
    from ._report import log_to_tracked_run
    from ._rerun import evaluate_run

    started = time.perf_counter()
    try:
        metrics = evaluate_run(run_dir, log=_log(console, started))
    except _bad_input_errors() as exc:
        return _fail(console, exc)
    log_to_tracked_run(run_dir, ["metrics.json", "report.html"])
    _summary(console, metrics)
    console.print(f"Report: {Path(run_dir) / 'report.html'}")
    return 0


def ablate_command(console: Console, pipeline: Path, run_dir: Path | None,
                   runs_dir: Path = RUNS_DIR) -> int:
    """Retrain without each agency's data; print what each adds to precision at capacity.

    Parameters
    ----------
    console : rich.console.Console
    pipeline : Path
    run_dir : Path or None
        Run folder to add ``ablation.json`` to (default: the pipeline's latest
        run, if any); its report is re-rendered and re-logged.
    runs_dir : Path

    Returns
    -------
    int
    """
    from earlywarning.config import load_pipeline
    from rich.table import Table

    from ._ablation import run_ablation
    from ._report import log_to_tracked_run, write_report
    from ._rerun import latest_run_dir

    started = time.perf_counter()
    try:
        cfg = load_pipeline(pipeline)
        if run_dir is None:
            try:
                run_dir = latest_run_dir(runs_dir, cfg.name)
            except FileNotFoundError:
                run_dir = None
        result = run_ablation(cfg, run_dir=run_dir, log=_log(console, started))
    except _bad_input_errors() as exc:
        return _fail(console, exc)
    table = Table(title=f"What each agency adds to precision at capacity ({cfg.name})")
    for col in ("agency removed", "features", "precision at capacity", "change (95% CI)"):
        table.add_column(col)
    table.add_row("(none: full model)", "0", f"{result['full']['precision_at_capacity']:.3f}", "")
    for r in result["agencies"]:
        d = r["delta_precision_at_capacity"]
        ci = "" if d["ci_low"] is None else f" ({d['ci_low']:+.3f} to {d['ci_high']:+.3f})"
        table.add_row(r["agency"], str(r["n_features"]), f"{r['precision_at_capacity']:.3f}",
                      f"{d['value']:+.3f}{ci}")
    console.print(table)
    if run_dir is not None:
        write_report(run_dir)
        log_to_tracked_run(run_dir, ["ablation.json", "report.html"])
        console.print(f"Report: {Path(run_dir) / 'report.html'}")
    return 0


def _ensure_warehouse(console: Console, cfg, say) -> None:
    """Generate the synthetic LA and load it when the warehouse does not exist yet."""
    warehouse = Path(cfg.data.warehouse)
    if warehouse.is_file():
        say(f"warehouse {warehouse} exists: not regenerated")
        return
    synthetic = cfg.data.synthetic
    if synthetic is None:
        raise FileNotFoundError(
            f"data.warehouse = '{warehouse}': no such warehouse and no data.synthetic section "
            "to build one; run `earlywarning load` first")
    from earlywarning.data.load import load
    from earlywarning.data.synthetic import generate_la, load_config

    out = Path(synthetic.out)
    if not (out / "generation.json").is_file():
        say(f"generating a synthetic LA of {synthetic.children:,} children into {out}")
        gen_cfg = load_config(None, children=synthetic.children, years=synthetic.years,
                              seed=synthetic.seed, end_date=synthetic.end_date)
        generate_la(gen_cfg, out)
    say(f"loading {out} into {warehouse}")
    result = load(out, warehouse, quarantine=True)
    result.report.print(console, brief=True)
    console.print(f"Load report: {result.report_paths[0]}  {result.report_paths[1]}")
    if not result.published:
        raise FileNotFoundError(f"loading {out} into {warehouse} failed; see the load report")


def run_command(console: Console, pipeline: Path, runs_dir: Path = RUNS_DIR) -> int:
    """Chain generate/load (if needed) → features → train → evaluate → ablation → report.

    Parameters
    ----------
    console : rich.console.Console
    pipeline : Path
    runs_dir : Path

    Returns
    -------
    int
    """
    from earlywarning.config import load_pipeline
    from earlywarning.features import FeatureBuildError, build_features

    from ._ablation import run_ablation
    from ._report import log_to_tracked_run, write_report
    from ._tracking import check_tracking_uri, resolve_tracking_uri
    from ._training import train_pipeline

    started = time.perf_counter()
    say = _log(console, started)
    stages = ["data", "features", "train + evaluate", "ablation", "report"]
    try:
        cfg = load_pipeline(pipeline)
        check_tracking_uri(resolve_tracking_uri())
        with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("pipeline", total=len(stages))

            def stage(i: int) -> None:
                bar.update(task, completed=i, description=stages[i] if i < len(stages)
                           else "done")

            stage(0)
            _ensure_warehouse(console, cfg, say)
            stage(1)
            built = build_features(cfg, source=str(pipeline))
            say(f"features: {built.manifest['row_count']:,} rows, "
                f"{len(built.manifest['feature_columns'])} features -> {built.out_dir}")
            stage(2)
            result = train_pipeline(cfg, pipeline_path=pipeline, runs_dir=runs_dir, log=say)
            stage(3)
            if cfg.model.ablation.enabled:
                run_ablation(cfg, run_dir=result.run_dir, log=say)
            stage(4)
            write_report(result.run_dir)
            log_to_tracked_run(result.run_dir, ["ablation.json", "report.html"])
            stage(5)
    except (*_bad_input_errors(), FeatureBuildError) as exc:
        return _fail(console, exc)
    _summary(console, result.metrics)
    console.print(f"Report: {result.run_dir / 'report.html'}  "
                  f"({time.perf_counter() - started:.0f} s in all)")
    return 0
