"""Train, evaluate, judge against the pass bar, track and (maybe) register.

One call, :func:`train_pipeline`, does the whole honest unit of work, in this
order so that a failure never leaves a half-registered model:

1. check the MLflow store is reachable (before any training);
2. load the feature table and check it belongs to the pipeline;
3. split by time and family (rolling origin; the last fold is held out);
4. check the pre-registered bar is reachable at all on this data;
5. fit the candidate, the comparators and the two baselines on each fold,
   calibrated on a later slice of training time;
6. evaluate the held-out period with bootstrap CIs (when the synthetic ground
   truth is there: the oracle, and LightGBM fitted to the true probability as a
   yardstick of what the features carry), back-test folds for stability;
7. judge the candidate against the bar;
8. write the run folder (to a temporary name, then rename);
9. log everything to MLflow, then register with alias ``candidate`` only if
   the bar was met.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import yaml
from threadpoolctl import threadpool_limits

from ._calibration import TemporalCalibratedClassifier
from ._estimators import (
    LightGBMRiskClassifier,
    PointsRuleClassifier,
    PrevalenceClassifier,
    ScaledLogisticRegression,
)
from ._evaluation import ModelScores, evaluate_models
from ._features_io import (
    FeatureTable,
    attach_ground_truth,
    ground_truth_path,
    load_feature_table,
)
from ._passbar import PassBarResult, check_bar_reachable, check_pass_bar
from ._splits import RollingOriginSplitter, TemporalFold
from ._tracking import check_tracking_uri, git_sha, log_training_run, resolve_tracking_uri

__all__ = [
    "BASELINES",
    "RunResult",
    "build_estimator",
    "make_splitter",
    "capacity_for_dates",
    "fit_and_score",
    "train_pipeline",
]

BASELINES = ("rule", "prevalence")
ORACLE = "oracle"
ORACLE_RECORDED = "oracle_recorded"
TRUTH_FITTED = "truth_fitted"
Log = Callable[[str], None]


@dataclass
class RunResult:
    """What a training run produced.

    Attributes
    ----------
    run_dir : Path
        ``runs/<pipeline>/<timestamp>/``.
    run_id : str
        MLflow run id.
    metrics : dict
        Contents of ``metrics.json``.
    pass_bar : PassBarResult
    registered_version : str or None
        Model version with alias ``candidate``; ``None`` when the bar was not met.
    """

    run_dir: Path
    run_id: str
    metrics: dict
    pass_bar: PassBarResult
    registered_version: str | None


def build_estimator(name: str, cfg: Any) -> TemporalCalibratedClassifier:
    """Build a fresh, calibrated estimator ``name`` from the pipeline's ``model`` section.

    Parameters
    ----------
    name : {"lightgbm", "logistic", "rule", "prevalence"}
    cfg : PipelineConfig

    Returns
    -------
    TemporalCalibratedClassifier
    """
    m = cfg.model
    if name == "lightgbm":
        base: Any = LightGBMRiskClassifier(**m.lightgbm.model_dump(), random_state=m.seed)
    elif name == "logistic":
        base = ScaledLogisticRegression(**m.logistic.model_dump())
    elif name == "rule":
        base = PointsRuleClassifier(points=dict(m.rule_baseline.points), cap=m.rule_baseline.cap)
    elif name == "prevalence":
        base = PrevalenceClassifier()
    else:
        raise ValueError(f"model: unknown model {name!r}")
    method = "none" if name == "prevalence" else m.calibration.method
    return TemporalCalibratedClassifier(base, method=method, fraction=m.calibration.fraction,
                                        family_folds=m.calibration.family_folds)


def make_splitter(cfg: Any) -> RollingOriginSplitter:
    """Build the rolling-origin splitter declared by ``model.splits``.

    Parameters
    ----------
    cfg : PipelineConfig

    Returns
    -------
    RollingOriginSplitter
    """
    s = cfg.model.splits
    return RollingOriginSplitter(
        horizon_days=cfg.outcome.horizon_days,
        test_period_dates=s.test_period_dates,
        n_folds=s.n_folds,
        test_family_fraction=s.test_family_fraction,
        min_train_dates=s.min_train_dates,
        seed=cfg.model.seed,
    )


def capacity_for_dates(frame: pd.DataFrame, fold: TemporalFold,
                       flags_per_month: int) -> dict[pd.Timestamp, int]:
    """Share out the monthly capacity to the test rows of each test date.

    The service flags ``flags_per_month`` children of the *whole* cohort; the
    test rows are only the held-out families, so they get their share:
    ``round(flags_per_month × test rows / cohort rows)`` at that date (at
    least 1). Worked example: 50 flags, 12,000 children in the cohort on
    2024-01-01, 3,600 of them in test families → 15 flags among the test rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        The whole feature table.
    fold : TemporalFold
    flags_per_month : int

    Returns
    -------
    dict
    """
    as_of = frame["as_of"]
    cohort = as_of.value_counts()
    test = as_of.iloc[fold.test_index].value_counts()
    return {pd.Timestamp(d): max(1, int(round(flags_per_month * test[d] / cohort[d])))
            for d in sorted(test.index)}


def _matrix(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return frame[cols].astype(np.float32)


def fit_and_score(
    names: list[str], cfg: Any, table: FeatureTable, fold: TemporalFold,
    feature_columns: list[str] | None = None, cross_fit: bool | Collection[str] = True,
    n_jobs: int | None = None,
) -> tuple[dict[str, TemporalCalibratedClassifier], dict[str, ModelScores]]:
    """Fit each named model on a fold's training rows and score its test rows.

    Parameters
    ----------
    names : list of str
    cfg : PipelineConfig
    table : FeatureTable
    fold : TemporalFold
    feature_columns : list of str, optional
        Default: every feature of the table (ablation passes fewer).
    cross_fit : bool or collection of str
        Calibrate on rows scored by models fitted without their family
        (``model.calibration.family_folds``): every model, none, or the named
        ones. The ablation compares rankings only, which calibration does not
        change, and skips it.
    n_jobs : int, optional
        Threads for estimators that take them (LightGBM); default: the
        estimator's own choice. The ablation passes 1 when it fits two at once.

    Returns
    -------
    (models, scores)
    """
    cols = feature_columns or table.feature_columns
    train = table.frame.iloc[fold.train_index]
    test = table.frame.iloc[fold.test_index]
    X_train, X_test = _matrix(train, cols), _matrix(test, cols)
    y_train = train["label"].astype(np.int8).to_numpy()
    models, scores = {}, {}
    # BLAS on one thread: the logistic baseline's matrices are small, and idle BLAS threads
    # left spinning after it would compete with LightGBM's threads on a 2-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        for name in names:
            est = build_estimator(name, cfg)
            if name == "rule":
                est.estimator.points = _rule_points_for(cfg, cols)
            if n_jobs is not None and hasattr(est.estimator, "n_jobs"):
                est.estimator.n_jobs = n_jobs
            by_family = cross_fit is True or (cross_fit is not False and name in cross_fit)
            models[name] = est.fit(X_train, y_train, as_of=train["as_of"].to_numpy(),
                                   groups=train["family_id"].to_numpy() if by_family else None)
            scores[name] = ModelScores(*models[name].risk_and_rank(X_test))
    return models, scores


def _rule_points_for(cfg: Any, cols: list[str]) -> dict[str, float] | None:
    """Restrict the rule's points to patterns matching ``cols`` (ablation drops some)."""
    import fnmatch

    points = dict(cfg.model.rule_baseline.points)
    kept = {p: w for p, w in points.items()
            if any(fnmatch.fnmatchcase(c, p) for c in cols)}
    return kept or {c: 0.0 for c in cols[:1]}


