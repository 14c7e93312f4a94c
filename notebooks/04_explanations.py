# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Explained flags: reasons for and against, provenance, and fidelity
#
# A risk number on its own is what practitioners distrusted in earlier tools. Each
# flag here carries an absolute risk with a band a person can picture ("about 1 in
# 5"), the **reasons for and against** in plain English (SHAP contributions of the
# LightGBM model, merged by agency), what the model **could not see** (missing data),
# the sources it used and their freshness, and the model's known limits.
#
# On the synthetic LA we can also check the reasons against the truth: the generator
# knows the largest terms of every child's escalation hazard.
#
# Set `EARLYWARNING_PIPELINE` to choose the pipeline (default `pipelines/demo.yaml`).
# The approved model (alias `champion`) is used when there is one, else the
# unapproved `candidate`, clearly marked. Nothing is written.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from earlywarning.config import load_pipeline
from earlywarning.models.explain import BIAS_COLUMN
from earlywarning.models.fidelity import explanation_fidelity
from earlywarning.models.scoring import load_dictionary_for, preview, resolve_as_of

pd.set_option("display.max_colwidth", 160)
PIPELINE = os.environ.get("EARLYWARNING_PIPELINE", "pipelines/demo.yaml")
cfg = load_pipeline(PIPELINE)
as_of = resolve_as_of(cfg, None)
result, model, rows = preview(cfg, as_of, allow_candidate=True)
status = "approved (champion)" if model.alias == "champion" else "NOT approved (candidate)"
print(f"{cfg.name}: {len(rows):,} children scored at {as_of} with {model.name} "
      f"version {model.version}, {status}")

# %% [markdown]
# ## The flags
# The top `capacity.flags_per_month` children by calibrated risk.

# %%
result.flags[["rank", "person_id", "risk", "band"]].head(10).style.format({"risk": "{:.1%}"})

# %% [markdown]
# ## One flagged child: reasons for and against
# Risk reasons first (largest first), then protective factors, then the agencies
# the model had no data from for this family.

# %%
first = result.flags.iloc[0]
reasons = result.reasons[result.reasons.flag_id == first.flag_id].sort_values("order")
print(f"{first.person_id}: risk {first.risk:.0%} ({first.band}), rank {first['rank']}")
for r in reasons.itertuples():
    print(f"  [{r.direction:>12}] {r.text}")

# %% [markdown]
# ## Where this flag's information came from, and the model's limits

# %%
prov = result.provenance[result.provenance.flag_id == first.flag_id]
prov[["agency", "extract_date", "coverage", "note"]]

# %% [markdown]
# ## Waterfall: from the average child to this child
# Contributions are on the model's log-odds scale, summed by agency (SHAP values are
# additive). The calibrated risk is a monotone function of the end point, so every
# bar that pushes right raises the risk shown to the practitioner.

# %%
contrib = result.contributions
row = contrib[(contrib.person_id == first.person_id) & contrib.flagged].iloc[0]
dictionary = load_dictionary_for(cfg, model)
groups = pd.Series({n: dictionary.entries[n].group for n in contrib.columns
                    if n in dictionary.entries})
by_group = row[groups.index].astype(float).groupby(groups).sum()
by_group = by_group[by_group.abs().sort_values(ascending=False).index][:10]
start = float(row[BIAS_COLUMN])
fig, ax = plt.subplots(figsize=(8, 4.5))
level = start
for i, v in enumerate(by_group.to_numpy()):
    ax.barh(i, v, left=level, color="#d4351c" if v > 0 else "#00703c")
    ax.text(level + v, i, f" {v:+.2f}", va="center", fontsize=8)
    level += v
ax.set_yticks(range(len(by_group)), by_group.index)
ax.invert_yaxis()
ax.axvline(start, color="grey", lw=0.8, ls="--")
ax.set_xlabel(f"log-odds (average child {start:.2f} → this child {level:.2f} "
              f"from the 10 largest agencies)")
ax.set_title(f"Why {first.person_id} was flagged")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Global importance beside the true effects (synthetic data only)
# Mean |SHAP| per true driver (features mapped to the generator's driver names) beside
# the causal model's effect, and how often a flagged child's top-3 reasons name the
# true largest driver.

# %%
gt_path = None
if cfg.data.synthetic is not None:
    candidate = Path(cfg.data.synthetic.out) / "ground_truth" / "child_month.parquet"
    gt_path = candidate if candidate.exists() else None
if gt_path is None:
    print("No ground truth for this pipeline: fidelity is measured on synthetic data only.")
else:
    truth = pd.read_parquet(gt_path, columns=["person_id", "month", "driver_1", "driver_2",
                                               "driver_3"])
    fid = explanation_fidelity(model.model, rows, dictionary, truth,
                               capacity=cfg.capacity.flags_per_month)
    print(f"true largest driver in the top-3 reasons: {fid.top3_share:.0%} of "
          f"{fid.n_flagged} flagged children ({fid.top3_share_nameable:.0%} of the "
          f"{fid.n_nameable} whose largest driver is recorded by some agency; largest "
          f"recorded driver named for {fid.top3_share_recorded:.0%})")
    print(f"Spearman rank correlation, mean |SHAP| vs true effect over {fid.n_drivers} "
          f"drivers: {fid.spearman:.2f} (true effect: {fid.effect_measure})")
    per = pd.DataFrame(fid.per_driver)
    per = per[per.driver != "latent_unrecorded"]
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.scatter(per.true_effect, per.importance)
    for p in per.itertuples():
        ax.annotate(p.driver, (p.true_effect, p.importance), fontsize=7)
    ax.set_xlabel("true effect (causal model)")
    ax.set_ylabel("mean |SHAP| (model)")
    ax.set_title("Global importance vs true effects")
    plt.tight_layout()
    plt.show()
    print(per.sort_values("importance", ascending=False).to_string(index=False))
