"""The group fairness audit: Fairlearn ``MetricFrame`` plus bootstrap intervals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy.stats import norm

from . import _messages as msg
from ._bootstrap import bootstrap_metrics, build_layout, full_sample_metrics, score_bins
from ._data import NOT_RECORDED, AuditData, attribute_label
from ._metrics import (
    METRIC_FUNCTIONS,
    METRIC_INFO,
    METRIC_KEYS,
    PROPORTIONS,
    SCORE_METRICS,
)

OVERALL = "All children"

DEFAULT_BAR = {"calibration_gap": 0.03, "auc": 0.10}
"""Largest allowed absolute difference from the reference group, per metric."""


@dataclass(frozen=True)
class AuditSettings:
    """How the audit is run (the pipeline YAML's ``audit`` section).

    Parameters
    ----------
    min_group_size : int
        Groups with fewer rows are shown as "too few to say".
    min_events : int
        A rate is shown only when its denominator (children with the outcome,
        without it, or flagged) has at least this many.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed for the bootstrap.
    ci_level : float
        Confidence level of the intervals.
    reference_groups : dict of str to str
        Reference group per attribute; the largest group when not given.
    bar : dict of str to float
        The pre-registered fairness bar: largest allowed absolute difference
        from the reference group, per metric.
    n_score_bins, n_calibration_bins, n_auc_bins : int
        Score bands used for the bootstrap AUC, for the ECE, and for the point
        AUC (exact when there are no more distinct scores than bands).
    """

    min_group_size: int = 30
    min_events: int = 10
    n_boot: int = 1000
    seed: int = 0
    ci_level: float = 0.95
    reference_groups: Mapping[str, str] = field(default_factory=dict)
    bar: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BAR))
    n_score_bins: int = 50
    n_calibration_bins: int = 10
    n_auc_bins: int = 1000


@dataclass
class AuditResult:
    """What the audit found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (attribute, group, metric) with the value and its CI, the
        difference and ratio against the reference group and against everyone
        (each with a CI), a ``status`` ("ok" or why no number is shown),
        ``disparity`` (the CI of the difference from the reference excludes
        0) and ``bar_verdict`` ("breach", "possible breach", "within" or ""),
        judged on simultaneous intervals ``bar_low``/``bar_high``.
    overall : pandas.DataFrame
        One row per metric for everyone, with its CI.
    groups : pandas.DataFrame
        One row per (attribute, group): size, outcomes, flags, share, status.
    settings : AuditSettings
    n_rows : int
        Rows audited.
    n_without_outcome : int
        Rows left out because their outcome is not yet known.
    flag_rule : str
        How flags were chosen.
    notes : list of str
        Attributes that could not be assessed, and why.
    source : str
        Where the scores came from.
    bar_comparisons : int
        Differences checked against the fairness bar.
    bar_level : float
        Level of the simultaneous intervals the bar is judged on.
    resampled : str
        What the bootstrap resampled: "rows", or clusters of a column.
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    groups: pd.DataFrame
    settings: AuditSettings
    n_rows: int
    n_without_outcome: int
    flag_rule: str
    notes: list[str]
    source: str
    bar_comparisons: int = 0
    bar_level: float = 0.95
    resampled: str = "rows"

    @property
    def bar_passed(self) -> bool:
        """Whether no group breaches the pre-registered fairness bar."""
        return not (self.table["bar_verdict"] == "breach").any()

    def to_dict(self) -> dict:
        """Return a JSON-ready summary (tables as records)."""

        def records(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records"))

        return {
            "source": self.source,
            "n_rows": self.n_rows,
            "n_without_outcome": self.n_without_outcome,
            "flag_rule": self.flag_rule,
            "notes": self.notes,
            "bar_passed": self.bar_passed,
            "bar_comparisons": self.bar_comparisons,
            "bar_level": self.bar_level,
            "resampled": self.resampled,
            "settings": {**asdict(self.settings),
                         "reference_groups": dict(self.settings.reference_groups),
                         "bar": dict(self.settings.bar)},
            "overall": records(self.overall),
            "groups": records(self.groups),
            "table": records(self.table),
        }


def _reference_group(attribute: str, cat: pd.Categorical, settings: AuditSettings) -> str:
    wanted = settings.reference_groups.get(attribute)
    present = [str(c) for c in cat.categories]
    if wanted is not None:
        wanted = str(wanted)
        if wanted not in present:
            raise ValueError(msg.UNKNOWN_REFERENCE.format(
                attribute=attribute, group=wanted, present=present))
        return wanted
    sizes = pd.Series(np.bincount(cat.codes, minlength=len(present)), index=present)
    known = sizes.drop(labels=[g for g in present if NOT_RECORDED in g], errors="ignore")
    return str((known if len(known) else sizes).idxmax())


def _cells(keys: tuple[np.ndarray, ...], dims: tuple[int, ...], score: np.ndarray
           ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Compress rows into weighted cells: (decoded keys, row count, mean score)."""
    flat = np.ravel_multi_index(keys, dims)
    uniq, inverse = np.unique(flat, return_inverse=True)
    weight = np.bincount(inverse).astype("float64")
    mean_score = np.bincount(inverse, weights=score) / weight
    return np.unravel_index(uniq, dims), weight, mean_score


def auc_bins(score: np.ndarray, n_bins: int) -> np.ndarray:
    """Return score bands for the point AUC.

    One band per distinct score (exact AUC) when there are at most ``n_bins``
    distinct scores, else ``n_bins`` quantile bands.
    """
    distinct, inverse = np.unique(score, return_inverse=True)
    if len(distinct) <= n_bins:
        return inverse.astype("int64")
    return score_bins(score, n_bins)


def point_estimates(data: AuditData, attribute: str, coarse: np.ndarray, fine: np.ndarray
                    ) -> tuple[pd.DataFrame, pd.Series]:
    """Compute every metric by group with Fairlearn's ``MetricFrame``.

    The rows are first compressed into weighted cells (group × flagged ×
    outcome × calibration band, and group × outcome × AUC band), which
    keeps every metric exact except the AUC, whose within-band pairs are
    compared by their band's mean score. ``MetricFrame`` then applies the
    library metric functions to the cells with ``sample_weight``.

    Returns
    -------
    by_group : pandas.DataFrame
        Metrics (columns) by group (index, in category order).
    overall : pandas.Series
        Metrics for everyone.
    """
    cat = data.groups[attribute]
    codes = np.asarray(cat.codes, dtype="int64")
    g = len(cat.categories)
    flag = data.flagged.astype("int64")
    label = data.label.astype("int64")
    (gc, fc, lc, bc), w, sc = _cells((codes, flag, label, coarse), (g, 2, 2, int(coarse.max()) + 1),
                                     data.score)
    names = [k for k in METRIC_KEYS if k != "auc"]
    params: dict[str, dict[str, np.ndarray]] = {k: {"sample_weight": w} for k in names}
    for k in SCORE_METRICS:
        if k in params:
            params[k]["score"] = sc
    params["ece"]["bins"] = bc
    cats = pd.Categorical.from_codes(gc, categories=cat.categories)
    main = MetricFrame(metrics={k: METRIC_FUNCTIONS[k] for k in names}, y_true=lc, y_pred=fc,
                       sensitive_features=pd.Series(cats, name=attribute), sample_params=params)
    (ga, la, _), wa, sa = _cells((codes, label, fine), (g, 2, int(fine.max()) + 1), data.score)
    ranked = MetricFrame(
        metrics={"auc": METRIC_FUNCTIONS["auc"]}, y_true=la, y_pred=np.zeros_like(la),
        sensitive_features=pd.Series(pd.Categorical.from_codes(ga, categories=cat.categories),
                                     name=attribute),
        sample_params={"auc": {"score": sa, "sample_weight": wa}})
    by_group = pd.concat([main.by_group, ranked.by_group], axis=1)
    by_group = by_group.reindex(cat.categories)[list(METRIC_KEYS)]
    overall = pd.concat([main.overall, ranked.overall])[list(METRIC_KEYS)]
    return by_group.astype("float64"), overall.astype("float64")


def _wilson(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    z = float(norm.ppf(0.5 + level / 2))
    with np.errstate(all="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _degenerate_widening(metric: str, point: np.ndarray, counts: dict[str, np.ndarray],
                         level: float) -> tuple[np.ndarray, np.ndarray]:
    """How far to widen intervals of rates that are exactly 0% or 100%.

    The bootstrap cannot see the uncertainty of "0 of 12" (every resample
    also gives 0), so for such groups the interval is widened to the Wilson
    score interval, and differences by the same amounts (conservative).
    Returns (amount to add to the low end (<= 0), amount to add to the high end).
    """
    zero = np.zeros_like(point)
    if metric not in PROPORTIONS:
        return zero, zero
    num, den = (counts[c] for c in PROPORTIONS[metric])
    degenerate = (den > 0) & ((num == 0) | (num == den))
    lo, hi = _wilson(num, den, level)
    return (np.where(degenerate, np.minimum(lo - point, 0), 0.0),
            np.where(degenerate, np.maximum(hi - point, 0), 0.0))


def _interval(point: np.ndarray, boot: np.ndarray, centre: np.ndarray, level: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile interval of ``boot - centre``, placed around ``point``.

    Returns (low, high, share of replicates where the quantity is undefined).
    """
    dev = boot - centre
    bad = ~np.isfinite(dev)
    share_bad = bad.mean(axis=0)
    dev = np.where(bad, np.nan, dev)
    alpha = (1 - level) / 2
    with np.errstate(all="ignore"):
        usable = share_bad < 1
        lo = np.full(point.shape, np.nan)
        hi = np.full(point.shape, np.nan)
        if usable.any():
            q = np.nanquantile(dev[:, usable], [alpha, 1 - alpha], axis=0)
            lo[usable], hi[usable] = point[usable] + q[0], point[usable] + q[1]
    return lo, hi, share_bad


def _status(metric: str, counts: dict[str, float], s: AuditSettings) -> str:
    if counts["n"] < s.min_group_size:
        return msg.TOO_FEW
    needs = METRIC_INFO[metric].needs
    m = s.min_events
    if needs in ("positives", "both") and counts["n_positive"] < m:
        return msg.TOO_FEW_EVENTS.format(what=f"fewer than {m} children with the outcome")
    if needs in ("negatives", "both") and counts["n_negative"] < m:
        return msg.TOO_FEW_EVENTS.format(what=f"fewer than {m} children without the outcome")
    if needs == "flagged" and counts["n_flagged"] < m:
        return msg.TOO_FEW_EVENTS.format(what=f"fewer than {m} children flagged")
    return "ok"


def _bar_verdict(metric: str, diff: float, lo: float, hi: float, s: AuditSettings) -> str:
    tol = s.bar.get(metric)
    if tol is None or not np.isfinite(diff):
        return ""
    if lo > tol or hi < -tol:
        return "breach"
    if abs(diff) > tol:
        return "possible breach"
    return "within"


def _compare(point: np.ndarray, boot: np.ndarray, centre: np.ndarray, j: int,
             widen: tuple[np.ndarray, np.ndarray], level: float) -> dict[str, tuple]:
    """Differences and ratios of every group against group ``j``, with CIs.

    ``"dev"`` holds the bootstrap deviations of the differences and the
    widening amounts, for intervals at another level (the fairness bar).
    """
    lo_w, hi_w = widen
    with np.errstate(all="ignore"):
        diff = point - point[j]
        dev = (boot - boot[:, [j]]) - (centre - centre[j])
        d_lo, d_hi, _ = _interval(diff, boot - boot[:, [j]], centre - centre[j], level)
        d_lo, d_hi = d_lo + lo_w - hi_w[j], d_hi + hi_w - lo_w[j]
        ratio = point / point[j]
        r_lo, r_hi, _ = _interval(ratio, boot / boot[:, [j]], centre / centre[j], level)
        if (lo_w != 0).any() or (hi_w != 0).any():
            r_lo = np.fmin(r_lo, (point + lo_w) / (point[j] + hi_w[j]))
            r_hi = np.fmax(r_hi, (point + hi_w) / (point[j] + lo_w[j]))
    return {"diff": (diff, d_lo, d_hi), "ratio": (ratio, r_lo, r_hi),
            "dev": (dev, lo_w - hi_w[j], hi_w - lo_w[j])}


def _audit_attribute(data: AuditData, a: str, centre: dict, boot: dict, s: AuditSettings,
                     coarse: np.ndarray, fine: np.ndarray) -> tuple[list, list, list, list]:
    cat = data.groups[a]
    names = [str(c) for c in cat.categories]
    ref = _reference_group(a, cat, s)
    r, everyone = names.index(ref), len(names)
    by_group, overall = point_estimates(data, a, coarse, fine)
    counts = {k: centre[k] for k in ("n", "n_positive", "n_negative", "n_flagged",
                                     "tp", "fp", "fn")}
    label = attribute_label(a)
    groups = [{
        "attribute": a, "attribute_label": label, "group": name, "is_reference": g == r,
        "n": int(counts["n"][g]), "n_positive": int(counts["n_positive"][g]),
        "n_flagged": int(counts["n_flagged"][g]), "share": counts["n"][g] / data.n,
        "status": msg.TOO_FEW if counts["n"][g] < s.min_group_size else "ok",
    } for g, name in enumerate(names)]
    rows, overall_rows, bar_inputs = [], [], []
    ref_counts = {k: float(v[r]) for k, v in counts.items()}
    for k in METRIC_KEYS:
        point = np.append(by_group[k].to_numpy(), overall[k])
        lo, hi, bad = _interval(point, boot[k], centre[k], s.ci_level)
        widen = _degenerate_widening(k, point, counts, s.ci_level)
        lo, hi = lo + widen[0], hi + widen[1]
        overall_rows.append({"metric": k, "label": METRIC_INFO[k].label, "value": point[-1],
                             "ci_low": lo[-1], "ci_high": hi[-1]})
        vs = {"ref": _compare(point, boot[k], centre[k], r, widen, s.ci_level),
              "overall": _compare(point, boot[k], centre[k], everyone, widen, s.ci_level)}
        ref_status = _status(k, ref_counts, s)
        for g, name in enumerate(names):
            status = _status(k, {kk: float(v[g]) for kk, v in counts.items()}, s)
            if status == "ok" and bad[g] > 0.05:
                status = msg.CANNOT_ASSESS.format(
                    why=f"undefined in {bad[g]:.0%} of bootstrap resamples")
            shown = status == "ok"
            compare_ref = shown and ref_status == "ok" and g != r
            row = {
                "attribute": a, "attribute_label": label, "group": name, "is_reference": g == r,
                "reference_group": ref, "n": int(counts["n"][g]), "metric": k,
                "metric_label": METRIC_INFO[k].label, "status": status,
                "value": point[g] if shown else np.nan,
                "ci_low": lo[g] if shown else np.nan, "ci_high": hi[g] if shown else np.nan,
            }
            for tag, comp in vs.items():
                ok = compare_ref if tag == "ref" else shown
                for kind, (v, vlo, vhi) in comp.items():
                    if kind == "dev":
                        continue
                    key = f"{kind}_{tag}"
                    row[key] = v[g] if ok else np.nan
                    row[f"{key}_low"] = vlo[g] if ok else np.nan
                    row[f"{key}_high"] = vhi[g] if ok else np.nan
            row["comparison_status"] = (
                "reference group" if g == r else "ok" if compare_ref else status if not shown
                else msg.CANNOT_ASSESS.format(why=f"reference group: {ref_status}"))
            row["disparity"] = bool(compare_ref and (row["diff_ref_low"] > 0
                                                     or row["diff_ref_high"] < 0))
            row["bar_verdict"] = ""
            if compare_ref and k in s.bar:
                dev, lo_w, hi_w = vs["ref"]["dev"]
                bar_inputs.append((len(rows), dev[:, g], lo_w[g], hi_w[g]))
            rows.append(row)
    return rows, groups, overall_rows, bar_inputs


def audit(data: AuditData, settings: AuditSettings | None = None) -> AuditResult:
    """Audit scores and flags by group, with bootstrap confidence intervals.

    Point estimates come from Fairlearn's ``MetricFrame``; intervals from a
    vectorised bootstrap (:mod:`._bootstrap`) whose replicates resample rows
    once and feed every group of every attribute.

    Parameters
    ----------
    data : AuditData
        From :func:`prepare_audit_data`.
    settings : AuditSettings, optional
        Defaults as in :class:`AuditSettings`.

    Returns
    -------
    AuditResult
    """
    s = settings or AuditSettings()
    for key in s.bar:
        if key not in METRIC_INFO:
            raise ValueError(f"audit.bar.{key}: unknown metric; known: {list(METRIC_KEYS)}")
    assessable = {a: c for a, c in data.groups.items() if a not in data.single_group}
    notes = [msg.ONE_GROUP_ONLY.format(attribute=attribute_label(a), group=g)
             for a, g in data.single_group.items()]
    if data.n_without_outcome:
        notes.append(f"{data.n_without_outcome:,} rows have no observed outcome yet "
                     "and are not in the audit.")
    coarse = score_bins(data.score, s.n_calibration_bins)
    fine = auc_bins(data.score, s.n_auc_bins)
    layout = build_layout(data.score, data.label, data.flagged, assessable,
                          n_fine=s.n_score_bins, n_coarse=s.n_calibration_bins,
                          clusters=data.clusters)
    centre = full_sample_metrics(layout)
    boot = bootstrap_metrics(layout, s.n_boot, s.seed)
    rows, group_rows, overall_rows, bar_inputs = [], [], [], []
    for a in assessable:
        r, g, o, b = _audit_attribute(data, a, centre[a], boot[a], s, coarse, fine)
        bar_inputs += [(i + len(rows), *rest) for i, *rest in b]
        rows += r
        group_rows += g
        overall_rows = overall_rows or o
    bar_level = _judge_bar(rows, bar_inputs, s)
    return AuditResult(
        table=pd.DataFrame(rows), overall=pd.DataFrame(overall_rows),
        groups=pd.DataFrame(group_rows), settings=s, n_rows=data.n,
        n_without_outcome=data.n_without_outcome, flag_rule=data.flag_rule, notes=notes,
        source=data.source, bar_comparisons=len(bar_inputs), bar_level=bar_level,
        resampled="rows" if data.clusters is None else
        f"clusters of rows sharing {data.cluster_col}",
    )


def _judge_bar(rows: list[dict], bar_inputs: list[tuple], s: AuditSettings) -> float:
    """Set each row's ``bar_verdict`` with simultaneous (Bonferroni) intervals.

    Many groups × metrics are checked against the bar; with plain 95%
    intervals some would fail by chance alone. Each difference is judged on
    an interval at level ``1 - (1 - ci_level) / m`` for ``m`` comparisons,
    so the chance that any fair group fails is at most ``1 - ci_level``.
    Returns that level.
    """
    m = max(len(bar_inputs), 1)
    level = 1 - (1 - s.ci_level) / m
    alpha = (1 - level) / 2
    for i, dev, lo_w, hi_w in bar_inputs:
        row = rows[i]
        finite = dev[np.isfinite(dev)]
        if not len(finite):
            continue
        q_lo, q_hi = np.quantile(finite, [alpha, 1 - alpha])
        lo, hi = row["diff_ref"] + q_lo + lo_w, row["diff_ref"] + q_hi + hi_w
        row["bar_low"], row["bar_high"] = lo, hi
        row["bar_verdict"] = _bar_verdict(row["metric"], row["diff_ref"], lo, hi, s)
    return level
