"""A synthetic feature table that follows the COMMON.md contract exactly.

Families share a slowly drifting latent adversity; agency counts are noisy
Poisson read-outs of it; the outcome probability ``p_true`` is a known
logistic function of adversity (partly unobserved), so models should beat
the points rule and stay below the oracle. Written to disk with its
``manifest.json`` and ``feature_dictionary.json`` like ``earlywarning features``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# name, source_agency, window_days, direction, subject, base rate, adversity loading
FEATURES = [
    ("police_da_parent_count_365d", "police", 365, "risk", "parents", 0.15, 1.0),
    ("police_da_parent_count_90d", "police", 90, "risk", "parents", 0.04, 1.0),
    ("csc_referral_count_365d", "csc", 365, "risk", "child", 0.10, 0.9),
    ("csc_cp_plan_count_1095d", "csc", 1095, "risk", "child", 0.03, 1.1),
    ("housing_crisis_count_365d", "housing", 365, "risk", "household", 0.08, 0.7),
    ("adult_mh_contact_count_365d", "adult_mental_health", 365, "risk", "parents", 0.12, 0.6),
    ("school_absence_sessions_365d", "school", 365, "risk", "child", 6.0, 0.4),
    ("school_exclusion_count_365d", "school", 365, "risk", "child", 0.05, 0.8),
    ("early_help_episode_any_365d", "early_help", 365, "protective", "child", 0.10, 0.3),
]
NOISE = [(f"context_noise_{i}_365d", "gp", 365, "context", "child") for i in range(3)]
AUDIT = ["audit_ethnicity", "audit_sex", "audit_age_band", "audit_disability",
         "audit_imd_quintile", "audit_area"]


@dataclass
class FixtureTable:
    """Paths and frames of a written synthetic feature table."""

    directory: Path
    frame: pd.DataFrame
    manifest: dict
    dictionary: list[dict]
    ground_truth: pd.DataFrame


def make_feature_frame(
    n_families: int = 500,
    n_dates: int = 30,
    start: str = "2020-01-01",
    horizon_days: int = 365,
    n_incomplete: int = 1,
    seed: int = 0,
    base_logit: float = -3.6,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(features, ground_truth)``: one row per child and monthly as-of date."""
    rng = np.random.default_rng(seed)
    kids = rng.integers(1, 5, n_families)
    fam_of_child = np.repeat(np.arange(n_families), kids)
    n_child = len(fam_of_child)
    fam_adv = rng.normal(0, 1, n_families)
    imd = rng.integers(1, 6, n_families)
    fam_adv = fam_adv + 0.25 * (3 - imd)
    dates = pd.date_range(start, periods=n_dates, freq="MS")
    age0 = rng.uniform(0, 15, n_child)
    eth = rng.choice(["White", "Asian", "Black", "Mixed", "Other"], n_child,
                     p=[0.7, 0.13, 0.07, 0.07, 0.03])
    sex = rng.choice(["M", "F"], n_child)
    dis = rng.choice(["Y", "N"], n_child, p=[0.08, 0.92])
    area = rng.choice(["North", "South", "East", "West"], n_families)
    hidden = rng.normal(0, 0.6, n_child)  # unobserved part of the hazard
    drift = np.zeros(n_families)
    # domestic abuse: a family risk only the police records see (so the ablation can find it)
    fam_da = rng.normal(0, 1, n_families)
    frames, truths = [], []
    for t, d in enumerate(dates):
        drift = 0.9 * drift + rng.normal(0, 0.3, n_families)
        adv = (fam_adv + drift)[fam_of_child]
        da = fam_da[fam_of_child]
        age = age0 + t / 12.0
        cols = {}
        for name, agency, _w, _dir, _subj, base, load in FEATURES:
            lam = base * np.exp(load * adv + (1.2 * da if agency == "police" else 0.0))
            cols[name] = rng.poisson(lam).astype(np.float32)
        cols["early_help_episode_any_365d"] = (cols["early_help_episode_any_365d"] > 0).astype(
            np.float32)
        absent = rng.random(n_child) < 0.05  # no school data for some children
        cols["school_absence_sessions_365d"][absent] = np.nan
        for name, *_ in NOISE:
            cols[name] = rng.normal(0, 1, n_child).astype(np.float32)
        cols["age_years"] = age.astype(np.float32)
        logit = (base_logit + 1.1 * adv + 0.9 * da + hidden + 0.4 * (age < 1)
                 - 0.4 * cols["early_help_episode_any_365d"])
        p_true = 1 / (1 + np.exp(-logit))
        label = (rng.random(n_child) < p_true).astype(np.int8)
        frame = pd.DataFrame({
            "person_id": [f"P{i:06d}" for i in range(n_child)],
            "family_id": [f"F{f:05d}" for f in fam_of_child],
            "as_of": d.date(),
            "cohort": "known_to_services",
            "label": label,
            **cols,
            "audit_ethnicity": eth,
            "audit_sex": sex,
            "audit_age_band": pd.cut(age, [-1, 0.99, 4.99, 9.99, 15.99, 99],
                                     labels=["under 1", "1-4", "5-9", "10-15", "16+"]).astype(str),
            "audit_disability": dis,
            "audit_imd_quintile": imd[fam_of_child].astype(np.int64),
            "audit_area": area[fam_of_child],
        })
        frame["label_event_date"] = [
            (d + pd.Timedelta(days=int(x))).date() if lab else None
            for lab, x in zip(label, rng.integers(1, horizon_days + 1, n_child), strict=True)
        ]
        frames.append(frame)
        truths.append(pd.DataFrame({"person_id": frame["person_id"], "month": d.date(),
                                    "adversity": adv, "p_true": p_true}))
    out = pd.concat(frames, ignore_index=True)
    out["label"] = out["label"].astype("Int8")
    incomplete = out["as_of"] >= dates[n_dates - n_incomplete].date()
    out.loc[incomplete, "label"] = pd.NA
    out.loc[incomplete, "label_event_date"] = None
    # a child already escalated would leave the cohort; keep it simple: all stay
    feature_cols = [f[0] for f in FEATURES] + [n[0] for n in NOISE] + ["age_years"]
    order = ["person_id", "family_id", "as_of", "cohort", "label", "label_event_date",
             *feature_cols, *AUDIT]
    return out[order], pd.concat(truths, ignore_index=True)


