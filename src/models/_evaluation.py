"""Honest metrics: each beside its base rate, at the service's capacity, with CIs.

For every model (and, on synthetic data, the oracle ``p_true``) on the test
period:

* ranking: ROC-AUC, PR-AUC (average precision) beside the no-skill PR-AUC,
  which equals the base rate;
* calibration: Brier score, expected calibration error (ECE, equal-count
  bins) and the calibration curve;
* capacity: precision, recall and number flagged when the service flags its
  ``flags_per_month`` each as-of month, and at the top 1/5/10 % each month;
* ties at the cut-off (common for points rules) are reported explicitly: the
  worst case (tied children flagged are the negatives), the best case, and the
  expectation under a random tie-break — as dssg/triage does — never whatever
  order a sort left;
* lift over the rule baseline and share of the oracle;
* a family-cluster bootstrap (families resampled with all their rows and
  months) gives percentile CIs, paired across models;
* stability: the same metrics per test month.

Ranking metrics use each model's ranking score; calibration metrics use its
calibrated risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

__all__ = [
    "EvaluationError",
    "ModelScores",
    "capacity_counts",
    "average_precision",
    "roc_auc",
    "expected_calibration_error",
    "calibration_points",
    "evaluate_models",
    "TOP_FRACTIONS",
]

TOP_FRACTIONS = (0.01, 0.05, 0.10)
CASES = ("worst", "expected", "best")
NO_POSITIVES_ERROR = (
    "evaluation: the test period {dates} has no positive labels among {n} rows; "
    "precision, recall and PR-AUC are undefined. Choose a longer or later test "
    "period (model.splits) or check the outcome definition"
)


class EvaluationError(ValueError):
    """The test data cannot support the requested metrics."""


@dataclass(frozen=True)
class ModelScores:
    """One model's scores on the test rows.

    Attributes
    ----------
    risk : numpy.ndarray
        Calibrated probability per test row.
    rank : numpy.ndarray
        Score that orders children for flagging (higher first).
    """

    risk: np.ndarray
    rank: np.ndarray


def capacity_counts(y: np.ndarray, score: np.ndarray, k: int) -> dict[str, float]:
    """Count true positives when flagging the ``k`` highest scores, with tie cases.

    Children tied at the cut-off score are only partly flagged; which of them
    is flagged is not decided by the model. ``worst`` assumes the negatives
    among them are flagged first, ``best`` the positives, ``expected`` a random
    choice.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Labels.
    score : numpy.ndarray
        Ranking score.
    k : int
        Number flagged.

    Returns
    -------
    dict
        ``flagged``, ``tp_worst``, ``tp_expected``, ``tp_best``, ``tied_at_cut``.

    Examples
    --------
    Scores ``[3, 2, 2, 2, 1]``, labels ``[1, 1, 0, 0, 1]``, ``k = 2``: the
    child scoring 3 is flagged; one of the three tied at 2 (one positive) is
    flagged too, so TP is 1 (worst), 1⅓ (expected) or 2 (best).
    """
    n = len(score)
    k = int(min(max(k, 0), n))
    if k == 0:
        return {"flagged": 0, "tp_worst": 0.0, "tp_expected": 0.0, "tp_best": 0.0,
                "tied_at_cut": 0}
    cut = np.partition(score, n - k)[n - k]
    above = score > cut
    tied = score == cut
    n_above = int(above.sum())
    n_tied = int(tied.sum())
    p_above = float(y[above].sum())
    p_tied = float(y[tied].sum())
    m = k - n_above
    return {
        "flagged": k,
        "tp_worst": p_above + max(0.0, m - (n_tied - p_tied)),
        "tp_expected": p_above + m * p_tied / n_tied,
        "tp_best": p_above + min(float(m), p_tied),
        "tied_at_cut": n_tied if n_tied > m else 0,
    }


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (PR-AUC), equal to scikit-learn's, tied scores as one step.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
    score : numpy.ndarray

    Returns
    -------
    float
    """
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    tps = np.cumsum(y[order])
    idx = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = tps[idx]
    precision = tp / (idx + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count one half).

    Parameters
    ----------
    y : numpy.ndarray of 0/1
    score : numpy.ndarray

    Returns
    -------
    float
    """
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bins(risk: np.ndarray, n_bins: int) -> np.ndarray:
    return _cut_at(risk, np.linspace(0, 1, n_bins + 1)[1:-1])


def _cut_at(risk: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Bin of each risk, the bins cut at these quantiles of ``risk`` (ties share a bin)."""
    return np.searchsorted(np.unique(np.quantile(risk, list(quantiles))), risk, side="right")


