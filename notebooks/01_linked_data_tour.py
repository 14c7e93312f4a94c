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
# # 01 · A tour of the linked dataset
#
# What is in the warehouse: which tables and agencies, how much of each
# family's life each source covers, the children's social care funnel beside
# England's base rates, and one family's timeline.
#
# Run `make demo` first (or set `EARLYWARNING_WAREHOUSE` to another warehouse).
# Only pseudonymous ids appear here: restricted tables (names, contact details,
# family voice notes) are never read by analysis.

# %%
import os
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt

from earlywarning.data import summary
from earlywarning.data.schema import AGENCIES

WAREHOUSE = Path(os.environ.get("EARLYWARNING_WAREHOUSE", "data/warehouse.duckdb"))
con = duckdb.connect(str(WAREHOUSE), read_only=True)
print(f"Warehouse: {WAREHOUSE}")

# %% [markdown]
# ## Tables and rows

# %%
counts = summary.table_row_counts(con)
counts.sort_values("rows", ascending=False)

# %% [markdown]
# ## Events by agency and year
# Years end on 31 March, as in DfE statistics. A source whose bars are short or
# absent is not "low risk": it may simply not be linked (next section).

# %%
events = summary.events_by_agency_year(con)
pivot = events.pivot(index="year_ending", columns="agency", values="events").fillna(0)
ax = pivot.plot(kind="bar", stacked=True, figsize=(11, 5), colormap="tab20")
ax.set_ylabel("event rows")
ax.set_title("Agency events per year (by event date)")
ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Coverage: which sources are linked for how many families
# Seed 003 (Leeds/Stockport Family Context) rated each source's accessibility:
# easy (adult social care, police, school), medium (housing, Early Help, early
# years), poor (adult mental health, drug and alcohol, GP, health visiting).

# %%
coverage = summary.coverage_by_agency_year(con)
if len(coverage):
    cov = coverage.pivot(index="agency", columns="year_ending", values="coverage")
    cov.index = [AGENCIES.get(a, a) for a in cov.index]
    fig, ax = plt.subplots(figsize=(10, 5))
    im = ax.imshow(cov.values, aspect="auto", vmin=0, vmax=1, cmap="viridis")
    ax.set_yticks(range(len(cov.index)), cov.index)
    ax.set_xticks(range(len(cov.columns)), cov.columns)
    ax.set_title("Share of families linked to each source at 31 March")
    fig.colorbar(im, ax=ax, label="coverage")
    plt.tight_layout()
    plt.show()
coverage.tail(10)

# %% [markdown]
# ## The funnel beside England's base rates
# Rates per 10,000 children a year; England 2025 figures from REFERENCE.md:
# about 458 children referred, 160 in s47 enquiries, 51 CP plan starts and 26
# care starts per 10,000 children.

# %%
funnel = summary.funnel_by_year(con)
rates = (funnel.drop(columns="children").div(funnel["children"], axis=0) * 10_000).round(1)
rates["children"] = funnel["children"]
rates

# %%
england = {"referrals": 520, "s47_enquiries": 189, "cp_plan_starts": 51, "care_starts": 26}
complete = rates.iloc[1:-1] if len(rates) > 2 else rates
fig, ax = plt.subplots(figsize=(8, 4))
x = range(len(england))
ax.bar([i - 0.2 for i in x], [complete[k].mean() for k in england], width=0.4,
       label="this LA (mean of complete years)")
ax.bar([i + 0.2 for i in x], list(england.values()), width=0.4, label="England 2025")
ax.set_xticks(list(x), list(england))
ax.set_ylabel("per 10,000 children per year")
ax.set_yscale("log")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## One family's timeline
# A family with a child who came onto a child protection plan: every dated
# record of every household member, by agency. Points are placed at the date
# the event happened; the platform only learned of each one at its
# `recorded_at` date, which is what point-in-time features respect.

# %%
family = con.execute(
    """select f.fami_family_id from ssd_cp_plans p
       join ssd_family f on f.fami_person_id = p.cppl_person_id
       order by p.cppl_cp_plan_start_date desc, f.fami_family_id limit 1"""
).fetchone()
family_id = family[0] if family else con.execute(
    "select fami_family_id from ssd_family limit 1").fetchone()[0]
timeline = summary.family_timeline(con, family_id)
print(f"Family {family_id}: {timeline['person_id'].nunique()} people, {len(timeline)} events")
timeline.tail(15)

# %%
if len(timeline):
    agencies = sorted(timeline["agency_name"].unique())
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(agencies) + 1.5))
    for who, marker in (("Y", "o"), ("N", "s")):
        part = timeline[timeline["is_child"] == who]
        ax.scatter(part["date"], part["agency_name"].map(agencies.index), marker=marker,
                   alpha=0.7, label="child" if who == "Y" else "adult")
    ax.set_yticks(range(len(agencies)), agencies)
    ax.set_title(f"Timeline of family {family_id}")
    ax.legend()
    plt.tight_layout()
    plt.show()

# %%
con.close()