MAX_UNMATCHED_SHARE = 0.01
"""Test rows without ground truth (at most this share) still get an oracle (see below)."""


def _oracle_scores(truth: pd.Series) -> np.ndarray:
    """Ground-truth probabilities as oracle scores; rows without truth get their average.

    A test row can lack ground truth when the records say a child is in the
    cohort but the simulation had them elsewhere (a plan whose record an
    injected defect removed, say). The oracle knows nothing about such a row,
    so it gets the oracle's own mean (no label is used).
    """
    values = truth.to_numpy(dtype=float)
    return np.where(np.isnan(values), np.nanmean(values), values)


def _oracle_note(y: np.ndarray, p_true: np.ndarray, rank: np.ndarray) -> dict:
    """How much of the oracle's lead comes from outcomes the simulation had already drawn.

    The synthetic LA sets ``p_true = 1`` for a child whose escalating referral
    is already under way at the as-of date: the oracle knows the case will
    end in a plan, while the records only show that an enquiry started. The
    PR-AUCs without those rows show the gap that remains.
    """
    from ._evaluation import average_precision

    determined = p_true >= 0.999
    rest = ~determined
    return {
        "determined_rows": int(determined.sum()),
        "determined_positives": int(y[determined].sum()),
        "positives": int(y.sum()),
        "oracle_pr_auc_without_determined": _finite(average_precision(y[rest], p_true[rest])),
        "candidate_pr_auc_without_determined": _finite(average_precision(y[rest], rank[rest])),
        "base_rate_without_determined": _finite(float(y[rest].mean())) if rest.any() else None,
    }


