"""Train → evaluate → pass bar → MLflow → registry, on a synthetic feature table.

One MLflow database is initialised per session (its schema migrations are
slow) and copied for each test, so tests stay isolated and fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from _synthetic_features import write_fixture_pipeline
from earlywarning.models import (
    FeatureTableError,
    PassBarError,
    TrackingError,
    evaluate_run,
    run_ablation,
    train_pipeline,
)
from earlywarning.models._tracking import using_store
from earlywarning.models._training import make_splitter
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CONTRACT_COLUMNS = ["person_id", "family_id", "as_of", "score", "label", "flagged", "rank"]


def _tracking(mlflow_template, folder):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(mlflow_template, folder / "mlflow.db")
    return f"sqlite:///{folder}/mlflow.db"


@pytest.fixture(scope="module")
def passed_run(tmp_path_factory, mlflow_template):
    root = tmp_path_factory.mktemp("passed")
    cfg, table = write_fixture_pipeline(root)
    uri = _tracking(mlflow_template, root / "tracking")
    with pytest.MonkeyPatch.context() as mp:
        for name in URI_VARIABLES:
            mp.delenv(name, raising=False)
        before = _mlflow_globals()
        result = train_pipeline(cfg, runs_dir=root / "runs", tracking_uri=uri)
        result.globals_before_and_after = before, _mlflow_globals()
    return cfg, table, uri, result, root


URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _mlflow_globals():
    """MLflow's process-wide URIs and the environment variables behind them."""
    return (mlflow.get_tracking_uri(), mlflow.get_registry_uri(),
            {name: os.environ.get(name) for name in URI_VARIABLES})


def test_training_leaves_mlflows_process_wide_uris_as_they_were(passed_run):
    before, after = passed_run[3].globals_before_and_after
    assert after == before
    assert after[2] == {name: None for name in URI_VARIABLES}


@pytest.mark.parametrize("start", ["nothing set", "environment", "set_tracking_uri"])
def test_using_store_points_mlflow_at_the_store_then_restores_everything(
        start, tmp_path, monkeypatch):
    for name in URI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    theirs = f"sqlite:///{tmp_path}/theirs.db"
    if start == "environment":
        monkeypatch.setenv("MLFLOW_TRACKING_URI", theirs)
    try:
        if start == "set_tracking_uri":
            mlflow.set_tracking_uri(theirs)
        before = _mlflow_globals()
        ours = f"sqlite:///{tmp_path}/ours.db"
        with using_store(ours):
            assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (ours, ours)
        assert _mlflow_globals() == before
        assert os.environ.get("MLFLOW_TRACKING_URI") == (None if start == "nothing set"
                                                         else theirs)
    finally:
        mlflow.set_tracking_uri(None)


def _registered(uri, name):
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return []


def test_passing_model_is_registered_as_candidate_never_champion(passed_run):
    cfg, _, uri, result, _ = passed_run
    assert result.pass_bar.passed
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("earlywarning-fixture", "candidate")
    assert str(version.version) == result.registered_version
    assert version.run_id == result.run_id
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("earlywarning-fixture", "champion")


def test_run_logs_config_hash_fingerprint_git_sha_and_artifacts(passed_run):
    _, table, uri, result, _ = passed_run
    run = MlflowClient(tracking_uri=uri).get_run(result.run_id)
    tags = run.data.tags
    assert len(tags["config_hash"]) == 64
    assert tags["warehouse_fingerprint"] == table.manifest["warehouse_fingerprint"]
    assert tags["git_sha"] and tags["pass_bar"] == "passed"
    assert run.data.params["model.lightgbm.n_estimators"] == "60"
    assert "lightgbm.pr_auc" in run.data.metrics and "base_rate" in run.data.metrics
    names = {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(result.run_id)}
    assert {"metrics.json", "resolved_config.yaml", "feature_dictionary.json",
            "report.html"} <= names


def test_registered_model_loads_and_matches_the_local_model(passed_run, monkeypatch):
    _, table, uri, result, _ = passed_run
    import joblib

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    with using_store(uri):
        loaded = mlflow.sklearn.load_model("models:/earlywarning-fixture@candidate")
        info = mlflow.models.get_model_info("models:/earlywarning-fixture@candidate")
    local = joblib.load(result.run_dir / "model.joblib")
    X = table.frame[table.manifest["feature_columns"]].head(50).astype(np.float32)
    assert np.allclose(loaded.predict_proba(X), local.predict_proba(X))
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs] == table.manifest["feature_columns"]