def expected_calibration_error(y: np.ndarray, risk: np.ndarray, n_bins: int = 10) -> float:
    """ECE over equal-count bins: mean |observed rate − mean risk|, weighted by bin size.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
    risk : numpy.ndarray of probabilities
    n_bins : int

    Returns
    -------
    float
    """
    b = _bins(risk, n_bins)
    n = np.bincount(b)
    keep = n > 0
    obs = np.bincount(b, weights=y)[keep] / n[keep]
    pred = np.bincount(b, weights=risk)[keep] / n[keep]
    return float(np.sum(n[keep] * np.abs(obs - pred)) / len(y))


def calibration_points(y: np.ndarray, risk: np.ndarray, n_bins: int = 10,
                       quantiles: Sequence[float] | None = None) -> pd.DataFrame:
    """Calibration curve over equal-count bins, or bins cut at given quantiles.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
    risk : numpy.ndarray of probabilities
    n_bins : int
        Equal-count bins (ignored when ``quantiles`` is given).
    quantiles : sequence of float, optional
        Quantiles of ``risk`` (in 0..1) that cut the bins, e.g. finer at the
        top where flags are.

    Returns
    -------
    pandas.DataFrame
        ``mean_risk``, ``observed_rate``, ``n`` per non-empty bin.
    """
    b = _bins(risk, n_bins) if quantiles is None else _cut_at(risk, quantiles)
    n = np.bincount(b)
    keep = n > 0
    return pd.DataFrame({
        "mean_risk": np.bincount(b, weights=risk)[keep] / n[keep],
        "observed_rate": np.bincount(b, weights=y)[keep] / n[keep],
        "n": n[keep],
    })


def _point_metrics(
    y: np.ndarray,
    sc: ModelScores,
    date_groups: Sequence[np.ndarray],
    capacity: Sequence[int],
    n_bins: int,
) -> dict[str, float]:
    """All scalar metrics of one model on one (possibly resampled) test set."""
    out: dict[str, float] = {
        "roc_auc": roc_auc(y, sc.rank),
        "pr_auc": average_precision(y, sc.rank),
        "brier": float(np.mean((sc.risk - y) ** 2)),
        "ece": expected_calibration_error(y, sc.risk, n_bins),
        "mean_risk": float(np.mean(sc.risk)),
    }
    n_pos = float(y.sum())
    cuts: dict[str, list[int]] = {"capacity": list(capacity)}
    for frac in TOP_FRACTIONS:
        cuts[f"top_{round(frac * 100)}pct"] = [math.ceil(frac * len(g)) for g in date_groups]
    # the risk the flags were given, beside the share that escalated (precision): calibration
    # where it matters. Risk is monotone in rank, so rows tied at the cut share one risk.
    given = flagged = 0.0
    for g, k in zip(date_groups, cuts["capacity"], strict=True):
        top = g[np.argsort(-sc.rank[g], kind="stable")[: int(min(max(k, 0), len(g)))]]
        given += float(sc.risk[top].sum())
        flagged += len(top)
    out["mean_risk_at_capacity"] = given / flagged if flagged else float("nan")
    for label, ks in cuts.items():
        tot = {"flagged": 0.0, **{c: 0.0 for c in CASES}}
        for g, k in zip(date_groups, ks, strict=True):
            c = capacity_counts(y[g], sc.rank[g], k)
            tot["flagged"] += c["flagged"]
            for case in CASES:
                tot[case] += c[f"tp_{case}"]
        out[f"flagged_at_{label}"] = tot["flagged"]
        for case in CASES:
            out[f"precision_at_{label}_{case}"] = (
                tot[case] / tot["flagged"] if tot["flagged"] else float("nan")
            )
            out[f"recall_at_{label}_{case}"] = tot[case] / n_pos if n_pos else float("nan")
    return out


def _date_groups(codes: np.ndarray, n_dates: int) -> list[np.ndarray]:
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_dates + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n_dates)]


