"""Threshold analysis: how group metrics move with capacity, and per-group thresholds.

Per-group thresholds (Fairlearn's ``ThresholdOptimizer``) are computed as an
option for the board to discuss, never applied: the optimiser randomises
between two thresholds for some children, and a child's flag must not depend
on a coin toss. We show the deterministic threshold each group would get and
what it would change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.base import BaseEstimator, ClassifierMixin

from ._data import AuditData
from ._metrics import METRIC_FUNCTIONS

CURVE_METRICS = ("selection_rate", "false_negative_rate", "false_positive_rate", "precision",
                 "recall")


def capacity_curves(
    data: AuditData,
    attribute: str,
    *,
    fractions: Sequence[float] = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20),
    min_group_size: int = 30,
) -> pd.DataFrame:
    """Group metrics as the share of children flagged changes.

    One Fairlearn ``MetricFrame`` per attribute, with the capacity as a
    control feature, on rows compressed to (capacity, group, flagged,
    outcome) cells.

    Parameters
    ----------
    data : AuditData
        Audited rows.
    attribute : str
        Attribute whose groups are compared.
    fractions : sequence of float
        Shares of rows flagged (top scores first), i.e. capacities.
    min_group_size : int
        Smaller groups are left out of the curves.

    Returns
    -------
    pandas.DataFrame
        Columns ``fraction, n_flags, group, metric, value`` ("All children"
        for everyone). ``nan`` where a metric is undefined.
    """
    groups = data.groups[attribute]
    codes = np.asarray(groups.codes, dtype="int64")
    g = len(groups.categories)
    order = np.argsort(-data.score, kind="stable")
    position = np.empty(data.n, dtype="int64")
    position[order] = np.arange(data.n)
    label = data.label.astype("int64")
    weights, keys = [], []
    for i, f in enumerate(fractions):
        flagged = position < max(1, int(round(f * data.n)))
        key = codes * 4 + flagged * 2 + label
        w = np.bincount(key, minlength=4 * g).astype("float64")
        present = np.flatnonzero(w)
        weights.append(w[present])
        keys.append(np.column_stack([np.full(len(present), i), present]))
    w, k = np.concatenate(weights), np.concatenate(keys)
    cells = pd.Categorical.from_codes(k[:, 1] // 4, categories=groups.categories)
    mf = MetricFrame(metrics={m: METRIC_FUNCTIONS[m] for m in CURVE_METRICS},
                     y_true=k[:, 1] % 2, y_pred=(k[:, 1] // 2) % 2,
                     sensitive_features=pd.Series(cells, name="group"),
                     control_features=pd.Series(k[:, 0], name="capacity"),
                     sample_params={m: {"sample_weight": w} for m in CURVE_METRICS})
    sizes = pd.Series(np.bincount(codes, minlength=g), index=groups.categories)
    keep = [c for c in groups.categories if sizes[c] >= min_group_size]
    rows = []
    for i, f in enumerate(fractions):
        n_flags = max(1, int(round(f * data.n)))
        for m in CURVE_METRICS:
            rows.append({"fraction": f, "n_flags": n_flags, "group": "All children",
                         "metric": m, "value": float(mf.overall.loc[i, m])})
            for c in keep:
                value = mf.by_group[m].get((i, c), np.nan)
                rows.append({"fraction": f, "n_flags": n_flags, "group": str(c), "metric": m,
                             "value": float(value)})
    return pd.DataFrame(rows)


class ScorePassthrough(ClassifierMixin, BaseEstimator):
    """A fitted "model" whose probability is the score column itself.

    Lets Fairlearn's ``ThresholdOptimizer`` work on scores from any tool.
    """

    def fit(self, X, y):  # noqa: ANN001, ANN201, N803 - scikit-learn signature
        """Record the classes; there is nothing to learn."""
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):  # noqa: ANN001, ANN201, N803
        """Return ``[1 - score, score]``."""
        s = np.asarray(X, dtype="float64").reshape(-1)
        return np.column_stack([1 - s, s])

    def predict(self, X):  # noqa: ANN001, ANN201, N803
        """Return 1 where the score is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def per_group_thresholds(
    data: AuditData,
    attribute: str,
    *,
    constraint: str = "false_negative_rate_parity",
    min_group_size: int = 30,
    max_rows: int = 50_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Show what Fairlearn's ``ThresholdOptimizer`` would do, without applying it.

    The optimiser equalises ``constraint`` across groups while maximising
    balanced accuracy. For each group we report the threshold it uses for
    most of the group (the deterministic reading of its randomised rule) and
    the flag rate and miss rate that threshold would give, beside today's.

    Parameters
    ----------
    data : AuditData
        Audited rows.
    attribute : str
        Attribute whose groups get their own threshold.
    constraint : str
        A Fairlearn ``ThresholdOptimizer`` constraint.
    min_group_size : int
        Smaller groups are left out (the optimiser would over-fit them).
    max_rows : int
        Fit on a random subsample of at most this many rows (speed).
    seed : int
        Seed of the subsample.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, threshold, share_at_threshold,
        flag_rate_now, flag_rate_option, miss_rate_now, miss_rate_option``.
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    groups = pd.Series(np.asarray(data.groups[attribute], dtype=object))
    sizes = groups.value_counts()
    keep = groups.isin(sizes.index[sizes >= min_group_size]).to_numpy()
    idx = np.flatnonzero(keep)
    if len(idx) > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_rows, replace=False))
    x = data.score[idx].reshape(-1, 1)
    y, g = data.label[idx], groups.to_numpy()[idx]
    optimiser = ThresholdOptimizer(
        estimator=ScorePassthrough().fit(x, y), constraints=constraint,
        objective="balanced_accuracy_score", prefit=True, predict_method="predict_proba")
    optimiser.fit(x, y, sensitive_features=g)
    rows = []
    for name, rule in optimiser.interpolated_thresholder_.interpolation_dict.items():
        main = "operation0" if rule["p0"] >= rule["p1"] else "operation1"
        op = rule[main]
        in_group = (groups == name).to_numpy()
        s, lab = data.score[in_group], data.label[in_group]
        option = op(s)
        pos = lab == 1
        rows.append({
            "group": str(name), "n": int(in_group.sum()),
            "threshold": float(op.threshold), "operator": op.operator,
            "share_at_threshold": float(max(rule["p0"], rule["p1"])),
            "flag_rate_now": float(data.flagged[in_group].mean()),
            "flag_rate_option": float(option.mean()),
            "miss_rate_now": float((~data.flagged[in_group][pos]).mean()) if pos.any()
            else float("nan"),
            "miss_rate_option": float((~option[pos]).mean()) if pos.any() else float("nan"),
        })
    return pd.DataFrame(rows).sort_values("n", ascending=False, ignore_index=True)