def test_scores_contract_file(passed_run):
    _, table, _, result, _ = passed_run
    preds = pd.read_parquet(result.run_dir / "test_predictions.parquet")
    assert list(preds.columns) == [*CONTRACT_COLUMNS, *table.manifest["audit_columns"], "p_true"]
    assert preds["score"].between(0, 1).all()
    caps = result.metrics["capacity_per_date"]
    flagged = preds.groupby(preds["as_of"].astype(str))["flagged"].sum().to_dict()
    assert flagged == caps
    for _, g in preds.groupby("as_of"):
        assert sorted(g["rank"]) == list(range(1, len(g) + 1))
        assert g.loc[g["flagged"], "rank"].max() == g["flagged"].sum()
    assert preds["p_true"].notna().all()


def test_run_folder_has_metrics_config_and_report(passed_run):
    _, _, _, result, _ = passed_run
    for name in ("metrics.json", "resolved_config.yaml", "report.html", "run.json",
                 "feature_dictionary.json"):
        assert (result.run_dir / name).is_file()
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["no_skill_pr_auc"] == metrics["base_rate"]
    assert list(metrics["models"]) == ["lightgbm", "logistic", "rule", "prevalence",
                                       "truth_fitted", "oracle"]
    assert "fold_1" in metrics["backtest"]
    note = metrics["oracle_note"]
    assert note["positives"] == metrics["n_positive"]
    assert note["determined_rows"] == 0  # the fixture's p_true never reaches 1
    assert note["oracle_pr_auc_without_determined"] == pytest.approx(
        metrics["models"]["oracle"]["pr_auc"]["value"])


def test_a_model_fitted_to_the_true_probability_measures_what_the_features_carry(passed_run):
    _, _, _, result, _ = passed_run
    m = result.metrics["models"]
    pr = {k: v["pr_auc"]["value"] for k, v in m.items()}
    # the fixture's outcomes follow a known logit of the features' latent adversity: fitted
    # to that probability, the same trees rank at least about as well as from outcomes,
    # and no better than the oracle itself
    assert pr["truth_fitted"] >= pr["lightgbm"] - 0.02
    assert pr["truth_fitted"] <= pr["oracle"] + 0.02
    share = result.metrics["oracle_share"]["truth_fitted"]["pr_auc"]["value"]
    assert share == pytest.approx(pr["truth_fitted"] / pr["oracle"])
    preds = pd.read_parquet(result.run_dir / "predictions.parquet")
    fitted = preds["risk__truth_fitted"]
    assert fitted.between(0, 1).all()
    assert np.corrcoef(fitted, preds["risk__oracle"])[0, 1] > 0.5
    html = (result.run_dir / "report.html").read_text()
    assert "LightGBM fitted to the true probability" in html
    assert "rare outcomes costs" in html
    # the pass bar and the registry see only the candidate
    assert result.metrics["pass_bar"]["model"] == "lightgbm"


def test_the_truth_fitted_model_can_be_switched_off(tmp_path, mlflow_template):
    cfg, _ = write_fixture_pipeline(tmp_path)
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={
        "evaluation": cfg.model.evaluation.model_copy(update={"truth_fitted": False})})})
    result = train_pipeline(cfg, runs_dir=tmp_path / "runs",
                            tracking_uri=_tracking(mlflow_template, tmp_path / "tracking"))
    assert "truth_fitted" not in result.metrics["models"]
    assert "oracle" in result.metrics["models"]


