"""Working with finished run folders: find the latest, re-evaluate saved predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from ._evaluation import ModelScores, evaluate_models
from ._passbar import check_pass_bar
from ._training import ORACLE, ORACLE_RECORDED, Log

__all__ = ["latest_run_dir", "evaluate_run"]


def latest_run_dir(runs_dir: Path, pipeline: str) -> Path:
    """Return the newest completed run folder of a pipeline.

    Parameters
    ----------
    runs_dir : Path
    pipeline : str

    Returns
    -------
    Path
    """
    parent = Path(runs_dir) / pipeline
    runs = sorted(p for p in parent.glob("*") if p.is_dir() and not p.name.startswith("."))
    if not runs:
        raise FileNotFoundError(
            f"no runs of pipeline {pipeline!r} under {parent}; run `earlywarning train` first")
    return runs[-1]


def evaluate_run(run_dir: Path, log: Log | None = None) -> dict:
    """Re-evaluate a run folder's saved predictions and re-render its report.

    The pass bar and evaluation settings come from the run's own
    ``resolved_config.yaml`` — the bar that was registered before training —
    never from a pipeline file edited afterwards. Nothing is retrained or
    registered.

    Parameters
    ----------
    run_dir : Path
    log : callable, optional

    Returns
    -------
    dict
        The new ``metrics.json`` contents.
    """
    from earlywarning.config import parse_pipeline

    say = log or (lambda _msg: None)
    run_dir = Path(run_dir)
    for name in ("metrics.json", "predictions.parquet", "resolved_config.yaml"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {run_dir}: {name} not found; is it a run folder?")
    cfg = parse_pipeline(yaml.safe_load((run_dir / "resolved_config.yaml").read_text()),
                         source=str(run_dir / "resolved_config.yaml"))
    old = json.loads((run_dir / "metrics.json").read_text())
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    names = [c.removeprefix("risk__") for c in preds.columns if c.startswith("risk__")]
    scores = {n: ModelScores(preds[f"risk__{n}"].to_numpy(), preds[f"rank__{n}"].to_numpy())
              for n in names}
    capacity = {pd.Timestamp(d): k for d, k in old["capacity_per_date"].items()}
    ev = cfg.model.evaluation
    metrics = evaluate_models(preds[["person_id", "family_id", "as_of", "label"]], scores,
                              capacity, reference="rule", oracle=ORACLE,
                              recorded_oracle=ORACLE_RECORDED,
                              n_bootstrap=ev.bootstrap, confidence=ev.confidence,
                              n_bins=ev.calibration_bins, seed=cfg.model.seed)
    verdict = check_pass_bar(cfg.pass_bar, metrics, old["run"]["candidate"])
    for key in ("run", "capacity", "split", "backtest", "unobserved_share", "oracle_note"):
        metrics[key] = old.get(key)
    metrics["pass_bar"] = verdict.to_dict()
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    from ._report import write_report

    write_report(run_dir)
    say(verdict.headline())
    return metrics
