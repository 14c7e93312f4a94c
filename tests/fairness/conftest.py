"""Fixtures: a run folder following the scores contract, and a temporary MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from earlywarning.config import load_pipeline
from earlywarning.fairness import simulate_scores

REPO = Path(__file__).resolve().parents[2]


def make_run(root: Path, *, passed: bool = True, version: str | None = "1",
             run_id: str = "", n: int = 4000, seed: int = 4,
             warehouse: Path | None = None, coverage: bool = False) -> Path:
    """Write ``root/runs/demo/<ts>/`` as the models stage does (COMMON.md item 6)."""
    cfg = load_pipeline(REPO / "pipelines" / "demo.yaml")
    run_dir = root / "runs" / cfg.name / "20250101-120000"
    run_dir.mkdir(parents=True)
    frame = simulate_scores(n, seed=seed)
    frame["as_of"] = frame["as_of"].dt.date
    frame["audit_imd_quintile"] = frame["audit_imd_quintile"].astype("int64")
    frame.to_parquet(run_dir / "test_predictions.parquet", index=False)
    dumped = cfg.model_dump(mode="json")
    dumped["audit"]["bootstrap_replicates"] = 100
    dumped["data"]["warehouse"] = str(warehouse or root / "no-warehouse.duckdb")
    dumped["features"]["output_dir"] = str(root / "features")
    if coverage:  # police data links fewer Black families: they are less visible
        import numpy as np
        import pandas as pd

        feats = root / "features" / cfg.name
        feats.mkdir(parents=True)
        rng = np.random.default_rng(seed)
        linked = rng.random(n) < np.where(frame["audit_ethnicity"] == "Black", 0.4, 0.9)
        pd.DataFrame({"person_id": frame["person_id"], "as_of": frame["as_of"],
                      "coverage_police": linked.astype("int8")}).to_parquet(
            feats / "features.parquet", index=False)
        (run_dir / "feature_dictionary.json").write_text(json.dumps([
            {"name": "coverage_police", "meaning": "{value} linked periods",
             "source_agency": "police", "window_days": None, "direction": "coverage",
             "subject": "household", "table": "ext_source_coverage",
             "aggregate": "open"}]))
    (run_dir / "resolved_config.yaml").write_text(yaml.safe_dump(dumped, sort_keys=False))
    headline = ("PASSED the pre-registered bar: lightgbm meets all 4 checks" if passed else
                "FAILED the pre-registered bar: lightgbm is not registered: ROC AUC 0.61")
    metrics = {"run": {"pipeline": cfg.name, "candidate": "lightgbm", "config_hash": "abc",
                       "status": "passed" if passed else "failed"},
               "pass_bar": {"model": "lightgbm", "passed": passed, "headline": headline,
                            "checks": []},
               "base_rate": float(frame["label"].mean()),
               "models": {"lightgbm": {"roc_auc": {"value": 0.74, "ci_low": 0.72,
                                                   "ci_high": 0.76}}},
               "split": {"n_train": 10000, "n_test": n, "test_dates": ["2023-01-01"]},
               "capacity": {"flags_per_month": 50}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "run.json").write_text(json.dumps({**metrics["run"], "run_id": run_id,
                                                  "registered_version": version}))
    return run_dir


@pytest.fixture(scope="session")
def audited_run(tmp_path_factory) -> Path:
    """A run folder audited once per session (no MLflow); copy it before changing it."""
    from earlywarning.fairness import audit_run

    run_dir = make_run(tmp_path_factory.mktemp("audited"), n=1500)
    audit_run(run_dir, log_to_mlflow=False)
    return run_dir


def copy_run(template: Path, root: Path, model_name: str | None = None, **run_json) -> Path:
    """Copy an audited run folder to ``root/runs/demo/<ts>``; update run.json (and the
    audited model name, which is not part of the hashed report)."""
    import shutil

    run_dir = root / "runs" / template.parent.name / template.name
    shutil.copytree(template, run_dir)
    if model_name:
        audit = json.loads((run_dir / "fairness" / "audit.json").read_text())
        audit["model_name"] = model_name
        (run_dir / "fairness" / "audit.json").write_text(json.dumps(audit))
    info = json.loads((run_dir / "run.json").read_text())
    info.update(run_json)
    (run_dir / "run.json").write_text(json.dumps(info))
    return run_dir


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """A temporary SQLite MLflow holding one tiny logged sklearn model: (uri, model uri, run id)."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("earlywarning-demo",
                                   artifact_location=(root / "mlruns").as_uri())
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        with mlflow.start_run(experiment_id=exp) as run:
            info = mlflow.sklearn.log_model(model, name="model")
    return uri, info.model_uri, run.info.run_id


@pytest.fixture
def registered(mlflow_store, request, monkeypatch):
    """A fresh registered model with versions 1 and 2 ('candidate' on 2).

    Returns (tracking uri, model name, run id).
    """
    from mlflow import MlflowClient

    uri, model_uri, run_id = mlflow_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = "earlywarning-" + request.node.name.replace("[", "-").replace("]", "")[:80]
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, model_uri, run_id)
    client.set_registered_model_alias(name, "candidate", "2")
    return uri, name, run_id
