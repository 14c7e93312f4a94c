"""A small feature table with a known causal model, for explanation tests.

The table follows the feature-table contract (COMMON.md item 3): ids, as_of,
cohort, label, feature columns named with their window, audit columns, plus a
feature dictionary and ground truth (``child_month`` with ``driver_1..3``).
Escalation follows a logistic hazard whose terms are known, so the true
largest driver of every child-month is known.
"""

from __future__ import annotations

import datetime as dt

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

DICTIONARY = [
    {"name": "police_da_parent_count_365d", "source_agency": "police", "window_days": 365,
     "meaning": "Police recorded {value} domestic-abuse incidents involving a parent in the "
                "last 12 months", "direction": "risk", "subject": "parents",
     "table": "ext_police_notification", "aggregate": "count"},
    {"name": "police_other_parent_count_365d", "source_agency": "police", "window_days": 365,
     "meaning": "{value} other police contacts involving a parent in the last 12 months",
     "direction": "risk", "subject": "parents", "table": "ext_police_notification",
     "aggregate": "count"},
    {"name": "coverage_police", "source_agency": "police", "window_days": None,
     "meaning": "Share of the last year with police data linked: {value:.0%}",
     "direction": "coverage", "subject": "household", "table": "ext_source_coverage",
     "aggregate": "coverage"},
    {"name": "housing_crisis_count_365d", "source_agency": "housing", "window_days": 365,
     "meaning": "{value} housing crises (arrears, eviction notices, homelessness) in the last "
                "12 months", "direction": "risk", "subject": "household",
     "table": "ext_housing_event", "aggregate": "count"},
    {"name": "coverage_housing", "source_agency": "housing", "window_days": None,
     "meaning": "Share of the last year with housing data linked: {value:.0%}",
     "direction": "coverage", "subject": "household", "table": "ext_source_coverage",
     "aggregate": "coverage"},
    {"name": "amh_parent_contact_count_365d", "source_agency": "adult_mental_health",
     "window_days": 365, "meaning": "{value} adult mental-health contacts for a parent in the "
                                    "last 12 months", "direction": "risk", "subject": "parents",
     "table": "ext_health_event", "aggregate": "count"},
    {"name": "school_attendance_rate_365d", "source_agency": "school", "window_days": 365,
     "meaning": "Attended {value:.0%} of school sessions in the last 12 months",
     "direction": "protective", "subject": "child", "table": "ext_school_attendance",
     "aggregate": "mean"},
    {"name": "csc_prior_cp_plan_count_1095d", "source_agency": "csc", "window_days": 1095,
     "meaning": "{value} previous child protection plans in the last 3 years",
     "direction": "risk", "subject": "child", "table": "ssd_cp_plans", "aggregate": "count"},
    {"name": "sibling_cla_any_1095d", "source_agency": "csc", "window_days": 1095,
     "meaning": "{value} siblings looked after in the last 3 years", "direction": "risk",
     "subject": "siblings", "table": "ssd_cla_episodes", "aggregate": "count"},
    {"name": "early_help_episode_count_365d", "source_agency": "early_help", "window_days": 365,
     "meaning": "{value} Early Help episodes engaged with in the last 12 months",
     "direction": "protective", "subject": "child", "table": "ssd_early_help_episodes",
     "aggregate": "count"},
    {"name": "age_years", "source_agency": "csc", "window_days": None,
     "meaning": "Aged {value} years", "direction": "context", "subject": "child",
     "table": "ssd_person", "aggregate": "age"},
]
FEATURES = [d["name"] for d in DICTIONARY]

# The causal model: coefficient per driver, applied to the *true* values.
COEF = {"domestic_abuse": 0.55, "housing_crisis": 0.6, "parental_mental_health": 0.5,
        "prior_csc_history": 0.9, "sibling_csc_history": 0.8, "school_absence": 4.0,
        "early_help_engagement": -0.7, "adolescence": 0.4, "latent_unrecorded": 0.5}
INTERCEPT = -4.2


