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
# # 05 · Fairness audit: who the model flags, and who it misses
#
# An ethics board must see, for every model, how it treats each group —
# with the uncertainty of every number — before anyone may use it. This
# notebook walks through the audit behind `earlywarning audit RUN_DIR`.
#
# Set `EARLYWARNING_RUN_DIR` to a run folder (`runs/<pipeline>/<timestamp>`,
# written by `make demo`) to audit that model's held-out predictions.
# Without it, the notebook simulates a score file in which **bias was put in
# on purpose** (the model over-states the risk of Black children at equal
# need), so you can see what the audit finds.

# %%
import base64
import os
import tempfile
from pathlib import Path

import pandas as pd
from earlywarning.fairness import (
    AuditSettings,
    audit,
    bias_detection_experiment,
    calibration_by_group,
    capacity_curve,
    capacity_curves,
    equal_miss_rate_thresholds,
    metric_bars,
    plain_disparities,
    prepare_audit_data,
    simulate_scores,
)
from IPython.display import Image, display


def show(png: str) -> None:
    """Display a base64 PNG made by the report's plotting functions."""
    display(Image(base64.b64decode(png)))


RUN_DIR = os.environ.get("EARLYWARNING_RUN_DIR")
if RUN_DIR:
    scores = pd.read_parquet(Path(RUN_DIR) / "test_predictions.parquet")
    print(f"Auditing the held-out predictions of {RUN_DIR}")
else:
    scores = simulate_scores(12_000, seed=1, surveillance_bias=0.6,
                             biased_group=("audit_ethnicity", "Black"))
    print("No run folder given: auditing a simulated score file with injected bias")
print(f"{len(scores):,} scored children-months; {scores['flagged'].mean():.1%} flagged")

# %% [markdown]
# ## 1 · The audit
#
# Fairlearn's `MetricFrame` computes every metric by group at the capacity
# threshold (the flags the service would act on); a vectorised bootstrap
# gives 95% intervals. Groups smaller than the minimum are "too few to say".

# %%
GROUPS = ["audit_ethnicity", "audit_sex", "audit_age_band", "audit_disability",
          "audit_imd_quintile"]
data = prepare_audit_data(scores, group_cols=GROUPS,
                          intersections=[("audit_ethnicity", "audit_imd_quintile")])
settings = AuditSettings(n_boot=200, min_group_size=50,
                         reference_groups={"audit_ethnicity": "White"})
result = audit(data, settings)
result.overall[["label", "value", "ci_low", "ci_high"]].round(3)

# %% [markdown]
# ## 2 · Ethnicity, with intervals
#
# Each difference is against the reference group (White). A disparity is
# *clear* when its interval excludes zero.

# %%
t = result.table
cols = ["group", "n", "metric_label", "value", "ci_low", "ci_high", "diff_ref",
        "diff_ref_low", "diff_ref_high", "disparity"]
eth = t[(t.attribute == "audit_ethnicity")
        & t.metric.isin(["selection_rate", "false_negative_rate", "calibration_gap"])]
eth[cols].round(3)

# %%
overall = result.overall.set_index("metric")["value"]
show(metric_bars(t, "audit_ethnicity",
                 ["false_negative_rate", "false_positive_rate", "selection_rate",
                  "calibration_gap"], overall))

# %% [markdown]
# ## 3 · Calibration within groups
#
# Does a given score mean the same risk for every group? Surveillance bias
# shows here: the biased group's points sit below the diagonal (its risk is
# over-stated).

# %%
show(calibration_by_group(data.score, data.label, data.groups["audit_ethnicity"],
                          min_group_size=50))

# %% [markdown]
# ## 4 · The largest disparities, in plain words

# %%
for sentence in plain_disparities(result):
    print("•", sentence)
print(f"\nFairness bar ({dict(settings.bar)}): "
      f"{'PASSED' if result.bar_passed else 'FAILED'}")

# %% [markdown]
# ## 5 · If capacity changed, and per-group thresholds (for discussion only)
#
# Per-group thresholds can even out miss rates at the same capacity, but
# they treat children with the same score differently because of their
# group. They are shown, never applied.

# %%
today = float(data.flagged.mean())
curves = capacity_curves(data, "audit_ethnicity",
                         fractions=[today * m for m in (0.5, 1, 2, 3)], min_group_size=50)
show(capacity_curve(curves, [("false_negative_rate", "Missed (FNR)"),
                             ("selection_rate", "Flag rate")], today))
equal_miss_rate_thresholds(data, "audit_ethnicity", min_group_size=50).round(3)

# %% [markdown]
# ## 6 · Can the audit see bias? The detection experiment
#
# Simulated files with surveillance bias, label bias, or none, over several
# seeds: how often does the interval of the biased group's calibration gap
# exclude parity? With no bias this is the false-alarm rate (about 5%).

# %%
experiment = bias_detection_experiment(range(3), n=6_000, n_boot=100)
display(experiment.rates)

# %% [markdown]
# ## 7 · The ethics report
#
# `earlywarning audit RUN_DIR` writes the full report (and the model card,
# ATRS record, datasheets and equality impact inputs) into
# `RUN_DIR/fairness/`. For a score file from another tool, use
# `earlywarning audit-scores FILE.csv --group-cols ...`; here we do that on
# the scores above.

# %%
from earlywarning.fairness import audit_scores_file  # noqa: E402

folder = Path(tempfile.mkdtemp())
csv = folder / "scores.csv"
scores[["score", "label", "flagged", *GROUPS]].to_csv(csv, index=False)
out = audit_scores_file(csv, group_cols=GROUPS, flagged_col="flagged",
                        settings=AuditSettings(n_boot=100, min_group_size=50))
print(f"Ethics report: {out.report} ({out.report.stat().st_size / 1e6:.1f} MB)")
