"""Fairness audit: 200,000 scored rows × 6 attributes + 2 intersections × 1,000 replicates.

Target (issue 7): the whole audit (Fairlearn ``MetricFrame`` point estimates
for every group, differences and ratios against the reference group and
everyone, and their bootstrap intervals) in ≤ 30 s on 2 cores.

Ours: ``earlywarning.fairness.audit`` — rows compressed into weighted cells
for ``MetricFrame``; the bootstrap resamples row indices once per replicate
and one sparse product sums every cell of every attribute.

Naive baseline, in the same run: Fairlearn's own bootstrap
(``MetricFrame(..., n_boot=R)``), which recomputes every metric of every
group on each resample of the raw rows, one ``MetricFrame`` per attribute.
It is far too slow to run at full size, so it runs on 5,000- and
20,000-row subsamples with 1 replicate, its cost per replicate is fitted as
fixed + per-row, and it is **extrapolated** to 200,000 rows × 1,000
replicates. Stated as such in the figure's label.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

ATTRIBUTES = ["audit_ethnicity", "audit_sex", "audit_age_band", "audit_disability",
              "audit_imd_quintile", "audit_area"]
INTERSECTIONS = [("audit_ethnicity", "audit_imd_quintile"), ("audit_ethnicity", "audit_sex")]


def _data(n: int, seed: int = 11):
    from earlywarning.fairness import prepare_audit_data, simulate_scores

    frame = simulate_scores(n, seed=seed)
    return frame, prepare_audit_data(frame, group_cols=ATTRIBUTES, intersections=INTERSECTIONS,
                                     source="bench")


def _naive_once(frame: pd.DataFrame, n_rows: int, n_boot: int) -> float:
    """Seconds for Fairlearn's built-in bootstrap of every attribute on a subsample."""
    import warnings

    from earlywarning.fairness import METRIC_FUNCTIONS
    from fairlearn.metrics import MetricFrame

    sub = frame.sample(n=min(n_rows, len(frame)), random_state=0).reset_index(drop=True)
    y = sub["label"].to_numpy()
    flag = sub["flagged"].to_numpy().astype("int8")
    score = sub["score"].to_numpy()
    ones = np.ones(len(sub))
    bins = np.minimum((score * 10).astype(int), 9)
    params = {k: {"sample_weight": ones} for k in METRIC_FUNCTIONS}
    for k in ("auc", "mean_predicted", "calibration_gap", "ece"):
        params[k]["score"] = score
    params["ece"]["bins"] = bins
    columns = [sub[a].astype(str) for a in ATTRIBUTES] + [
        sub[a].astype(str) + " × " + sub[b].astype(str) for a, b in INTERSECTIONS]
    started = time.perf_counter()
    with warnings.catch_warnings():  # all-NaN quantiles of tiny groups inside Fairlearn
        warnings.simplefilter("ignore", RuntimeWarning)
        for col in columns:
            MetricFrame(metrics=METRIC_FUNCTIONS, y_true=y, y_pred=flag, sensitive_features=col,
                        sample_params=params, n_boot=n_boot, ci_quantiles=[0.025, 0.975],
                        random_state=0)
    return time.perf_counter() - started


def _naive_seconds(frame: pd.DataFrame, sizes: tuple[int, int], n_boot: int,
                   target: tuple[int, int]) -> tuple[float, float]:
    """Fit seconds = a + b * rows per replicate on two subsample sizes; extrapolate.

    Returns (seconds measured in total, extrapolated seconds at ``target``
    = (rows, replicates)). The fixed part ``a`` (per-group metric overhead) is not
    scaled by rows, so the extrapolation is not inflated by it.
    """
    small, large = (_naive_once(frame, n, n_boot) / (n_boot + 1) for n in sizes)
    b = max((large - small) / (sizes[1] - sizes[0]), 0.0)
    a = max(small - b * sizes[0], 0.0)
    return (small + large) * (n_boot + 1), (a + b * target[0]) * (target[1] + 1)


def _cells_per_replicate_seconds(data, n_boot: int, reps: int = 3) -> float:
    """A stronger naive baseline: our own point-estimate path (``MetricFrame`` on rows
    compressed to cells) recomputed on ``reps`` row resamples, extrapolated to ``n_boot``."""
    from earlywarning.fairness import point_estimates
    from earlywarning.fairness._audit import auc_bins
    from earlywarning.fairness._bootstrap import score_bins
    from earlywarning.fairness._data import AuditData

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(reps):
        idx = rng.integers(0, data.n, data.n)
        sample = AuditData(data.score[idx], data.label[idx], data.flagged[idx],
                           {a: c.take(idx) for a, c in data.groups.items()}, "bench", "")
        coarse, fine = score_bins(sample.score, 10), auc_bins(sample.score, 1000)
        for a in sample.groups:
            point_estimates(sample, a, coarse, fine)
    return (time.perf_counter() - started) / reps * n_boot


def run(quick: bool) -> list[dict]:
    """Time the audit at the issue's target size (or a small size when ``quick``)."""
    from earlywarning.fairness import AuditSettings, audit
    from earlywarning.fairness._bootstrap import bootstrap_metrics, build_layout

    n, n_boot = (20_000, 100) if quick else (200_000, 1000)
    frame, data = _data(n)
    settings = AuditSettings(n_boot=n_boot, min_group_size=50)
    started = time.perf_counter()
    result = audit(data, settings)
    total = time.perf_counter() - started

    assessable = {a: c for a, c in data.groups.items() if a not in data.single_group}
    started = time.perf_counter()
    layout = build_layout(data.score, data.label, data.flagged, assessable)
    bootstrap_metrics(layout, n_boot, 0)
    boot_only = time.perf_counter() - started

    naive_rows, naive_boot = ((1_000, 2_000), 1) if quick else ((5_000, 20_000), 1)
    measured, extrapolated = _naive_seconds(frame, naive_rows, naive_boot, (n, n_boot))
    cells_naive = _cells_per_replicate_seconds(data, n_boot, reps=2 if quick else 3)
    groups = int(result.groups.shape[0])
    return [
        {"name": "audit_200k_x_1000_boot" if not quick else "audit_20k_x_100_boot",
         "value": total, "unit": "s",
         "baseline": extrapolated,
         "baseline_label": f"Fairlearn MetricFrame n_boot, measured {measured:.0f} s on "
                           f"{naive_rows[0]:,} and {naive_rows[1]:,} rows x {naive_boot} "
                           "replicates, extrapolated (fixed + per-row cost)",
         "target": "<= 30 s on 2 cores (200,000 rows x 8 attributes x 1,000 replicates)",
         "passed": (total <= 30.0) if not quick else None,
         "details": {"rows": n, "replicates": n_boot, "attributes": len(assessable),
                     "groups": groups, "bootstrap_only_s": round(boot_only, 2),
                     "point_estimates_and_tables_s": round(total - boot_only, 2),
                     "naive_measured_s": round(measured, 2),
                     "speedup_vs_naive": round(extrapolated / total, 1),
                     "naive_cells_metricframe_per_replicate_s": round(cells_naive, 1),
                     "naive_cells_label": "MetricFrame on compressed cells recomputed per "
                                          "replicate, measured on 3 resamples, x replicates"}},
    ]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
