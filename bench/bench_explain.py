"""Scoring and explanation speed: 1 M children scored, 5,000 flags explained.

Model: LightGBM with the models engineer's defaults (300 trees, 31 leaves),
isotonic calibration on a held-out slice, on 143 float32 features laid out
like the demo feature table (13 agencies, three windows, coverage indicators).

Figures (each beside a baseline measured in the same run):

1. ``score_1m``: :func:`earlywarning.models.scoring.score_features` on 1 M
   rows at capacity 50 (calibrated risk, capacity cut with tie-break, reasons
   and provenance for the flags, SHAP for a 500-row sample). Baseline: the
   naive per-row loop (``predict_proba`` one child at a time) timed on 2,000
   rows and extrapolated to 1 M.
   ``details`` also give the bare ``predict_proba`` time on the same rows
   (the model's own cost, which dominates) and CPU seconds, because the
   wall time depends on what else the 2 cores are running.
2. ``explain_5k``: :func:`earlywarning.models.explain.explain` on 5,000
   flagged rows (LightGBM ``pred_contrib`` + grouping into plain-English
   reasons). Baseline: ``shap.TreeExplainer`` on the same booster and rows
   (SHAP values only, no reasons); the two are checked to agree.
3. ``fidelity`` (full run only, on ``bench_demo``'s run, else one a ``make demo``
   left in ``runs/demo``): share of the latest demo run's flagged test children whose
   true largest driver is among their top-3 reasons (target >= 80%).
   Baseline: the same reasons scored against a shuffled truth (chance).
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd

AGENCIES = ("police", "housing", "adult_mental_health", "drug_alcohol", "asc", "school",
            "csc", "early_help", "health_visiting", "gp", "acute_health", "youth_justice",
            "young_carers")
WINDOWS = (90, 365, 1095)


def _dictionary_and_columns() -> tuple[list[dict], list[str]]:
    records = []
    per_agency = 10
    for agency in AGENCIES:
        for k in range(per_agency):
            w = WINDOWS[k % 3]
            records.append({"name": f"{agency}_event{k // 3}_count_{w}d", "source_agency": agency,
                            "meaning": f"{{value}} {agency} events of kind {k // 3} in the last "
                                       f"{w} days", "direction": "risk", "subject": "child",
                            "window_days": w, "aggregate": "count", "if_no_record": 0.0})
        records.append({"name": f"coverage_{agency}_open_now", "source_agency": agency,
                        "meaning": "{value} linked periods", "direction": "coverage",
                        "subject": "child", "aggregate": "open", "if_no_record": 0.0})
    records.append({"name": "child_age_years_now", "source_agency": "csc", "group": "context",
                    "meaning": "the child is aged {value:age}", "direction": "context"})
    return records, [r["name"] for r in records]


def _frame(n: int, columns: list[str], seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    need = rng.gamma(1.0, 1.0, n).astype(np.float32)
    data = {}
    for j, name in enumerate(columns):
        if name.startswith("coverage_"):
            data[name] = (rng.random(n) > 0.15).astype(np.float32)
        elif name == "child_age_years_now":
            data[name] = rng.uniform(0, 18, n).astype(np.float32)
        else:
            data[name] = rng.poisson(0.05 + 0.1 * need * (1 + j % 4)).astype(np.float32)
    X = pd.DataFrame(data)
    logit = -4.5 + 0.9 * need + 0.15 * X.iloc[:, :20].sum(axis=1).to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return X, y


def _model(columns: list[str], n_train: int, n_trees: int = 300):
    import lightgbm as lgb
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, y = _frame(n_train, columns, seed=1)
    half = n_train // 2
    booster = lgb.LGBMClassifier(n_estimators=n_trees, learning_rate=0.05, num_leaves=31,
                                 min_child_samples=50, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.8, n_jobs=2, random_state=0,
                                 deterministic=True, force_col_wise=True, verbose=-1)
    booster.fit(X.iloc[:half], y[:half])
    return CalibratedClassifierCV(FrozenEstimator(booster), method="isotonic").fit(
        X.iloc[half:], y[half:])


def run(quick: bool) -> list[dict]:
    from earlywarning.models.explain import (
        FeatureDictionary,
        explain,
        shap_contributions,
        underlying_boosters,
    )
    from earlywarning.models.scoring import score_features

    n_score, n_explain, n_train, n_trees = ((20_000, 500, 10_000, 50) if quick
                                            else (1_000_000, 5_000, 100_000, 300))
    records, columns = _dictionary_and_columns()
    dictionary = FeatureDictionary.from_records(records)
    model = _model(columns, n_train, n_trees)
    X, _ = _frame(n_score, columns, seed=2)
    rows = pd.concat([pd.DataFrame({
        "person_id": pd.Series([f"P{i:07d}" for i in range(n_score)], dtype="string"),
        "family_id": pd.Series([f"F{i // 2:07d}" for i in range(n_score)], dtype="string"),
        "as_of": pd.Timestamp("2026-03-31").date()}), X], axis=1)

    started, cpu = time.perf_counter(), time.process_time()
    result = score_features(model, rows, dictionary, pipeline="bench", capacity=50,
                            model_name="earlywarning-bench", model_version="1", run_id="bench")
    score_s, score_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    model.predict_proba(X)
    predict_s, predict_cpu = time.perf_counter() - started, time.process_time() - cpu
    sample = X.iloc[:2000]
    started = time.perf_counter()
    for i in range(len(sample)):
        model.predict_proba(sample.iloc[[i]])
    loop_s = (time.perf_counter() - started) * n_score / len(sample)

    from earlywarning.models.explain import predict_risk

    top = rows.iloc[np.argsort(-predict_risk(model, rows))[:n_explain]].reset_index(drop=True)
    started, cpu = time.perf_counter(), time.process_time()
    exp = explain(model, top, dictionary)
    explain_s, explain_cpu = time.perf_counter() - started, time.process_time() - cpu
    import shap

    booster = underlying_boosters(model)[0]
    started, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():  # shap notes its list-of-arrays output for LightGBM
        warnings.simplefilter("ignore", UserWarning)
        values = shap.TreeExplainer(booster).shap_values(top[columns].to_numpy(np.float32))
    shap_s, shap_cpu = time.perf_counter() - started, time.process_time() - cpu
    values = values[1] if isinstance(values, list) else values
    ours = shap_contributions(model, top)[columns].to_numpy()
    agree = float(np.abs(np.asarray(values) - ours).max())

    return [
        *([] if quick else _fidelity_figures()),
        {"name": f"score {n_score:,} children (flags, reasons, provenance)", "value": score_s,
         "unit": "s", "baseline": loop_s,
         "baseline_label": "per-row predict_proba loop on 2,000 rows, extrapolated",
         "target": "<= 15 s for 1,000,000", "passed": None if quick else score_s <= 15.0,
         "details": {"rows": n_score, "features": len(columns), "flags": len(result.flags),
                     "reasons": len(result.reasons), "trees": n_trees,
                     "cpu_seconds": score_cpu, "predict_proba_only_seconds": predict_s,
                     "predict_proba_only_cpu_seconds": predict_cpu,
                     "load_average_1min": os.getloadavg()[0]}},
        {"name": f"explain {n_explain:,} flags (pred_contrib + reasons)", "value": explain_s,
         "unit": "s", "baseline": shap_s,
         "baseline_label": "shap.TreeExplainer SHAP values only, same rows",
         "target": "<= 15 s for 5,000", "passed": None if quick else explain_s <= 15.0,
         "details": {"rows": n_explain, "reasons": len(exp.reasons),
                     "max_abs_diff_vs_shap": agree, "cpu_seconds": explain_cpu,
                     "shap_cpu_seconds": shap_cpu,
                     "load_average_1min": os.getloadavg()[0]}},
    ]


def _fidelity_figures() -> list[dict]:
    """Fidelity of the latest demo run's reasons on the default synthetic LA (if any)."""
    import contextlib

    from bench_demo import demo_root
    from earlywarning.models._fidelity_report import fidelity_for_run

    root = demo_root()
    runs = root / "runs" / "demo" if root is not None else None
    done = sorted(p for p in runs.glob("*/") if (p / "model.joblib").exists()
                  and (p / "test_predictions.parquet").exists()) if runs is not None else []
    if not done:
        print("fidelity: no demo run yet (bench_demo or `make demo`); skipped")
        return []
    with contextlib.chdir(root):  # the run's paths are relative to the demo's folder
        result = fidelity_for_run(done[-1], write=False)
        if result is None:
            return []
        chance = fidelity_for_run(done[-1], scramble_seed=0)
    return [{
        "name": "explanation fidelity on the default LA (true largest driver in top-3 reasons)",
        "value": result.top3_share, "unit": "share of flagged children",
        "baseline": chance.top3_share, "baseline_label": "same reasons, shuffled truth (chance)",
        "target": ">= 0.80", "passed": result.top3_share >= 0.80,
        "details": {"run": done[-1].name, "n_flagged": result.n_flagged,
                    "share_nameable": result.top3_share_nameable,
                    "share_recorded": result.top3_share_recorded,
                    "spearman_importance_vs_true_effect": result.spearman},
    }]
