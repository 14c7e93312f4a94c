# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Training and evaluating a model that earns trust
#
# Earlier predictive tools in English children's services were dropped because
# their precision was low and nobody had agreed beforehand what "good enough"
# meant. This notebook trains the pipeline's model and tells the truth about it:
#
# 1. how the data are split so that no test answer leaks into training;
# 2. the **pre-registered pass bar**, written in the pipeline file before training;
# 3. every metric beside its base rate and a no-skill model, with confidence
#    intervals, and at the **capacity** the service actually has;
# 4. the points rule councils use today, ties and all, and the **oracle** that
#    knows each child's true probability (synthetic data only);
# 5. what each agency's data adds.
#
# Run `make demo` first, or point `EARLYWARNING_PIPELINE` at another pipeline
# file. Runs are logged to MLflow (`MLFLOW_TRACKING_URI`, default
# `sqlite:///mlflow.db`; `make mlflow` opens the UI).

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from earlywarning.config import load_pipeline
from earlywarning.features import build_features
from earlywarning.models import (
    FeatureTableError,
    ablation_png,
    calibration_png,
    capacity_over_time_png,
    load_feature_table,
    pr_curve_png,
    run_ablation,
    train_pipeline,
    write_report,
)
from earlywarning.models._training import make_splitter
from IPython.display import Image, display

PIPELINE = Path(os.environ.get("EARLYWARNING_PIPELINE", "pipelines/demo.yaml"))
cfg = load_pipeline(PIPELINE)
try:
    table = load_feature_table(cfg)
except FeatureTableError as exc:
    print(f"Building the feature table first ({exc})")
    build_features(cfg, source=str(PIPELINE))
    table = load_feature_table(cfg)
print(f"Pipeline {cfg.name}: {len(table.frame):,} child-months, "
      f"{len(table.feature_columns)} features, outcome {cfg.outcome.label} within "
      f"{cfg.outcome.horizon_days} days")

# %% [markdown]
# ## 1 · Splitting by time and by family
#
# A training row at as-of date *a* has its label window *(a, a + horizon]*. It
# may only be used to predict test dates after that window has closed, so no
# training label can have "seen" the test period. And every family is wholly on
# one side: a sibling of a test child never teaches the model. The last fold is
# the held-out period that decides the pass bar; earlier folds are back-tests.

# %%
folds = make_splitter(cfg).split(table.frame)
fig, ax = plt.subplots(figsize=(9, 0.7 * len(folds) + 1.2))
for i, fold in enumerate(folds):
    train_end = fold.train_dates[-1] + pd.Timedelta(days=cfg.outcome.horizon_days)
    ax.plot(fold.train_dates, [i] * len(fold.train_dates), "s", color="#1d70b8",
            label="training as-of dates" if i == 0 else None)
    ax.hlines(i, fold.train_dates[-1], train_end, color="#1d70b8", linestyle=":",
              label="last training label window" if i == 0 else None)
    ax.plot(fold.test_dates, [i] * len(fold.test_dates), "o", color="#d4351c",
            label="test as-of dates" if i == 0 else None)
ax.set_yticks(range(len(folds)), [f.name for f in folds])
ax.set_title("Rolling-origin folds: each training label window ends before its test dates")
ax.legend(fontsize=8, loc="upper left")
plt.show()

final = folds[-1]
train_fams = set(table.frame["family_id"].iloc[final.train_index])
test_fams = set(table.frame["family_id"].iloc[final.test_index])
print(f"final fold: {len(final.train_index):,} training rows from {len(train_fams):,} families; "
      f"{len(final.test_index):,} test rows from {len(test_fams):,} families; "
      f"families on both sides: {len(train_fams & test_fams)}")

# %% [markdown]
# ## 2 · The pre-registered pass bar
#
# Written in the pipeline file before any model is trained. A model below it is
# recorded as failed and is never registered as a candidate.

# %%
print(json.dumps(cfg.pass_bar.model_dump(), indent=2))
print(f"capacity: {cfg.capacity.flags_per_month} flags a month")

# %% [markdown]
# ## 3 · Train, evaluate, track
#
# One call trains the candidate, the comparison model and the two baselines
# (the points rule and the no-skill prevalence model), calibrates each on the
# latest slice of training time, evaluates the held-out period with family
# bootstrap confidence intervals, judges the candidate against the bar, writes
# the run folder and logs everything to MLflow. The candidate's calibration is
# cross-fitted by family: its map is learnt from scores of models that never saw
# the child's family, as the held-out families are scored, so its highest
# risks (the flags) hold as well as its average. The calibration plot below cuts
# the top decile finer to show them.

# %%
result = train_pipeline(cfg, pipeline_path=PIPELINE, log=print)
metrics = result.metrics
print()
print(result.pass_bar.headline())