def test_a_few_test_rows_without_ground_truth_keep_the_oracle_and_say_so(
        tmp_path, mlflow_template):
    cfg, table = write_fixture_pipeline(tmp_path)
    truth_path = tmp_path / "la" / "ground_truth" / "child_month.parquet"
    truth = pd.read_parquet(truth_path)
    last = pd.to_datetime(truth["month"]).max()
    lost = truth.loc[pd.to_datetime(truth["month"]) == last, "person_id"].iloc[:2]
    truth[~truth["person_id"].isin(lost)].to_parquet(truth_path, index=False)
    result = train_pipeline(cfg, runs_dir=tmp_path / "runs",
                            tracking_uri=_tracking(mlflow_template, tmp_path / "tracking"))
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert "oracle" in metrics["models"]
    missing = metrics["oracle_note"]["rows_without_ground_truth"]
    assert 0 < missing <= 0.01 * metrics["n_rows"]
    preds = pd.read_parquet(result.run_dir / "test_predictions.parquet")
    assert preds["p_true"].isna().sum() == missing  # the contract keeps the gap visible
    assert "have no ground truth" in (result.run_dir / "report.html").read_text()


def test_report_opens_with_the_verdict_then_base_rates_and_oracle(passed_run):
    _, _, _, result, _ = passed_run
    html = (result.run_dir / "report.html").read_text()
    body = html.split("<body>", 1)[1].lstrip()
    assert body.startswith('<p id="verdict" class="verdict passed">PASSED the pre-registered bar')
    assert "<title>PASSED" in html
    assert "Base rate" in html and "no-skill PR-AUC" in html
    assert "share of oracle" in html
    assert html.count("data:image/png;base64,") >= 3
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert not re.search(r"\bP\d{6}\b|\bF\d{5}\b", text)  # no person or family ids


def test_failed_model_is_recorded_as_failed_and_not_registered(passed_run, tmp_path,
                                                              mlflow_template):
    cfg, _ = write_fixture_pipeline(tmp_path, name="failing",
                                    pass_bar={"min_roc_auc": 0.99})
    uri = _tracking(mlflow_template, tmp_path / "tracking")
    result = train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri=uri)
    assert not result.pass_bar.passed
    assert result.registered_version is None
    assert _registered(uri, "earlywarning-failing") == []
    run = MlflowClient(tracking_uri=uri).get_run(result.run_id)
    assert run.data.tags["pass_bar"] == "failed"
    assert run.data.metrics["pass_bar_passed"] == 0.0
    body = (result.run_dir / "report.html").read_text().split("<body>", 1)[1].lstrip()
    assert body.startswith('<p id="verdict" class="verdict failed">FAILED the pre-registered '
                           'bar: lightgbm is not registered: ROC-AUC')
    assert json.loads((result.run_dir / "run.json").read_text())["status"] == "failed"
    # same data and seed: the same models and metrics; the bar judges, it does not train
    assert result.metrics["models"] == passed_run[3].metrics["models"]


def test_registration_failure_leaves_no_partial_version(passed_run, monkeypatch):
    from earlywarning.models._tracking import register_candidate

    _, _, uri, result, _ = passed_run

    def broken(*args, **kwargs):
        raise MlflowException("alias store unavailable")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", broken)
    model_uri = f"runs:/{result.run_id}/model"
    with pytest.raises(MlflowException, match="alias store unavailable"):
        register_candidate(uri, model_uri, "regfail", result.run_id)
    assert _registered(uri, "earlywarning-regfail") == []


def test_unreachable_tracking_uri_fails_before_training(tmp_path):
    cfg, _ = write_fixture_pipeline(tmp_path, n_families=60)
    with pytest.raises(TrackingError, match=r"MLflow tracking store 'http://127.0.0.1:9' is not "
                                            r"reachable: .* nothing was trained or registered"):
        train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri="http://127.0.0.1:9")
    assert not (tmp_path / "runs").exists()


def test_manifest_that_does_not_match_the_config_is_refused(tmp_path, mlflow_template):
    cfg, table = write_fixture_pipeline(tmp_path, n_families=60)
    manifest = dict(table.manifest, horizon_days=180)
    (table.directory / "manifest.json").write_text(json.dumps(manifest))
    uri = _tracking(mlflow_template, tmp_path / "tracking")
    with pytest.raises(FeatureTableError, match=r"manifest.json: manifest horizon_days = 180 "
                                                r"but the pipeline file says 365"):
        train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri=uri)
    assert not (tmp_path / "runs").exists()