MIN_TRUTH_SHARE = 0.5
"""Training rows with ground truth (at least this share) needed for the truth-fitted model."""


def _truth_fitted_scores(cfg: Any, table: FeatureTable, fold: TemporalFold,
                         gt_path: Path) -> ModelScores | None:
    """Score the test rows with LightGBM fitted to the training rows' true probability.

    The oracle knows what no record shows; this model knows only the features,
    but learns from each training row's true probability (``p_true``) instead
    of its rare outcome. Its PR-AUC, beside the oracle's and the candidate's,
    splits the oracle gap in two: what the features cannot carry, and what
    learning from outcomes costs. It is fitted only where the oracle is shown
    (ground truth for all but 1% of the test rows); training rows without
    ground truth are left out, and ``None`` is returned when fewer than
    :data:`MIN_TRUTH_SHARE` of them have it.
    """
    train = table.frame.iloc[fold.train_index]
    p = attach_ground_truth(train[["person_id", "as_of"]], gt_path, ["p_true"])["p_true"]
    known = p.notna().to_numpy()
    if known.mean() < MIN_TRUTH_SHARE:
        return None
    est = LightGBMRiskClassifier(**cfg.model.lightgbm.model_dump(), random_state=cfg.model.seed)
    with threadpool_limits(limits=1, user_api="blas"):
        booster = est.fit_to_probability(
            _matrix(train, table.feature_columns)[known], p.to_numpy()[known])
        test = _matrix(table.frame.iloc[fold.test_index], table.feature_columns)
        risk = np.clip(booster.predict(test.to_numpy()), 0.0, 1.0)
    return ModelScores(risk, risk)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _label_frame(table: FeatureTable, fold: TemporalFold) -> pd.DataFrame:
    test = table.frame.iloc[fold.test_index]
    out = test[["person_id", "family_id", "as_of"]].copy()
    out["label"] = test["label"].astype(np.int8).to_numpy()
    return out


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _warehouse_source(cfg: Any) -> str | None:
    path = Path(cfg.data.warehouse)
    if not path.is_file():
        return None
    try:
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        try:
            row = con.execute(
                "select value from _warehouse_meta where key = 'source_path'").fetchone()
        finally:
            con.close()
        return None if row is None else str(row[0])
    except Exception:  # no meta table: no ground truth to find
        return None


def _test_predictions(labels: pd.DataFrame, sc: ModelScores, capacity: dict,
                      table: FeatureTable, fold: TemporalFold,
                      p_true: pd.Series | None) -> pd.DataFrame:
    """Build the scores contract (COMMON.md item 6) for the candidate's held-out period."""
    out = labels.copy()
    out["score"] = sc.risk
    out["_rank_score"] = sc.rank
    # Deterministic order within a date: ranking score, then calibrated risk, then id.
    out = out.sort_values(["as_of", "_rank_score", "score", "person_id"],
                          ascending=[True, False, False, True], kind="mergesort")
    out["rank"] = out.groupby("as_of").cumcount().astype(np.int64) + 1
    k = out["as_of"].map({pd.Timestamp(d): v for d, v in capacity.items()})
    out["flagged"] = out["rank"] <= k
    test = table.frame.iloc[fold.test_index]
    audit = test[table.audit_columns].set_index(labels.index)
    out = out.join(audit)
    if p_true is not None:
        out["p_true"] = p_true.reindex(out.index).to_numpy()
    out["as_of"] = out["as_of"].dt.date
    cols = ["person_id", "family_id", "as_of", "score", "label", "flagged", "rank",
            *table.audit_columns] + (["p_true"] if p_true is not None else [])
    return out[cols].reset_index(drop=True)


