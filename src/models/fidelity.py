"""Do the reasons name the true drivers? Explanation fidelity on synthetic data.

The synthetic LA keeps, for every child-month, the three largest terms of the
child's escalation hazard (``ground_truth/child_month.parquet``, columns
``driver_1..3``; names in :data:`DRIVERS`). Two figures compare them with our
explanations:

1. **Top-3 hit rate**: the share of flagged children whose top-3 reasons
   (risk and protective reasons, largest absolute contribution first) cite a
   feature that measures the true largest driver (``driver_1``). The share is
   also given over the children whose largest driver is *nameable*: it is not
   ``latent_unrecorded`` (by design no record measures it) and some model
   feature measures it; and for the largest *recorded* driver (the first of
   ``driver_1..3`` that is not ``latent_unrecorded``).
2. **Rank correlation** (Spearman) between the mean absolute SHAP value per
   driver and the causal model's effect per driver. The ground truth does not
   store each term's size, so the effect is measured as the rank-weighted share
   of child-months where the driver is among the three largest terms (3 points
   for ``driver_1``, 2 for ``driver_2``, 1 for ``driver_3``); when the ground
   truth carries ``effect_<driver>`` columns their mean absolute value is used
   instead.

Which feature measures which driver is declared once, in :data:`DRIVER_RULES`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from earlywarning.models._fidelity_report import (
    DRIVER_LABELS,
    fidelity_for_run,
    fidelity_section_for_run,
    fidelity_section_html,
)
from earlywarning.models._reasons import FeatureDictionary, ReasonSettings
from earlywarning.models.explain import BIAS_COLUMN, explain, predict_risk

__all__ = [
    "DRIVERS",
    "DRIVER_LABELS",
    "DRIVER_RULES",
    "DriverRule",
    "FidelityResult",
    "explanation_fidelity",
    "feature_drivers",
    "fidelity_for_run",
    "fidelity_section_for_run",
    "fidelity_section_html",
    "importance_by_driver",
    "true_effect_by_driver",
]

DRIVERS = (
    "domestic_abuse", "parental_mental_health", "parental_substance_misuse", "housing_crisis",
    "school_absence", "missing_episodes", "youth_offending", "prior_csc_history",
    "sibling_csc_history", "adult_social_care", "deprivation", "young_age", "adolescence",
    "latent_unrecorded", "school_attendance_good", "early_help_engagement", "stable_address",
    "second_carer_support",
)  # fmt: skip
"""Ground-truth driver names (COMMON.md, shared contract 1)."""

UNOBSERVABLE = "latent_unrecorded"


@dataclass(frozen=True)
class DriverRule:
    """Features whose name matches ``pattern`` measure ``drivers``.

    ``how`` says which driver a contribution belongs to when there are two:
    ``"sign"`` gives a positive contribution to the first and a negative one
    to the second (school absence raises, good attendance lowers risk);
    ``"age"`` gives ages under 5 to the first (young age) and 12 or over to
    the second (adolescence).
    """

    pattern: str
    drivers: tuple[str, ...]
    how: str = "one"


DRIVER_RULES: tuple[DriverRule, ...] = (
    DriverRule(r"sibling", ("sibling_csc_history",)),
    # Police incidents with the child as victim or present are mostly domestic abuse.
    DriverRule(r"domestic_abuse|(^|_)da(_|$)|police_child_count", ("domestic_abuse",)),
    DriverRule(r"mental_health|gp_concern|amh", ("parental_mental_health",)),
    DriverRule(r"substance|drug_alcohol|police_crime_parent", ("parental_substance_misuse",)),
    DriverRule(r"housing|rent_arrears|temporary_accommodation", ("housing_crisis",)),
    DriverRule(r"(^|_)asc(_|$)|adult_social_care|young_carer", ("adult_social_care",)),
    DriverRule(r"missing", ("missing_episodes",)),
    DriverRule(r"youth_justice|exploitation|offend", ("youth_offending",)),
    DriverRule(r"school_(unauthorised_)?absence|suspension|exclusion|attendance",
               ("school_absence", "school_attendance_good"), "sign"),
    DriverRule(r"early_help", ("early_help_engagement",)),
    DriverRule(r"address_moves|school_moves", ("stable_address",)),
    DriverRule(r"household_members|household_joins|carer", ("second_carer_support",)),
    DriverRule(r"imd|depriv", ("deprivation",)),
    DriverRule(r"(^|_)age(_|$)", ("young_age", "adolescence"), "age"),
    DriverRule(r"^(contacts|referrals|assessments|s47|cp_|care_episodes)|factor_(neglect|abuse)"
               r"|csc_prior", ("prior_csc_history",)),
)
"""Feature name → true driver(s), first match wins; coverage features measure none."""


def feature_drivers(dictionary: FeatureDictionary) -> dict[str, DriverRule]:
    """Map each non-coverage feature of the dictionary to its driver rule.

    Parameters
    ----------
    dictionary : FeatureDictionary

    Returns
    -------
    dict of str to DriverRule
        Features that measure no driver are left out.
    """
    out = {}
    for name, entry in dictionary.entries.items():
        if entry.direction == "coverage":
            continue
        for rule in DRIVER_RULES:
            if re.search(rule.pattern, name):
                out[name] = rule
                break
    return out


def _resolve(rule: DriverRule, value: float, contribution: float) -> str | None:
    if rule.how == "sign":
        return rule.drivers[0] if contribution >= 0 else rule.drivers[1]
    if rule.how == "age":
        if np.isnan(value):
            return None
        return rule.drivers[0] if value < 5 else (rule.drivers[1] if value >= 12 else None)
    return rule.drivers[0]


def importance_by_driver(contributions: pd.DataFrame, values: pd.DataFrame,
                         mapping: dict[str, DriverRule]) -> pd.Series:
    """Mean absolute SHAP value per driver over rows.

    A driver's SHAP value for a row is the sum of the contributions of the
    features that measure it (split by :class:`DriverRule` ``how``).

    Parameters
    ----------
    contributions : DataFrame
        SHAP log-odds per feature (``bias`` ignored).
    values : DataFrame
        Feature values, same rows.
    mapping : dict
        Output of :func:`feature_drivers`.

    Returns
    -------
    Series
        Indexed by driver, sorted descending.
    """
    n = len(contributions)
    per: dict[str, np.ndarray] = {}
    for name, rule in mapping.items():
        if name not in contributions.columns:
            continue
        c = contributions[name].to_numpy(dtype=np.float64)
        v = values[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for driver in rule.drivers:
            if rule.how == "sign":
                mask = (c >= 0) if driver == rule.drivers[0] else (c < 0)
            elif rule.how == "age":
                mask = (v < 5) if driver == rule.drivers[0] else (v >= 12)
            else:
                mask = np.ones(n, dtype=bool)
            per.setdefault(driver, np.zeros(n))
            per[driver] += np.where(mask, c, 0.0)
    return pd.Series({d: float(np.abs(a).mean()) for d, a in per.items()},
                     dtype="float64").sort_values(ascending=False)


def true_effect_by_driver(truth: pd.DataFrame) -> tuple[pd.Series, str]:
    """Measure the causal model's effect per driver over the given child-months.

    Parameters
    ----------
    truth : DataFrame
        Ground-truth rows (``driver_1..3``; optionally ``effect_<driver>``).

    Returns
    -------
    (Series, str)
        Effect per driver and a sentence saying how it was measured.
    """
    effects = [c for c in truth.columns if c.startswith("effect_")]
    if effects:
        s = truth[effects].abs().mean()
        s.index = [c.removeprefix("effect_") for c in effects]
        return s.astype("float64"), "mean absolute term of the true hazard"
    points = pd.Series(0.0, index=list(DRIVERS))
    for col, weight in (("driver_1", 3.0), ("driver_2", 2.0), ("driver_3", 1.0)):
        counts = truth[col].astype(str).value_counts()
        points = points.add(weight * counts, fill_value=0.0)
    return (points / max(len(truth), 1)).astype("float64"), (
        "rank-weighted share of child-months where the driver is among the three largest "
        "hazard terms (3 points for the largest, 2, 1)")


def _spearman(a: pd.Series, b: pd.Series) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(spearmanr(a.to_numpy(), b.to_numpy()).statistic)


@dataclass
class FidelityResult:
    """Explanation fidelity figures.

    Attributes
    ----------
    top3_share : float
        Flagged children whose top-3 reasons cite the true largest driver.
    top3_share_nameable : float
        The same among children whose largest driver is nameable.
    top3_share_recorded : float
        Children whose top-3 reasons cite their largest *recorded* driver (the
        first of ``driver_1..3`` that is not ``latent_unrecorded``), among
        those who have one that a feature measures.
    n_flagged, n_nameable, n_recorded : int
        Denominators of the three shares.
    spearman : float
        Rank correlation of mean |SHAP| per driver with the true effect.
    n_drivers : int
        Drivers in that correlation.
    effect_measure : str
        How the true effect was measured.
    per_driver : list of dict
        ``driver, importance, true_effect, n_largest, hit_rate`` per driver.
    """

    top3_share: float
    top3_share_nameable: float
    top3_share_recorded: float
    n_flagged: int
    n_nameable: int
    n_recorded: int
    spearman: float
    n_drivers: int
    effect_measure: str
    per_driver: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as a JSON-able dict."""
        return asdict(self)