# %% [markdown]
# ## 4 · Every metric beside its base rate
#
# The base rate is what a random list of flags would achieve; it is also the
# PR-AUC of a model with no skill. Precision at capacity is judged on the worst
# case of ties at the cut-off: the points rule gives many children the same
# score, and which of them get flagged is then not the rule's decision.

# %%
rows = []
for name, m in metrics["models"].items():
    def ci(key, m=m):
        v = m[key]
        if v["value"] is None:
            return "-"
        if v["ci_low"] is None:
            return f"{v['value']:.3f}"
        return f"{v['value']:.3f} ({v['ci_low']:.3f}–{v['ci_high']:.3f})"
    rows.append({"model": name, "PR-AUC": ci("pr_auc"), "ROC-AUC": ci("roc_auc"),
                 "Brier": ci("brier"), "ECE": ci("ece"),
                 "precision at capacity (worst / best)":
                     f"{m['precision_at_capacity_worst']['value']:.3f} / "
                     f"{m['precision_at_capacity_best']['value']:.3f}",
                 "recall at capacity": ci("recall_at_capacity_expected"),
                 "precision top 5%": ci("precision_at_top_5pct_expected")})
print(f"base rate {metrics['base_rate']:.3f} = no-skill PR-AUC; "
      f"{metrics['n_positive']} escalations among {metrics['n_rows']:,} test child-months")
pd.DataFrame(rows).set_index("model")

# %%
preds = pd.read_parquet(result.run_dir / "predictions.parquet")
display(Image(pr_curve_png(preds)))
display(Image(calibration_png(preds)))

# %% [markdown]
# ## 5 · Month by month
#
# The service flags every month; a model that is good on average but poor in
# some months is not good enough. Back-test folds and the held-out period:

# %%
by_month = {}
for source in [b["by_month"] for b in metrics["backtest"].values()] + [metrics["by_month"]]:
    for name, month_rows in source.items():
        by_month.setdefault(name, []).extend(month_rows)
display(Image(capacity_over_time_png(by_month, [metrics["run"]["candidate"], "rule"])))
pd.DataFrame(metrics["by_month"][metrics["run"]["candidate"]]).set_index("as_of")

# %% [markdown]
# ## 6 · Lift over the rule and the gap to the oracle

# %%
def show(value, fmt=".2f"):
    """Format a metric that is undefined (None) when its denominator is zero."""
    return "undefined" if value is None else format(value, fmt)


cand = metrics["run"]["candidate"]
lift = metrics["lift_over_reference"].get(cand, {})
print(f"{cand}: precision at capacity ÷ rule = "
      f"{show(lift.get('precision_at_capacity_expected', {}).get('value'))}, "
      f"PR-AUC ÷ rule = {show(lift.get('pr_auc', {}).get('value'))}")
if "oracle" in metrics["models"]:
    share = metrics["oracle_share"][cand]["pr_auc"]["value"]
    print(f"{cand} PR-AUC is {show(share, '.0%')} of the oracle's "
          f"({show(metrics['models']['oracle']['pr_auc']['value'], '.3f')}); on average "
          f"{show(metrics['unobserved_share'], '.0%')} of the hazard leaves no record")
    if "truth_fitted" in metrics["models"]:
        # the same trees trained on the true probability instead of outcomes: what the
        # features can carry at best, so the gap splits into records vs learning
        fitted = metrics["oracle_share"]["truth_fitted"]["pr_auc"]["value"]
        print(f"LightGBM fitted to the true probability reaches {show(fitted, '.0%')} of the "
              "oracle's PR-AUC from the same features")
    if metrics.get("oracle_note"):
        print(json.dumps(metrics["oracle_note"], indent=2))
else:
    print("no ground truth: no oracle on real data")

# %% [markdown]
# ## 7 · What each agency's data adds
#
# The candidate retrained without each agency's features, on the same split.
# A negative change means precision at capacity falls without that source: it is
# worth the effort of linking.

# %%
ablation = run_ablation(cfg, run_dir=result.run_dir, log=print)
display(Image(ablation_png(ablation)))
pd.DataFrame([{"agency": r["agency"], "features": r["n_features"],
               "precision at capacity": r["precision_at_capacity"],
               "change": r["delta_precision_at_capacity"]["value"],
               "PR-AUC change": r["delta_pr_auc"]["value"]}
              for r in ablation["agencies"]]).set_index("agency")

# %% [markdown]
# ## 8 · The report
#
# The same figures, pass/fail first, in one HTML file in the run folder (and in
# MLflow beside the model).

# %%
report = write_report(result.run_dir)
print(report)
print(report.read_text().split("<body>", 1)[1].splitlines()[1][:200])
assert np.isfinite(metrics["base_rate"])