def train_pipeline(
    cfg: Any,
    *,
    pipeline_path: Path | None = None,
    runs_dir: Path = Path("runs"),
    tracking_uri: str | None = None,
    features_dir: Path | None = None,
    ground_truth: Path | None | bool = True,
    log: Log | None = None,
) -> RunResult:
    """Train, evaluate and track one pipeline; register only if the bar is met.

    Parameters
    ----------
    cfg : PipelineConfig
    pipeline_path : Path, optional
        The YAML file (recorded with the run).
    runs_dir : Path
        Root of the run folders.
    tracking_uri : str, optional
        Default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``.
    features_dir : Path, optional
        Feature table folder; default ``<features.output_dir>/<name>``.
    ground_truth : Path, True or False
        ``child_month.parquet`` of the synthetic LA; ``True`` finds it, ``False`` skips.
    log : callable, optional
        Receives one line per stage.

    Returns
    -------
    RunResult

    Raises
    ------
    TrackingError, FeatureTableError, SplitError, PassBarError, EvaluationError
        Each before anything is registered.
    """
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    uri = resolve_tracking_uri(tracking_uri)
    check_tracking_uri(uri)
    table = load_feature_table(cfg, features_dir)
    say(f"feature table: {len(table.frame):,} rows, {len(table.feature_columns)} features")
    folds = make_splitter(cfg).split(table.frame)
    labelled = table.frame[table.frame["label"].notna()]
    positives_per_month = float(labelled.groupby("as_of")["label"].sum().astype(float).mean())
    check_bar_reachable(cfg.pass_bar, cfg.capacity.flags_per_month, positives_per_month)

    candidate = cfg.model.candidate
    names = list(dict.fromkeys([candidate, *cfg.model.algorithms, *BASELINES]))
    gt_path = None
    if ground_truth is True:
        gt_path = ground_truth_path(cfg, _warehouse_source(cfg))
    elif ground_truth:
        gt_path = Path(ground_truth)

    backtest: dict[str, Any] = {}
    ev = cfg.model.evaluation
    for fold in folds[:-1]:
        # rankings and their stability over months; the cross-fitted calibration (5 more
        # fits per model) is kept for the final fold, whose risks are reported and used
        _, scores = fit_and_score([candidate, "rule"], cfg, table, fold, cross_fit=False)
        say(f"back-test {fold.name}: tested on {fold.test_dates[0].date()} … "
            f"{fold.test_dates[-1].date()}")
        m = evaluate_models(_label_frame(table, fold), scores,
                            capacity_for_dates(table.frame, fold, cfg.capacity.flags_per_month),
                            n_bootstrap=0, n_bins=ev.calibration_bins, seed=cfg.model.seed)
        backtest[fold.name] = {"test_dates": m["test_dates"], "base_rate": m["base_rate"],
                               "models": {k: {mk: mv["value"] for mk, mv in v.items()}
                                          for k, v in m["models"].items()},
                               "by_month": m["by_month"]}
    final = folds[-1]
    # the candidate's risks are the ones flags show: its calibration is cross-fitted by
    # family; the baselines keep the cheaper map on the later dates (5 fewer fits each)
    models, scores = fit_and_score(names, cfg, table, final, cross_fit={candidate})
    say(f"final fold: trained {', '.join(names)} on {len(final.train_index):,} rows "
        f"({final.train_dates[0].date()} … {final.train_dates[-1].date()})")
    labels = _label_frame(table, final)
    truth = (attach_ground_truth(labels, gt_path, ["p_true", "p_recorded", "unobserved_share"])
             if gt_path is not None else None)
    p_true = truth["p_true"] if truth is not None else None
    unobserved = None
    oracle_note = None
    unmatched = int(p_true.isna().sum()) if p_true is not None else 0
    if p_true is not None and unmatched <= MAX_UNMATCHED_SHARE * len(p_true):
        # listed after the trained models, before the oracles
        fitted = _truth_fitted_scores(cfg, table, final, gt_path) if ev.truth_fitted else None
        if fitted is not None:
            scores[TRUTH_FITTED] = fitted
            say("fitted LightGBM to the true probability of the training rows (what the "
                "features carry)")
        elif ev.truth_fitted:
            say("ground truth covers too few training rows: no model fitted to it")
        pt = _oracle_scores(p_true)
        scores[ORACLE] = ModelScores(pt, pt)
        recorded = truth["p_recorded"]
        if recorded.notna().any():
            pr = _oracle_scores(recorded)
            scores[ORACLE_RECORDED] = ModelScores(pr, pr)
        share = truth["unobserved_share"]
        unobserved = float(share.mean()) if share.notna().any() else None
        oracle_note = _oracle_note(labels["label"].to_numpy(), pt, scores[candidate].rank)
        oracle_note["rows_without_ground_truth"] = unmatched
        if unmatched:
            say(f"ground truth lacks {unmatched} of {len(p_true):,} test rows (a record the "
                "simulation did not make, e.g. lost to an injected defect): the oracle gives "
                "them its average")
    elif p_true is not None:
        say(f"ground truth {gt_path} lacks {unmatched} test rows: no oracle")
        p_true = None
    capacity = capacity_for_dates(table.frame, final, cfg.capacity.flags_per_month)
    metrics = evaluate_models(labels, scores, capacity, reference="rule", oracle=ORACLE,
                              recorded_oracle=ORACLE_RECORDED, n_bootstrap=ev.bootstrap,
                              confidence=ev.confidence,
                              n_bins=ev.calibration_bins, seed=cfg.model.seed)
    verdict = check_pass_bar(cfg.pass_bar, metrics, candidate)
    say(verdict.headline())

    from earlywarning.config import config_hash

    ts = _timestamp()
    chash = config_hash(cfg)
    info = {
        "pipeline": cfg.name,
        "pipeline_file": str(pipeline_path) if pipeline_path else None,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config_hash": chash,
        "features_config_hash": table.manifest.get("config_hash"),
        "warehouse_fingerprint": table.manifest.get("warehouse_fingerprint"),
        "git_sha": git_sha(),
        "candidate": candidate,
        "status": "passed" if verdict.passed else "failed",
        "tracking_uri": uri,
        "ground_truth": str(gt_path) if gt_path else None,
    }
    metrics.update({
        "run": info,
        "pass_bar": verdict.to_dict(),
        "capacity": {"flags_per_month": cfg.capacity.flags_per_month,
                     "positives_per_month_cohort": positives_per_month,
                     "test_family_fraction": cfg.model.splits.test_family_fraction},
        "split": {"train_dates": [str(d.date()) for d in final.train_dates],
                  "test_dates": [str(d.date()) for d in final.test_dates],
                  "n_train": int(len(final.train_index)), "n_test": int(len(final.test_index)),
                  "horizon_days": cfg.outcome.horizon_days},
        "backtest": backtest,
        "unobserved_share": unobserved,
        "oracle_note": oracle_note,
    })

    parent = Path(runs_dir) / cfg.name
    tmp = parent / f".{ts}.partial"
    tmp.mkdir(parents=True, exist_ok=False)
    try:
        preds = labels.copy()
        for n, s in scores.items():
            preds[f"risk__{n}"] = s.risk
            preds[f"rank__{n}"] = s.rank
        preds.to_parquet(tmp / "predictions.parquet", index=False)
        _test_predictions(labels, scores[candidate], capacity, table, final,
                          p_true).to_parquet(tmp / "test_predictions.parquet", index=False)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        (tmp / "resolved_config.yaml").write_text(
            yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        (tmp / "feature_dictionary.json").write_text(json.dumps(table.dictionary, indent=2))
        joblib.dump(models[candidate], tmp / "model.joblib")
        run_dir = parent / ts
        tmp.rename(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    from ._report import write_report

    write_report(run_dir)
    run_id, version = log_training_run(cfg, uri, run_dir, models[candidate], table,
                                       metrics, verdict, info)
    info.update({"run_id": run_id, "registered_version": version,
                 "seconds": round(time.perf_counter() - started, 1)})
    (run_dir / "run.json").write_text(json.dumps(info, indent=2))
    say(f"run folder {run_dir}; MLflow run {run_id}"
        + (f"; registered version {version} as 'candidate'" if version else "; not registered"))
    return RunResult(run_dir, run_id, metrics, verdict, version)