def _month(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.to_period("M")


def _hits(reasons: pd.DataFrame, rows: pd.DataFrame, contrib: pd.DataFrame,
          mapping: dict[str, DriverRule], largest: pd.Series, k: int) -> pd.Series:
    """Flag, per row key, whether its top-k reasons cite a feature measuring ``largest``."""
    scored = reasons[reasons.direction.isin(["risk", "protective"])].copy()
    scored["_abs"] = scored["contribution"].abs()
    scored = scored.sort_values(["key", "_abs"], ascending=[True, False])
    top = scored.groupby("key", sort=False).head(k)
    named: dict[Any, set[str]] = {key: set() for key in rows["_key"]}
    pos = {key: i for i, key in enumerate(rows["_key"])}
    for r in top.itertuples():
        i = pos[r.key]
        for name in filter(None, r.feature.split(",")):
            rule = mapping.get(name)
            if rule is not None:
                d = _resolve(rule, float(rows[name].iloc[i]), float(contrib[name].iloc[i]))
                if d is not None:
                    named[r.key].add(d)
    return pd.Series([largest.iloc[pos[key]] in named[key] for key in rows["_key"]],
                     index=rows["_key"].to_numpy())


def explanation_fidelity(
    model: Any,
    features: pd.DataFrame,
    dictionary: FeatureDictionary,
    truth: pd.DataFrame,
    *,
    capacity: int,
    flagged: pd.Series | None = None,
    sample_size: int = 2000,
    seed: int = 0,
    k: int = 3,
    settings: ReasonSettings | None = None,
) -> FidelityResult:
    """Measure how well the explanations name the true drivers.

    Parameters
    ----------
    model : object
        The fitted model.
    features : DataFrame
        Feature rows (one or more as-of dates) with ``person_id`` and ``as_of``.
    dictionary : FeatureDictionary
        Describes the features.
    truth : DataFrame
        ``ground_truth/child_month.parquet`` (``person_id, month, driver_1..3``).
    capacity : int
        Flags per as-of date (top ``capacity`` by risk), unless ``flagged`` is given.
    flagged : Series of bool, optional
        Which rows were flagged (aligned with ``features``).
    sample_size : int
        Rows sampled (all rows, flagged or not) for the importance correlation.
    seed : int
        Sampling seed.
    k : int
        How many top reasons count.
    settings : ReasonSettings, optional
        Reason settings (as used for flags).

    Returns
    -------
    FidelityResult
    """
    features = features.reset_index(drop=True)
    t = truth.assign(_month=_month(truth["month"]), person_id=truth["person_id"].astype(str))
    t = t.drop_duplicates(["person_id", "_month"]).set_index(["person_id", "_month"])
    keys = pd.MultiIndex.from_arrays([features["person_id"].astype(str), _month(features["as_of"])])
    matched = t.reindex(keys)
    known = matched["driver_1"].notna().to_numpy()
    if not known.any():
        raise ValueError("no feature row matches a ground-truth child-month (person_id, month)")
    if flagged is None:
        risk = pd.Series(predict_risk(model, features))
        order = risk.groupby(features["as_of"]).rank(method="first", ascending=False)
        flag = (order <= capacity).to_numpy()
    else:
        flag = np.asarray(flagged, dtype=bool)
    mapping = feature_drivers(dictionary)
    rows = features[flag & known].copy()
    rows["_key"] = np.arange(len(rows))
    exp = explain(model, rows, dictionary, key="_key", settings=settings)
    top3 = matched[["driver_1", "driver_2", "driver_3"]].to_numpy()[flag & known].astype(str)
    largest = pd.Series(top3[:, 0])
    # The largest *recorded* driver: the first of driver_1..3 that is not unrecorded.
    first_recorded = np.argmax(top3 != UNOBSERVABLE, axis=1)
    recorded = pd.Series(top3[np.arange(len(top3)), first_recorded])
    rows_, contrib_ = rows.reset_index(drop=True), exp.contributions.reset_index(drop=True)
    hits = _hits(exp.reasons, rows_, contrib_, mapping, largest, k)
    hits_recorded = _hits(exp.reasons, rows_, contrib_, mapping, recorded, k)
    measured = {d for rule in mapping.values() for d in rule.drivers}
    nameable = largest.isin(measured - {UNOBSERVABLE}).to_numpy()
    has_recorded = recorded.isin(measured - {UNOBSERVABLE}).to_numpy()

    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(known)
    sample = features.iloc[np.sort(rng.choice(pool, size=min(sample_size, len(pool)),
                                              replace=False))]
    from earlywarning.models.explain import shap_contributions

    contrib = shap_contributions(model, sample).drop(columns=[BIAS_COLUMN])
    importance = importance_by_driver(contrib, sample, mapping)
    effect, how = true_effect_by_driver(t.reindex(pd.MultiIndex.from_arrays(
        [sample["person_id"].astype(str), _month(sample["as_of"])])))
    drivers = sorted(set(importance.index) - {UNOBSERVABLE})
    rho = _spearman(importance.reindex(drivers), effect.reindex(drivers).fillna(0.0))
    per = []
    for d in sorted(set(drivers) | set(largest.unique())):
        is_d = (largest == d).to_numpy()
        per.append({"driver": d, "importance": float(importance.get(d, 0.0)),
                    "true_effect": float(effect.get(d, 0.0)),
                    "n_largest": int(is_d.sum()),
                    "hit_rate": float(hits.to_numpy()[is_d].mean()) if is_d.any() else None})
    return FidelityResult(
        top3_share=float(hits.mean()) if len(hits) else float("nan"),
        top3_share_nameable=float(hits.to_numpy()[nameable].mean()) if nameable.any()
        else float("nan"),
        top3_share_recorded=float(hits_recorded.to_numpy()[has_recorded].mean())
        if has_recorded.any() else float("nan"),
        n_flagged=int(len(hits)), n_nameable=int(nameable.sum()),
        n_recorded=int(has_recorded.sum()), spearman=rho,
        n_drivers=len(drivers), effect_measure=how, per_driver=per)