def equal_miss_rate_thresholds(
    data: AuditData, attribute: str, *, min_group_size: int = 30
) -> pd.DataFrame:
    """Per-group thresholds giving every group the same miss rate at today's capacity.

    A deterministic alternative to the optimiser, for discussion: with the
    same total number of flags as now, find one miss rate (false negative
    rate) that every group of at least ``min_group_size`` children could
    share, and the score threshold each group would then need. Smaller groups
    keep today's flags.

    Parameters
    ----------
    data : AuditData
        Audited rows.
    attribute : str
        Attribute whose groups get their own threshold.
    min_group_size : int
        Groups below this size keep today's flags.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, threshold, flag_rate_now,
        flag_rate_option, miss_rate_now, miss_rate_option``.
    """
    groups = pd.Series(np.asarray(data.groups[attribute], dtype=object))
    sizes = groups.value_counts()
    names = [str(g) for g in sizes.index if sizes[g] >= min_group_size]
    members = {g: (groups == g).to_numpy() for g in names}
    fixed = ~np.logical_or.reduce(list(members.values())) if names else np.ones(data.n, bool)
    budget = int(data.flagged.sum()) - int(data.flagged[fixed].sum())

    def thresholds(miss: float) -> dict[str, float]:
        out = {}
        for g, m in members.items():
            pos = np.sort(data.score[m & (data.label == 1)])
            out[g] = float(np.quantile(pos, miss)) if len(pos) else float("inf")
        return out

    def n_flags(th: dict[str, float]) -> int:
        return int(sum((data.score[m] >= th[g]).sum() for g, m in members.items()))

    lo, hi = 0.0, 1.0  # miss rate: more misses, fewer flags
    for _ in range(40):
        mid = (lo + hi) / 2
        if n_flags(thresholds(mid)) > budget:
            lo = mid
        else:
            hi = mid
    chosen = thresholds(hi)
    rows = []
    for g, m in members.items():
        pos = data.label[m] == 1
        option = data.score[m] >= chosen[g]
        rows.append({
            "group": g, "n": int(m.sum()), "threshold": chosen[g],
            "flag_rate_now": float(data.flagged[m].mean()),
            "flag_rate_option": float(option.mean()),
            "miss_rate_now": float((~data.flagged[m][pos]).mean()) if pos.any() else np.nan,
            "miss_rate_option": float((~option[pos]).mean()) if pos.any() else np.nan,
        })
    return pd.DataFrame(rows)