def feature_dictionary() -> list[dict]:
    """Feature dictionary entries for :data:`FEATURES`, :data:`NOISE` and age."""
    entries = [
        {"name": n, "meaning": f"{{value}} {n.replace('_', ' ')}", "source_agency": a,
         "window_days": w, "direction": d, "subject": s, "table": f"ext_{a}",
         "aggregate": "count"}
        for n, a, w, d, s, *_ in FEATURES
    ]
    entries += [
        {"name": n, "meaning": f"{{value}} {n}", "source_agency": a, "window_days": w,
         "direction": d, "subject": s, "table": "ext_gp", "aggregate": "mean"}
        for n, a, w, d, s in NOISE
    ]
    entries.append({"name": "age_years", "meaning": "aged {value}", "source_agency": "csc",
                    "window_days": None, "direction": "context", "subject": "child",
                    "table": "ssd_person", "aggregate": "value"})
    return entries


def write_feature_table(directory: Path, pipeline: str, frame: pd.DataFrame,
                        truth: pd.DataFrame, config_hash: str = "fixture",
                        horizon_days: int = 365) -> FixtureTable:
    """Write ``features.parquet``, ``manifest.json`` and the dictionary like the real stage."""
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / "features.parquet", index=False)
    dictionary = feature_dictionary()
    (directory / "feature_dictionary.json").write_text(json.dumps(dictionary, indent=2))
    (directory / "feature_dictionary.md").write_text(
        "\n".join(f"- {e['name']}: {e['meaning']}" for e in dictionary))
    dates = []
    for d, g in frame.groupby("as_of"):
        lab = g["label"]
        complete = bool(lab.notna().all())
        dates.append({"date": str(d), "role": "train" if complete else "score",
                      "n_rows": len(g),
                      "n_positive": int(lab.sum()) if complete else None,
                      "base_rate": float(lab.mean()) if complete else None,
                      "horizon_complete": complete})
    fingerprint = hashlib.sha256(pd.util.hash_pandas_object(frame[["person_id", "as_of"]])
                                 .to_numpy().tobytes()).hexdigest()[:16]
    manifest = {
        "pipeline": pipeline,
        "config_hash": config_hash,
        "warehouse_fingerprint": fingerprint,
        "created_at": "2024-01-01T00:00:00",
        "cohort": "known_to_services",
        "outcome": "cp_plan | cla",
        "horizon_days": horizon_days,
        "as_of_dates": dates,
        "feature_columns": [e["name"] for e in dictionary],
        "audit_columns": AUDIT,
        "row_count": len(frame),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    gt = directory / "ground_truth"
    gt.mkdir(exist_ok=True)
    truth.to_parquet(gt / "child_month.parquet", index=False)
    return FixtureTable(directory, frame, manifest, dictionary, truth)


def pipeline_dict(root: Path, name: str = "fixture", n_dates: int = 30, **sections) -> dict:
    """A pipeline mapping whose as-of dates match :func:`make_feature_frame`'s defaults."""
    dates = pd.date_range("2020-01-01", periods=n_dates, freq="MS")
    cfg = {
        "version": 1,
        "name": name,
        "data": {"warehouse": str(root / "no-warehouse.duckdb"),
                 "synthetic": {"children": 100, "out": str(root / "la")}},
        "cohort": {"name": "known_to_services"},
        "outcome": {"events": "cp_plan | cla", "horizon_days": 365},
        "as_of": {"start": str(dates[0].date()), "end": str(dates[-2].date()),
                  "frequency": "monthly", "score": str(dates[-1].date())},
        "features": {"output_dir": str(root / "features")},
        "model": {
            "lightgbm": {"n_estimators": 60, "min_child_samples": 40},
            "rule_baseline": {"points": {"police_da_parent_count_365d": 1,
                                         "csc_referral_count_365d": 1,
                                         "csc_cp_plan_count_1095d": 2}},
            "splits": {"test_period_dates": 3, "n_folds": 2},
            "evaluation": {"bootstrap": 30},
        },
        "capacity": {"flags_per_month": 40},
        "pass_bar": {"min_precision_at_capacity": 0.15, "max_calibration_error": 0.08,
                     "must_beat_rule_baseline": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_fixture_pipeline(root: Path, name: str = "fixture", n_families: int = 500,
                           seed: int = 0, **sections):
    """Write a feature table and ground truth under ``root``; return ``(cfg, FixtureTable)``."""
    from earlywarning.config import parse_pipeline

    cfg = parse_pipeline(pipeline_dict(root, name, **sections), source=f"{name}.yaml")
    frame, truth = make_feature_frame(n_families=n_families, seed=seed)
    table = write_feature_table(root / "features" / name, name, frame, truth)
    gt = root / "la" / "ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    truth.to_parquet(gt / "child_month.parquet", index=False)
    return cfg, table