def test_feature_table_from_other_as_of_dates_is_refused(tmp_path, mlflow_template):
    cfg, _ = write_fixture_pipeline(tmp_path, n_families=60,
                                    as_of={"start": "2020-02-01"})
    uri = _tracking(mlflow_template, tmp_path / "tracking")
    with pytest.raises(FeatureTableError, match=r"as_of_dates \(training\) = '29 dates "
                                                r"2020-01-01 .. 2022-05-01' but the pipeline "
                                                r"file says '28 dates 2020-02-01"):
        train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri=uri)


def test_unreachable_pass_bar_is_refused_before_training(tmp_path, mlflow_template):
    cfg, _ = write_fixture_pipeline(tmp_path, n_families=200, capacity={"flags_per_month": 400},
                                    pass_bar={"min_precision_at_capacity": 0.5})
    uri = _tracking(mlflow_template, tmp_path / "tracking")
    with pytest.raises(PassBarError, match="min_precision_at_capacity = 0.5: impossible"):
        train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri=uri)
    assert not (tmp_path / "runs").exists()


def test_re_evaluation_uses_the_runs_own_pre_registered_bar(passed_run):
    _, _, _, result, _ = passed_run
    before = json.loads((result.run_dir / "metrics.json").read_text())
    after = evaluate_run(result.run_dir)
    assert after["pass_bar"] == before["pass_bar"]
    assert after["models"] == before["models"]


def test_ablation_shows_what_each_agency_adds(passed_run):
    cfg, table, _, result, _ = passed_run
    from earlywarning.config import AblationConfig

    sampled = cfg.model_copy(update={"model": cfg.model.model_copy(
        update={"ablation": AblationConfig(max_train_rows=8000)})})
    out = run_ablation(sampled, run_dir=result.run_dir, n_bootstrap=20)
    n_train = len(make_splitter(cfg).split(table.frame)[-1].train_index)
    assert 0.5 * 8000 < out["n_train_rows"] < min(1.5 * 8000, n_train)
    agencies = {r["agency"] for r in out["agencies"]}
    assert agencies == {e["source_agency"] for e in table.dictionary}
    by = {r["agency"]: r for r in out["agencies"]}
    # only the police records see the family's domestic abuse; the gp columns are noise
    assert out["agencies"][0]["agency"] == "police"
    assert by["police"]["delta_pr_auc"]["value"] < by["gp"]["delta_pr_auc"]["value"] - 0.05
    assert by["police"]["n_features"] == 2
    assert (result.run_dir / "ablation.json").is_file()


def test_ablation_gives_the_same_answer_fitting_two_at_a_time_or_one(passed_run, monkeypatch):
    import earlywarning.models._ablation as ablation
    from threadpoolctl import threadpool_info

    cfg, _, _, _, _ = passed_run
    blas_before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    two_at_a_time = run_ablation(cfg, n_bootstrap=20)  # the fixture is far below the limit
    monkeypatch.setattr(ablation, "PARALLEL_MAX_CELLS", 0)
    one_at_a_time = run_ablation(cfg, n_bootstrap=20)
    assert two_at_a_time == one_at_a_time
    # the fits' BLAS limits, entered and left from two threads, leave no trace
    assert [p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas"] == blas_before


def test_test_period_without_positives_is_refused_and_nothing_is_written(tmp_path,
                                                                        tracking_uri):
    from _synthetic_features import write_feature_table
    from earlywarning.models import EvaluationError

    cfg, table = write_fixture_pipeline(tmp_path, n_families=150)
    frame = table.frame.copy()
    last = sorted(frame.loc[frame["label"].notna(), "as_of"].unique())[-3:]
    frame.loc[frame["as_of"].isin(last), "label"] = 0
    write_feature_table(table.directory, "fixture", frame, table.ground_truth)
    with pytest.raises(EvaluationError, match=r"evaluation: the test period 2022-03-01, "
                                              r"2022-04-01, 2022-05-01 has no positive labels"):
        train_pipeline(cfg, runs_dir=tmp_path / "runs", tracking_uri=tracking_uri)
    assert not (tmp_path / "runs").exists()
    assert _registered(tracking_uri, "earlywarning-fixture") == []


def test_the_candidates_calibration_is_cross_fitted_by_family(passed_run):
    import joblib

    _, _, _, result, _ = passed_run
    model = joblib.load(result.run_dir / "model.joblib")
    assert model.calibration_rows_ == "later dates, scored by models that did not see the family"