def evaluate_models(
    test: pd.DataFrame,
    scores: Mapping[str, ModelScores],
    capacity_per_date: Mapping[pd.Timestamp, int],
    reference: str | None = "rule",
    oracle: str | None = "oracle",
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    n_bins: int = 10,
    seed: int = 0,
    recorded_oracle: str | None = None,
) -> dict:
    """Evaluate every model on the test rows.

    Parameters
    ----------
    test : pandas.DataFrame
        Test rows with ``as_of``, ``family_id`` and ``label`` (0/1).
    scores : mapping of str to ModelScores
        Scores per model name, aligned with ``test`` rows.
    capacity_per_date : mapping of as-of date to int
        Flags available per test date (already scaled to the test rows).
    reference : str or None
        Model whose capacity precision and PR-AUC the lifts divide by (and the
        differences subtract).
    oracle : str or None
        Name of the ground-truth score, if present, for the oracle share.
    n_bootstrap : int
        Family-cluster bootstrap replicates (0 for none).
    confidence : float
        Two-sided CI level.
    n_bins : int
        Calibration bins.
    seed : int
        Bootstrap seed.
    recorded_oracle : str or None
        Name of the ground-truth score without the unrecorded latent
        (``p_recorded``), if present: shares of it are reported beside the
        oracle's as ``oracle_recorded_share``.

    Returns
    -------
    dict
        JSON-ready: base rates, per-model metrics with CIs, lifts, oracle
        shares, per-month metrics and their stability.

    Raises
    ------
    EvaluationError
        If the test period has no positives.
    """
    y = test["label"].to_numpy(dtype=np.int8)
    as_of = pd.to_datetime(test["as_of"])
    dates = sorted(as_of.unique())
    if y.sum() == 0:
        raise EvaluationError(
            NO_POSITIVES_ERROR.format(
                dates=", ".join(str(pd.Timestamp(d).date()) for d in dates), n=len(y)
            )
        )
    missing = [str(pd.Timestamp(d).date()) for d in dates if pd.Timestamp(d) not in
               {pd.Timestamp(k) for k in capacity_per_date}]
    if missing:
        raise EvaluationError(f"evaluation: no capacity given for test dates {missing}")
    cap_lookup = {pd.Timestamp(k): int(v) for k, v in capacity_per_date.items()}
    capacity = [cap_lookup[pd.Timestamp(d)] for d in dates]
    date_code = np.searchsorted(np.array(dates, dtype="datetime64[ns]"), as_of.to_numpy())
    groups = _date_groups(date_code, len(dates))

    def all_metrics(rows: np.ndarray | None) -> dict[str, dict[str, float]]:
        if rows is None:
            yy, gg, sub = y, groups, scores
        else:
            yy = y[rows]
            gg = _date_groups(date_code[rows], len(dates))
            sub = {m: ModelScores(s.risk[rows], s.rank[rows]) for m, s in scores.items()}
        res = {m: _point_metrics(yy, s, gg, capacity, n_bins) for m, s in sub.items()}
        derived: dict[str, float] = {}
        for m in res:
            if reference in res and m != reference:
                for metric in ("precision_at_capacity_expected", "precision_at_capacity_worst",
                               "pr_auc"):
                    den = res[reference][metric]
                    derived[f"{m}|lift_{metric}"] = res[m][metric] / den if den else float("nan")
                for metric in ("precision_at_capacity_expected", "precision_at_capacity_worst",
                               "recall_at_capacity_expected", "pr_auc", "roc_auc"):
                    derived[f"{m}|diff_{metric}"] = res[m][metric] - res[reference][metric]
            for ref, prefix in ((oracle, "oracle_share_"),
                                (recorded_oracle, "oracle_recorded_share_")):
                if ref in res and m not in (oracle, recorded_oracle):
                    for metric in ("pr_auc", "precision_at_capacity_expected"):
                        den = res[ref][metric]
                        derived[f"{m}|{prefix}{metric}"] = (
                            res[m][metric] / den if den else float("nan")
                        )
        res["_derived"] = derived
        return res

    point = all_metrics(None)
    reps: list[dict[str, dict[str, float]]] = []
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        fam_codes, fam_uniques = pd.factorize(test["family_id"])
        fam_rows = _date_groups(fam_codes, len(fam_uniques))
        for _ in range(n_bootstrap):
            picks = rng.integers(0, len(fam_uniques), len(fam_uniques))
            rows = np.concatenate([fam_rows[f] for f in picks])
            if y[rows].sum() == 0:
                continue
            reps.append(all_metrics(rows))
    alpha = (1.0 - confidence) / 2.0

    def with_ci(model: str, metric: str, value: float) -> dict[str, float | None]:
        vals = np.array([r[model][metric] for r in reps], dtype=float)
        vals = vals[np.isfinite(vals)]
        if len(vals) == 0:
            return {"value": _num(value), "ci_low": None, "ci_high": None}
        lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
        return {"value": _num(value), "ci_low": _num(lo), "ci_high": _num(hi)}

    models_out = {
        m: {k: with_ci(m, k, v) for k, v in point[m].items()}
        for m in point if m != "_derived"
    }
    derived_out: dict[str, dict[str, dict]] = {"lift_": {}, "diff_": {}, "oracle_share_": {},
                                               "oracle_recorded_share_": {}}
    for key, v in point["_derived"].items():
        m, metric = key.split("|", 1)
        prefix = next(p for p in derived_out if metric.startswith(p))
        derived_out[prefix].setdefault(m, {})[metric.removeprefix(prefix)] = with_ci(
            "_derived", key, v)
    by_month = _by_month(y, scores, groups, dates, capacity)
    return {
        "n_rows": len(y),
        "n_positive": int(y.sum()),
        "n_families": int(test["family_id"].nunique()),
        "base_rate": float(y.mean()),
        "no_skill_pr_auc": float(y.mean()),
        "test_dates": [str(pd.Timestamp(d).date()) for d in dates],
        "capacity_per_date": {str(pd.Timestamp(d).date()): k for d, k in zip(dates, capacity,
                                                                               strict=True)},
        "n_bootstrap": len(reps),
        "confidence": confidence,
        "models": models_out,
        "lift_over_reference": derived_out["lift_"],
        "difference_from_reference": derived_out["diff_"],
        "reference": reference,
        "oracle_share": derived_out["oracle_share_"],
        "oracle_recorded_share": derived_out["oracle_recorded_share_"],
        "by_month": by_month,
        "stability": _stability(by_month),
    }


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _by_month(y, scores, groups, dates, capacity) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m, s in scores.items():
        rows = []
        for g, d, k in zip(groups, dates, capacity, strict=True):
            yy, rank = y[g], s.rank[g]
            c = capacity_counts(yy, rank, k)
            n_pos = float(yy.sum())
            rows.append({
                "as_of": str(pd.Timestamp(d).date()),
                "n": len(g),
                "n_positive": int(n_pos),
                "base_rate": float(yy.mean()) if len(g) else None,
                "flagged": c["flagged"],
                "precision_at_capacity_worst": _num(c["tp_worst"] / c["flagged"])
                if c["flagged"] else None,
                "precision_at_capacity_expected": _num(c["tp_expected"] / c["flagged"])
                if c["flagged"] else None,
                "precision_at_capacity_best": _num(c["tp_best"] / c["flagged"])
                if c["flagged"] else None,
                "recall_at_capacity_expected": _num(c["tp_expected"] / n_pos) if n_pos else None,
                "pr_auc": _num(average_precision(yy, rank)),
                "roc_auc": _num(roc_auc(yy, rank)),
                "tied_at_cut": c["tied_at_cut"],
            })
        out[m] = rows
    return out


def _stability(by_month: dict[str, list[dict]]) -> dict[str, dict[str, float | None]]:
    out = {}
    for m, rows in by_month.items():
        res: dict[str, float | None] = {}
        for metric in ("precision_at_capacity_expected", "recall_at_capacity_expected", "pr_auc"):
            vals = np.array([r[metric] for r in rows if r[metric] is not None], dtype=float)
            res[f"{metric}_min"] = _num(vals.min()) if len(vals) else None
            res[f"{metric}_max"] = _num(vals.max()) if len(vals) else None
            res[f"{metric}_sd"] = _num(vals.std(ddof=1)) if len(vals) > 1 else None
        out[m] = res
    return out
