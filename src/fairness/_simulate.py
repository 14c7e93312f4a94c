"""Simulated score files with bias injected in a known way.

Used by the notebook when no run is given, by the benchmark, and by the
bias-detection experiment that shows an ethics board what the audit can and
cannot see. The rows follow the scores contract (COMMON.md item 6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ETHNICITY_SHARES = {"White": 0.70, "Mixed": 0.08, "Asian": 0.10, "Black": 0.07,
                    "Other": 0.03, "Unknown": 0.02}
AGE_BANDS = {"0-4": 0.28, "5-9": 0.29, "10-15": 0.32, "16-17": 0.11}
AREAS = ("North", "South", "East", "West", "Central")


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_scores(
    n: int = 20_000,
    *,
    seed: int = 0,
    base_logit: float = -3.6,
    surveillance_bias: float = 0.0,
    label_bias: float = 0.0,
    biased_group: tuple[str, str] = ("audit_ethnicity", "Black"),
    capacity_fraction: float = 0.05,
    n_months: int = 4,
) -> pd.DataFrame:
    """Simulate a scored test set whose only group differences are the ones put in.

    True need depends on deprivation (as in England, where much of the
    ethnic disparity runs through deprivation) and on an individual term. The
    model's score is the true probability (what remains is the chance in who
    escalates), so it is calibrated in every group unless bias is injected:

    - ``surveillance_bias`` (log-odds): at equal need, the biased group's
      records make the model over-state its risk: its scores are shifted up.
    - ``label_bias`` (probability): at equal need, the biased group's outcome
      is recorded more often: a child without the true outcome is recorded as
      escalating with this probability. The score, trained on need, does not
      see it, so recorded outcomes exceed predictions for that group.

    Parameters
    ----------
    n : int
        Rows (children × as-of dates).
    seed : int
        Random seed.
    base_logit : float
        Log-odds of the outcome for an average child in the least deprived
        quintile.
    surveillance_bias, label_bias : float
        Strength of each injected bias (0 = none).
    biased_group : (str, str)
        Attribute column and group that receive the bias.
    capacity_fraction : float
        Share of each month's rows flagged (the capacity threshold).
    n_months : int
        Number of as-of months the rows are spread over.

    Returns
    -------
    pandas.DataFrame
        Columns ``person_id, family_id, as_of, score, label, flagged, rank,
        p_true`` and the ``audit_*`` columns.
    """
    rng = np.random.default_rng(seed)
    eth = rng.choice(list(ETHNICITY_SHARES), size=n, p=list(ETHNICITY_SHARES.values()))
    imd = rng.choice(np.arange(1, 6), size=n, p=[0.30, 0.24, 0.19, 0.15, 0.12])
    frame = pd.DataFrame({
        "person_id": [f"P{i:07d}" for i in range(n)],
        "family_id": [f"F{i // 2:07d}" for i in range(n)],
        "as_of": pd.to_datetime("2023-01-01") + pd.to_timedelta(
            (rng.integers(0, n_months, n) * 30.5).astype(int), unit="D"),
        "audit_ethnicity": eth,
        "audit_sex": rng.choice(["F", "M", "U"], size=n, p=[0.49, 0.50, 0.01]),
        "audit_age_band": rng.choice(list(AGE_BANDS), size=n, p=list(AGE_BANDS.values())),
        "audit_disability": rng.choice(["Y", "N"], size=n, p=[0.08, 0.92]),
        "audit_imd_quintile": imd,
        "audit_area": rng.choice(AREAS, size=n),
    })
    frame["as_of"] = frame["as_of"].dt.to_period("M").dt.to_timestamp()
    need = base_logit + 0.35 * (5 - imd) + rng.normal(0.0, 1.0, n)
    p_true = _expit(need)
    in_group = (frame[biased_group[0]].astype(str) == str(biased_group[1])).to_numpy()
    true_outcome = rng.random(n) < p_true
    recorded = true_outcome | (in_group & (rng.random(n) < label_bias))
    score = _expit(_logit(p_true) + surveillance_bias * in_group)
    frame["score"] = score
    frame["label"] = recorded.astype("int8")
    frame["p_true"] = p_true
    frame["rank"] = frame.groupby("as_of")["score"].rank(ascending=False, method="first")
    per_month = frame.groupby("as_of")["score"].transform("size")
    frame["flagged"] = frame["rank"] <= np.maximum(1, np.round(capacity_fraction * per_month))
    frame["rank"] = frame["rank"].astype("int64")
    return frame