def make_feature_table(n_children: int = 3000, as_of_dates: tuple[str, ...] = ("2024-01-01",),
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(features, ground_truth_child_month)`` for the known causal model."""
    rng = np.random.default_rng(seed)
    frames, truths = [], []
    n_fam = max(1, (n_children + 1) // 2)
    adversity = np.repeat(rng.gamma(1.0, 1.0, n_fam), 2)[:n_children]
    for k, as_of in enumerate(as_of_dates):
        r = np.random.default_rng(seed * 1000 + k)
        person = np.array([f"P{i:06d}" for i in range(n_children)])
        family = np.array([f"F{i // 2:06d}" for i in range(n_children)])
        da = r.poisson(0.5 * adversity)
        other = r.poisson(0.4 * adversity)
        housing = r.poisson(0.3 * adversity)
        amh = r.poisson(0.35 * adversity)
        prior = r.poisson(0.08 * adversity)
        sib = r.poisson(0.05 * adversity)
        attendance = np.clip(0.97 - 0.04 * adversity * r.random(n_children), 0.4, 1.0)
        eh = r.poisson(0.3, n_children)
        age = r.integers(0, 18, n_children)
        latent = r.gamma(1.0, 1.0, n_children)
        terms = pd.DataFrame({
            "domestic_abuse": COEF["domestic_abuse"] * da,
            "housing_crisis": COEF["housing_crisis"] * housing,
            "parental_mental_health": COEF["parental_mental_health"] * amh,
            "prior_csc_history": COEF["prior_csc_history"] * prior,
            "sibling_csc_history": COEF["sibling_csc_history"] * sib,
            "school_absence": COEF["school_absence"] * np.clip(0.95 - attendance, 0, None),
            "early_help_engagement": COEF["early_help_engagement"] * eh,
            "adolescence": COEF["adolescence"] * (age >= 13),
            "latent_unrecorded": COEF["latent_unrecorded"] * latent,
        })
        logit = INTERCEPT + terms.sum(axis=1).to_numpy()
        p = 1 / (1 + np.exp(-logit))
        label = (r.random(n_children) < p).astype("int8")
        cov_police = (r.random(n_children) > 0.1).astype("float32")
        cov_housing = np.where(r.random(n_children) > 0.2, 1.0,
                               np.where(r.random(n_children) > 0.5, 0.0, 0.3)).astype("float32")
        feats = pd.DataFrame({
            "person_id": person, "family_id": family,
            "as_of": dt.date.fromisoformat(as_of), "cohort": "all_children",
            "label": pd.array(label, dtype="Int8"), "label_event_date": pd.NaT,
            "police_da_parent_count_365d": (da * cov_police).astype("float32"),
            "police_other_parent_count_365d": (other * cov_police).astype("float32"),
            "coverage_police": cov_police,
            "housing_crisis_count_365d": np.round(housing * cov_housing).astype("float32"),
            "coverage_housing": cov_housing,
            "amh_parent_contact_count_365d": amh.astype("float32"),
            "school_attendance_rate_365d": np.round(attendance, 2).astype("float32"),
            "csc_prior_cp_plan_count_1095d": prior.astype("float32"),
            "sibling_cla_any_1095d": sib.astype("float32"),
            "early_help_episode_count_365d": eh.astype("float32"),
            "age_years": age.astype("float32"),
            "audit_ethnicity": r.choice(["White", "Black", "Asian", "Mixed"], n_children),
            "audit_sex": r.choice(["F", "M"], n_children),
            "audit_age_band": np.where(age < 5, "0-4", np.where(age < 10, "5-9", "10-17")),
            "audit_disability": "N", "audit_imd_quintile": r.integers(1, 6, n_children),
            "audit_area": "A",
        })
        top = np.argsort(-terms.abs().to_numpy(), axis=1)[:, :3]
        cols = np.array(terms.columns)
        truth = pd.DataFrame({
            "person_id": person, "month": pd.Timestamp(as_of), "adversity": adversity,
            "p_true": p, "driver_1": cols[top[:, 0]], "driver_2": cols[top[:, 1]],
            "driver_3": cols[top[:, 2]],
            "unobserved_share": terms["latent_unrecorded"].to_numpy() / terms.abs().sum(axis=1),
        })
        frames.append(feats)
        truths.append(truth)
    return pd.concat(frames, ignore_index=True), pd.concat(truths, ignore_index=True)


def train_model(features: pd.DataFrame, seed: int = 0) -> CalibratedClassifierCV:
    """A LightGBM model with an isotonic calibrator fitted on a held-out half."""
    X = features[FEATURES]
    y = features["label"].astype(int).to_numpy()
    half = len(X) // 2
    booster = lgb.LGBMClassifier(n_estimators=120, learning_rate=0.05, num_leaves=15,
                                 min_child_samples=20, random_state=seed, n_jobs=2,
                                 deterministic=True, force_col_wise=True, verbose=-1)
    booster.fit(X.iloc[:half], y[:half])
    return CalibratedClassifierCV(FrozenEstimator(booster), method="isotonic").fit(
        X.iloc[half:], y[half:])


def register_model(model, features: pd.DataFrame, tracking_uri: str, pipeline: str,
                   aliases: tuple[str, ...] = ("candidate",), artifacts: dict | None = None) -> str:
    """Log ``model`` to MLflow as a training run would, register it, set aliases.

    ``artifacts`` maps a file name to JSON-able content or text, logged with the run
    (e.g. ``feature_dictionary.json``, ``model_card.json``). Returns the version.
    """
    import json
    import tempfile
    from pathlib import Path

    import mlflow
    from earlywarning.models._tracking import using_store
    from mlflow import MlflowClient

    with using_store(tracking_uri):
        name = f"earlywarning-{pipeline}"
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            # Keep artifacts beside the tracking database, not in the working directory.
            store = Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
            experiment_id = mlflow.create_experiment(name, artifact_location=store.as_uri())
        else:
            experiment_id = experiment.experiment_id
        with mlflow.start_run(experiment_id=experiment_id):
            # Explicit (empty) requirements: MLflow's inference runs a subprocess per call.
            info = mlflow.sklearn.log_model(model, name="model",
                                            serialization_format="cloudpickle",
                                            pip_requirements=[])
            with tempfile.TemporaryDirectory() as tmp:
                for fname, content in (artifacts or {}).items():
                    path = Path(tmp) / fname
                    text = content if isinstance(content, str) else json.dumps(content)
                    path.write_text(text, encoding="utf-8")
                    mlflow.log_artifact(str(path))
        version = mlflow.register_model(info.model_uri, name).version
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version)
    return str(version)


def pipeline_config(name: str, warehouse, features_dir, capacity: int = 40, synthetic_out=None):
    """A validated pipeline config for the fixture (no feature specs needed)."""
    from earlywarning.config import PipelineConfig

    data = {"warehouse": str(warehouse)}
    if synthetic_out is not None:
        data["synthetic"] = {"out": str(synthetic_out)}
    return PipelineConfig.model_validate({
        "version": 1, "name": name,
        "data": data,
        "as_of": {"start": "2022-01-01", "end": "2022-12-01"},
        "features": {"output_dir": str(features_dir)},
        "capacity": {"flags_per_month": capacity},
    })


def make_warehouse(path, extract_date: str = "2024-01-15") -> None:
    """A DuckDB warehouse holding only ``ext_source_metadata`` (what scoring reads)."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE ext_source_metadata (meta_source_id VARCHAR, meta_agency VARCHAR,
        meta_table VARCHAR, meta_extract_date DATE, meta_period_start DATE,
        meta_period_end DATE, meta_accessibility VARCHAR, meta_known_issues VARCHAR,
        meta_dsa_reference VARCHAR, meta_lawful_basis VARCHAR)""")
    for i, agency in enumerate(["police", "housing", "adult_mental_health", "school", "csc",
                                "early_help"]):
        con.execute("INSERT INTO ext_source_metadata VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, "
                    "NULL, NULL)", [f"S{i}", agency, f"t_{agency}", extract_date,
                                    "poor" if agency == "housing" else "easy",
                                    "late recording" if agency == "housing" else None])
    con.close()


def approve_champion(tracking_uri: str, pipeline: str, version: str, root) -> None:
    """Make ``version`` the champion the way an ethics board does (the fairness gate)."""
    import hashlib
    import json
    from pathlib import Path

    from mlflow import MlflowClient

    name = f"earlywarning-{pipeline}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    from earlywarning.fairness import approve

    run_id = client.get_model_version(name, version).run_id
    run_dir = Path(root) / "runs" / pipeline / f"20240101T0000{version:0>2}"
    (run_dir / "fairness").mkdir(parents=True)
    report = run_dir / "fairness" / "ethics_report.html"
    report.write_text("<html><body>fixture ethics report</body></html>", encoding="utf-8")
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    (run_dir / "fairness" / "audit.json").write_text(json.dumps(
        {"report_sha256": digest, "bar_passed": True, "model_name": name}))
    (run_dir / "metrics.json").write_text(json.dumps(
        {"pass_bar": {"passed": True, "headline": "PASSED (fixture)"}}))
    (run_dir / "run.json").write_text(json.dumps(
        {"pipeline": pipeline, "run_id": run_id, "registered_version": version}))
    approve(run_dir, "approve", "fixture: approved for scoring tests", "test board",
            tracking_uri=tracking_uri)
