"""Data-source ablation: what each agency's data adds to precision at capacity.

The quantitative answer to "which agencies are worth the effort of linking":
the candidate is retrained on the same held-out split, with the same seed,
once without each agency's features (agency = the feature dictionary's
``source_agency``), and precision at capacity is compared with the full model
on the same test rows, with a paired family bootstrap CI of the change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from ._evaluation import evaluate_models
from ._features_io import FeatureTable, load_feature_table
from ._splits import TemporalFold, assign_family_side
from ._training import _label_frame, capacity_for_dates, fit_and_score, make_splitter

__all__ = ["AblationError", "run_ablation", "agency_groups"]

PARALLEL_MAX_CELLS = 50_000_000
"""Up to this many training cells (rows x features) the refits run two at a time, one
thread each: there a LightGBM fit is no faster on two threads than on one (the demo's
185,330 x 146 final fold: 8.6-8.8 s against 8.7-9.7 s), and its predictions are the same.
Larger fits run one at a time on every core."""


class AblationError(ValueError):
    """The ablation cannot be run (e.g. one agency supplies every feature)."""


def agency_groups(table: FeatureTable) -> dict[str, list[str]]:
    """Feature columns grouped by ``source_agency``.

    Parameters
    ----------
    table : FeatureTable

    Returns
    -------
    dict
        Agency → its feature columns (in table order).
    """
    agency_of = table.agency_of()
    groups: dict[str, list[str]] = {}
    for col in table.feature_columns:
        groups.setdefault(agency_of.get(col, "unknown"), []).append(col)
    return groups


def _sampled(fold: TemporalFold, table: FeatureTable, max_rows: int | None,
             seed: int) -> TemporalFold:
    """Keep whole training families, chosen by a seeded hash, up to about ``max_rows`` rows.

    The test rows are untouched, and the full model and every ablated one
    learn from the same sample, so the differences stay like for like.
    """
    n = len(fold.train_index)
    if max_rows is None or n <= max_rows:
        return fold
    families = table.frame["family_id"].iloc[fold.train_index]
    keep = assign_family_side(families, max_rows / n, seed + 1)
    return replace(fold, train_index=fold.train_index[keep])


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def run_ablation(
    cfg: Any,
    *,
    run_dir: Path | None = None,
    features_dir: Path | None = None,
    n_bootstrap: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Retrain the candidate without each agency's features and compare.

    Parameters
    ----------
    cfg : PipelineConfig
    run_dir : Path, optional
        When given, ``ablation.json`` is written there (and the report re-rendered
        by the caller).
    features_dir : Path, optional
    n_bootstrap : int, optional
        Default ``model.ablation.bootstrap``, else ``model.evaluation.bootstrap``.
    log : callable, optional

    Returns
    -------
    dict
        ``{"candidate", "capacity", "full": {...}, "agencies": [{agency, n_features,
        precision_at_capacity, pr_auc, delta_precision_at_capacity: {value, ci_low,
        ci_high}, delta_pr_auc: {...}}]}``, agencies ordered by how much they add.
    """
    say = log or (lambda _m: None)
    table = load_feature_table(cfg, features_dir)
    groups = agency_groups(table)
    if len(groups) < 2:
        raise AblationError(
            f"ablation: every feature comes from one agency ({next(iter(groups))}); "
            "there is nothing to compare"
        )
    fold = _sampled(make_splitter(cfg).split(table.frame)[-1], table,
                    cfg.model.ablation.max_train_rows, cfg.model.seed)
    candidate = cfg.model.candidate
    cells = len(fold.train_index) * len(table.feature_columns)
    workers = min(2, os.cpu_count() or 1) if cells <= PARALLEL_MAX_CELLS else 1

    def fit_without(dropped: list[str]) -> Any:
        drop = set(dropped)
        keep = [c for c in table.feature_columns if c not in drop]
        _, s = fit_and_score([candidate], cfg, table, fold, feature_columns=keep,
                             cross_fit=False, n_jobs=1 if workers > 1 else None)
        return s[candidate]

    jobs = [("full", [])] + [(f"without:{a}", cols) for a, cols in groups.items()]
    scores = {}
    # BLAS limited once around the pool, so the fits' own nested limits all restore 1
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for (name, cols), result in zip(jobs, pool.map(fit_without, [c for _, c in jobs]),
                                        strict=True):
            scores[name] = result
            if cols:
                say(f"ablation: {name.replace(':', ' ')} ({len(cols)} features)")
    ev = cfg.model.evaluation
    capacity = capacity_for_dates(table.frame, fold, cfg.capacity.flags_per_month)
    res = evaluate_models(_label_frame(table, fold), scores, capacity, reference="full",
                          oracle=None, n_bootstrap=_first(n_bootstrap, cfg.model.ablation.bootstrap,
                                                          ev.bootstrap),
                          confidence=ev.confidence,
                          n_bins=ev.calibration_bins, seed=cfg.model.seed)
    key = "precision_at_capacity_expected"
    rows = []
    for agency, cols in groups.items():
        name = f"without:{agency}"
        diff = res["difference_from_reference"][name]
        rows.append({
            "agency": agency,
            "n_features": len(cols),
            "features": cols,
            "precision_at_capacity": res["models"][name][key]["value"],
            "pr_auc": res["models"][name]["pr_auc"]["value"],
            "delta_precision_at_capacity": diff[key],
            "delta_pr_auc": diff["pr_auc"],
        })
    rows.sort(key=lambda r: r["delta_precision_at_capacity"]["value"])
    out = {
        "candidate": candidate,
        "capacity_per_date": res["capacity_per_date"],
        "test_dates": res["test_dates"],
        "base_rate": res["base_rate"],
        "n_bootstrap": res["n_bootstrap"],
        "n_train_rows": int(len(fold.train_index)),
        "full": {"precision_at_capacity": res["models"]["full"][key]["value"],
                 "pr_auc": res["models"]["full"]["pr_auc"]["value"]},
        "agencies": rows,
    }
    if run_dir is not None:
        (Path(run_dir) / "ablation.json").write_text(json.dumps(out, indent=2))
    return out
