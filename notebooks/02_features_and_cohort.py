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
# # 02 · Features and cohort
#
# The model's training table: one row per child and as-of date, features that
# use only what was recorded by that date, and an outcome (a child protection
# plan or coming into care) in the year after it. This notebook shows who is
# in the cohort and how often they escalate, how the features differ between
# children who did and did not escalate, and how much of each agency's data is
# simply missing for a family (missing is not the same as "no risk").
#
# Run `make demo` first, or point `EARLYWARNING_PIPELINE` at another pipeline
# file. The table is read from the pipeline's output folder when it was built
# from this exact config, and built otherwise.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from earlywarning.config import load_pipeline
from earlywarning.data.schema import AGENCIES
from earlywarning.features import (
    all_specs,
    build_features,
    compare_cohorts,
    dictionary_entries,
    load_feature_table,
)

PIPELINE = Path(os.environ.get("EARLYWARNING_PIPELINE", "pipelines/demo.yaml"))
cfg = load_pipeline(PIPELINE)
loaded = load_feature_table(cfg)
if loaded is None:
    result = build_features(cfg, source=str(PIPELINE))
    table, manifest = result.frame, result.manifest
else:
    table, manifest = loaded
dictionary = pd.DataFrame(dictionary_entries(all_specs(cfg))).set_index("name")
print(f"Pipeline {cfg.name}: cohort {manifest['cohort']}, outcome {manifest['outcome']} "
      f"within {manifest['horizon_days']} days; data end {manifest['data_end']}")
print(f"{manifest['row_count']:,} rows, {len(manifest['feature_columns'])} features, "
      f"{len(manifest['audit_columns'])} audit columns")

# %% [markdown]
# ## The point-in-time rule
#
# A record counts at as-of date D when it happened on or before D **and** was
# entered by the end of D; a 365-day window covers event dates in (D − 365, D].
# The label looks at outcome dates in (D, D + 365]. Training dates need a
# complete horizon; the latest date is scored without a label.

# %%
dates = pd.DataFrame(manifest["as_of_dates"])
dates["date"] = pd.to_datetime(dates["date"])
dates[["date", "role", "n_rows", "n_positive", "base_rate", "horizon_complete"]].tail(6)

# %% [markdown]
# ## Cohort size and base rate by month

# %%
train = dates[dates["role"] == "train"]
fig, ax1 = plt.subplots(figsize=(9, 3.5))
ax1.plot(train["date"], train["n_rows"], color="tab:blue")
ax1.set_ylabel("children in cohort", color="tab:blue")
ax2 = ax1.twinx()
ax2.plot(train["date"], 100 * train["base_rate"], color="tab:red")
ax2.set_ylabel("escalated within horizon (%)", color="tab:red")
ax1.set_title(f"Cohort '{manifest['cohort']}': size and base rate at each as-of date")
fig.tight_layout()
plt.show()
print(f"Mean cohort size {train['n_rows'].mean():,.0f}; mean base rate "
      f"{100 * train['base_rate'].mean():.2f}%; {cfg.capacity.flags_per_month} flags a month "
      f"is {100 * cfg.capacity.flags_per_month / train['n_rows'].mean():.1f}% of the cohort")

# %% [markdown]
# ### Which cohort?
#
# The same outcome, horizon and dates under each cohort definition: a wider
# cohort has more children and a lower base rate.

# %%
cohorts = compare_cohorts(cfg)
summary = cohorts.groupby("cohort").agg(children=("n_children", "mean"),
                                         positives=("n_positive", "mean"))
summary["base_rate_%"] = 100 * summary["positives"] / summary["children"]
print(summary.round(2).to_string())
fig, ax = plt.subplots(figsize=(9, 3))
for name, g in cohorts.groupby("cohort"):
    ax.plot(pd.to_datetime(g["as_of"]), 100 * g["base_rate"], label=name)
ax.set_ylabel("base rate (%)")
ax.legend()
ax.set_title("Base rate by cohort definition")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Features by outcome
#
# For each feature, the mean among children who escalated and among those who
# did not (training rows with a complete horizon), with the ratio between them.
# A feature designed as protective should sit lower among those who escalated.

# %%
labelled = table[table["label"].notna()]
feature_cols = manifest["feature_columns"]
by_label = labelled.groupby("label")[feature_cols].mean().T
by_label.columns = ["did not escalate", "escalated"]
by_label["ratio"] = by_label["escalated"] / by_label["did not escalate"].replace(0, np.nan)
by_label["direction"] = dictionary["direction"].reindex(by_label.index)
top = by_label.dropna(subset=["ratio"]).sort_values("ratio", ascending=False)
print(top.head(12).round(3).to_string())

# %%
show = [c for c in ["police_da_victim_parent_count_365d", "referrals_count_1095d",
                    "school_absence_ratio_365d", "child_age_years_now"] if c in table]
fig, axes = plt.subplots(1, len(show), figsize=(4 * len(show), 3), squeeze=False)
for ax, col in zip(axes[0], show, strict=False):
    for value, name in ((0, "did not escalate"), (1, "escalated")):
        x = labelled.loc[labelled["label"] == value, col].dropna()
        ax.hist(x, bins=20, density=True, alpha=0.5, label=name)
    ax.set_title(col, fontsize=9)
axes[0][0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Missing data by agency
#
# Coverage indicators say whether each agency's records were linked for the
# child's family at the as-of date. Where a source is not linked, a count of
# zero means "we don't know", not "nothing happened", so the model sees the
# coverage indicator beside the counts.

# %%
coverage = [c for c in feature_cols if dictionary.loc[c, "direction"] == "coverage"]
missing = pd.Series({
    AGENCIES[dictionary.loc[c, "source_agency"]]: 100 * (table[c] == 0).mean() for c in coverage
}).sort_values()
fig, ax = plt.subplots(figsize=(8, 0.35 * len(missing) + 1))
missing.plot.barh(ax=ax, color="tab:gray")
ax.set_xlabel("% of rows whose family's records were not linked")
ax.set_title("Source not linked at the as-of date, by agency")
fig.tight_layout()
plt.show()

# %%
undefined = table[feature_cols].isna().mean()
undefined = undefined[undefined > 0].sort_values(ascending=False)
print("Features left missing by declaration (no record to compute them from):")
print((100 * undefined).round(1).astype(str).add(" %").to_string())

# %% [markdown]
# ## Audit columns are not features
#
# Ethnicity, sex, age band, disability, deprivation quintile and area are kept
# beside the features for the fairness audit; none is a model input unless a
# pipeline says so explicitly.

# %%
for col in manifest["audit_columns"][:4]:
    rates = labelled.groupby(col)["label"].agg(["size", "mean"])
    rates["mean"] = (100 * rates["mean"]).round(2)
    print(rates.rename(columns={"size": "rows", "mean": "base rate %"}).to_string(), "\n")
