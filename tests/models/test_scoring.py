"""Scoring: flags within capacity, written atomically with reasons and provenance."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from _explain_fixtures import (
    DICTIONARY,
    approve_champion,
    make_feature_table,
    make_warehouse,
    pipeline_config,
    register_model,
    train_model,
)
from _notebook_outputs import read_outputs
from earlywarning.config import config_hash
from earlywarning.models.explain import predict_risk
from earlywarning.models.scoring import (
    ScoringError,
    risk_band,
    score,
    select_flags,
    write_flags_to_warehouse,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

AS_OF = dt.date(2024, 2, 1)
LIMITS = ["Trained on synthetic data only.", "Not for investigation or eligibility decisions."]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A warehouse, a feature table and an approved model for pipeline 'fx'."""
    root = tmp_path_factory.mktemp("scoring")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    train, _ = make_feature_table(3000, ("2023-01-01", "2023-06-01"), seed=3)
    model = train_model(train)
    warehouse = root / "warehouse.duckdb"
    make_warehouse(warehouse)
    cfg = pipeline_config("fx", warehouse, root / "features", capacity=40,
                          synthetic_out=root / "la")
    folder = root / "features" / "fx"
    folder.mkdir(parents=True)
    features, truth = make_feature_table(2000, ("2024-01-01", "2024-02-01"), seed=4)
    (root / "la" / "ground_truth").mkdir(parents=True)
    truth.to_parquet(root / "la" / "ground_truth" / "child_month.parquet", index=False)
    features.to_parquet(folder / "features.parquet", index=False)
    (folder / "feature_dictionary.json").write_text(json.dumps(DICTIONARY))
    (folder / "manifest.json").write_text(json.dumps({
        "pipeline": "fx", "config_hash": config_hash(cfg),
        "as_of_dates": [{"date": "2024-01-01"}, {"date": "2024-02-01"}]}))
    version = register_model(model, train, uri, "fx", aliases=("candidate",),
                             artifacts={"feature_dictionary.json": DICTIONARY,
                                        "model_card.json": {"limitations": LIMITS}})
    approve_champion(uri, "fx", version, root)
    register_model(model, train, uri, "unapproved", aliases=("candidate",),
                   artifacts={"feature_dictionary.json": DICTIONARY})
    return {"root": root, "uri": uri, "cfg": cfg, "model": model, "features": features,
            "warehouse": warehouse, "version": version, "runs": root / "runs"}


@pytest.fixture(scope="module")
def scored(env):
    return score(env["cfg"], AS_OF, tracking_uri=env["uri"], runs_dir=env["runs"])


def _table(env, name):
    con = duckdb.connect(str(env["warehouse"]), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {name}").df()
    finally:
        con.close()


def test_flags_are_the_top_children_by_risk_within_capacity(env, scored):
    flags = scored.flags
    rows = env["features"][pd.to_datetime(env["features"].as_of).dt.date == AS_OF]
    risk = pd.Series(predict_risk(env["model"], rows), index=rows.person_id.to_numpy())
    assert len(flags) == 40
    assert list(flags["rank"]) == list(range(1, 41))
    assert np.all(np.diff(flags["risk"].to_numpy()) <= 0)
    np.testing.assert_allclose(flags["risk"], risk.loc[flags.person_id].to_numpy())
    assert flags["risk"].min() >= risk.drop(flags.person_id).max()
    assert set(flags["model_name"]) == {"earlywarning-fx"}
    assert set(flags["model_version"]) == {env["version"]}
    band = r"^(about \d+ in \d+|fewer than 1 in 100|more than 99 in 100) \((high|medium|low)\)$"
    assert flags["band"].str.match(band).all()


def test_each_flag_has_risk_and_protective_reasons_in_plain_english(scored):
    reasons = scored.reasons
    assert set(reasons.flag_id) == set(scored.flags.flag_id)
    per_flag = reasons.groupby("flag_id")["direction"].agg(set)
    assert per_flag.map(lambda d: "risk" in d).all()
    assert per_flag.map(lambda d: "protective" in d).mean() > 0.5
    assert reasons["text"].str.contains(r"\(raises risk\)|\(lowers risk\)|coverage").all()


def test_provenance_names_sources_extract_dates_coverage_and_limits(env, scored):
    prov = scored.provenance
    flags = scored.flags.set_index("flag_id")
    rows = env["features"][pd.to_datetime(env["features"].as_of).dt.date == AS_OF]
    rows = rows.set_index("person_id")
    agencies = prov[prov.agency != "model"]
    assert set(agencies.agency) == {"police", "housing", "adult_mental_health", "school", "csc",
                                    "early_help"}
    assert set(agencies.extract_date) == {dt.date(2024, 1, 15)}
    housing = agencies[agencies.agency == "housing"]
    expected = rows.loc[flags.loc[housing.flag_id, "person_id"], "coverage_housing"].to_numpy()
    np.testing.assert_allclose(housing["coverage"].to_numpy(), expected)
    assert housing["note"].str.contains("known issues: late recording").all()
    assert agencies[agencies.agency == "school"]["coverage"].isna().all()
    # the effect of each source in words a practitioner reads, not log-odds
    effects = agencies.note.str.split(": ", n=1).str[1].str.split(" (", regex=False).str[0]
    assert not agencies.note.str.contains("log-odds").any()
    assert effects.str.fullmatch(
        r"its records (?:raised|lowered) this child's risk (?:strongly|moderately|slightly)"
        r"|its records did not change this child's risk"
        r"|no data linked for this family, so the model could not use it").all(), set(effects)
    limits = prov[prov.agency == "model"]
    assert limits.groupby("flag_id")["note"].agg(list).to_dict() == {f: LIMITS for f in flags.index}


def test_warehouse_and_parquet_hold_the_same_flags(env, scored):
    for name, frame in (("flags", scored.flags), ("flag_reasons", scored.reasons),
                        ("flag_provenance", scored.provenance)):
        stored = _table(env, name)
        parquet = pd.read_parquet(scored.out_dir / f"{name}.parquet")
        assert len(stored) == len(frame) == len(parquet)
        assert sorted(stored["flag_id"]) == sorted(parquet["flag_id"])
    assert (scored.out_dir / "shap_values.parquet").exists()
    sample = pd.read_parquet(scored.out_dir / "sample_reasons.parquet")
    assert sample["person_id"].nunique() == 500
    assert not set(sample.person_id) & set(scored.flags.person_id)


def test_scoring_is_logged_to_mlflow_beside_the_model(env, scored):
    client = MlflowClient(tracking_uri=env["uri"])
    run = client.get_run(scored.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["as_of"] == AS_OF.isoformat()
    assert run.data.metrics["n_flags"] == 40
    files = {a.path for a in client.list_artifacts(scored.mlflow_run_id, "scoring")}
    assert "scoring/flag_reasons.parquet" in files


def test_rescoring_replaces_that_date_and_keeps_others(env, scored):
    score(env["cfg"], "2024-01-01", tracking_uri=env["uri"], runs_dir=env["runs"],
          log_to_mlflow=False)
    again = score(env["cfg"], AS_OF, tracking_uri=env["uri"], runs_dir=env["runs"],
                  log_to_mlflow=False)
    flags = _table(env, "flags")
    assert flags.groupby("as_of").size().to_dict() == {pd.Timestamp("2024-01-01"): 40,
                                                       pd.Timestamp(AS_OF): 40}
    assert sorted(flags[flags.as_of == pd.Timestamp(AS_OF)].flag_id) == sorted(again.flags.flag_id)
    reasons = _table(env, "flag_reasons")
    assert set(reasons.flag_id) == set(flags.flag_id)


def _snapshot(env):
    return {t: _table(env, t).sort_values(["flag_id"]).reset_index(drop=True)
            for t in ("flags", "flag_reasons", "flag_provenance")}


def _assert_unchanged(env, before):
    after = _snapshot(env)
    for t in before:
        pd.testing.assert_frame_equal(before[t], after[t])


def test_no_approved_model_is_refused_and_flags_stay(env, scored):
    before = _snapshot(env)
    cfg = env["cfg"].model_copy(update={"name": "unapproved"})
    with pytest.raises(ScoringError, match="no approved model: registered model "
                                           "'earlywarning-unapproved' has no 'champion'"):
        score(cfg, AS_OF, tracking_uri=env["uri"], runs_dir=env["runs"])
    _assert_unchanged(env, before)


def test_champion_without_an_approval_record_is_refused(env, scored):
    client = MlflowClient(tracking_uri=env["uri"], registry_uri=env["uri"])
    client.set_registered_model_alias("earlywarning-unapproved", "champion", "1")
    cfg = env["cfg"].model_copy(update={"name": "unapproved"})
    try:
        with pytest.raises(ScoringError, match="no approval record|no 'champion'"):
            score(cfg, AS_OF, tracking_uri=env["uri"], runs_dir=env["runs"])
    finally:
        client.delete_registered_model_alias("earlywarning-unapproved", "champion")


def test_candidate_is_used_only_when_allowed(env, scored):
    cfg = env["cfg"].model_copy(update={"name": "unapproved"})
    result = score(cfg, AS_OF, allow_candidate=True, features=env["features"],
                   tracking_uri=env["uri"], runs_dir=env["runs"], log_to_mlflow=False)
    assert set(result.flags.model_name) == {"earlywarning-unapproved"}
    assert len(result.flags) == 40


def test_feature_table_from_another_config_is_refused_and_flags_stay(env, scored):
    before = _snapshot(env)
    other = env["cfg"].model_copy(update={"outcome": env["cfg"].outcome.model_copy(
        update={"horizon_days": 180})})
    with pytest.raises(ScoringError, match="built from another config"):
        score(other, AS_OF, tracking_uri=env["uri"], runs_dir=env["runs"])
    _assert_unchanged(env, before)


def test_feature_rows_missing_a_model_column_are_refused(env, scored):
    before = _snapshot(env)
    bad = env["features"].drop(columns=["amh_parent_contact_count_365d"])
    with pytest.raises(ValueError, match="amh_parent_contact_count_365d"):
        score(env["cfg"], AS_OF, features=bad, tracking_uri=env["uri"], runs_dir=env["runs"])
    _assert_unchanged(env, before)


def test_as_of_date_without_data_is_named_and_flags_stay(env, scored):
    before = _snapshot(env)
    with pytest.raises(ScoringError, match="cannot build features at as-of date 2025-03-01: "
                                           ".*not in the warehouse"):
        score(env["cfg"], "2025-03-01", tracking_uri=env["uri"], runs_dir=env["runs"])
    _assert_unchanged(env, before)


def test_a_failed_warehouse_write_rolls_back(env, scored):
    before = _snapshot(env)
    broken = type(scored)(**{**scored.__dict__,
                            "reasons": scored.reasons.drop(columns=["text"])})
    with pytest.raises(KeyError):
        write_flags_to_warehouse(env["warehouse"], broken)
    _assert_unchanged(env, before)


def test_bands_read_as_natural_frequencies():
    assert list(risk_band([0.19, 0.33, 0.52, 0.11, 0.004])) == [
        "about 1 in 5", "about 1 in 3", "about 1 in 2", "about 1 in 10", "fewer than 1 in 100"]
    assert list(risk_band([0.35, 0.12, 0.05], {"high": 0.3, "medium": 0.1})) == [
        "about 1 in 3 (high)", "about 1 in 10 (medium)", "about 1 in 20 (low)"]
    # near-certain risks are not rounded down to the largest everyday fraction
    assert list(risk_band([0.64, 0.88, 0.96, 0.98, 0.999])) == [
        "about 3 in 4", "about 9 in 10", "about 19 in 20", "about 49 in 50",
        "more than 99 in 100"]


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1, allow_nan=False))
def test_a_band_is_within_a_factor_of_two_of_the_risk_and_of_its_complement(risk):
    band = risk_band([risk])[0]
    if band.startswith("fewer"):
        assert risk < 1 / 150
    elif band.startswith("more"):
        assert risk > 149 / 150
    else:
        a, b = band.removeprefix("about ").split(" in ")
        shown = int(a) / int(b)
        assert shown / 2 <= risk <= shown * 2
        assert (1 - shown) / 2 <= 1 - risk <= (1 - shown) * 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=50))
def test_a_higher_risk_never_gets_a_lower_band(risks):
    def frac(band):
        if band.startswith("fewer"):
            return 0.0
        if band.startswith("more"):
            return 1.0
        a, b = band.removeprefix("about ").split(" in ")
        return int(a) / int(b)

    order = np.argsort(risks)
    bands = [frac(b) for b in risk_band(np.asarray(risks)[order])]
    assert bands == sorted(bands)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.5]), min_size=1, max_size=40),
       st.integers(1, 10), st.randoms(use_true_random=False))
def test_flag_selection_does_not_depend_on_row_order(risks, capacity, rnd):
    risk = np.asarray(risks)
    ids = np.array([f"P{i:03d}" for i in range(len(risk))])
    chosen = ids[select_flags(risk, capacity, ids=ids)]
    perm = list(range(len(risk)))
    rnd.shuffle(perm)
    again = ids[perm][select_flags(risk[perm], capacity, ids=ids[perm])]
    assert list(chosen) == list(again)
    assert len(chosen) == min(capacity, len(risk))
    assert risk[np.isin(ids, chosen)].min() >= risk[~np.isin(ids, chosen)].max(initial=0)


@pytest.fixture(scope="module")
def cli(env, monkeypatch_module):
    import yaml
    from earlywarning.cli import app
    from typer.testing import CliRunner

    monkeypatch_module.setenv("MLFLOW_TRACKING_URI", env["uri"])
    monkeypatch_module.chdir(env["root"])
    path = env["root"] / "fx.yaml"
    path.write_text(yaml.safe_dump(env["cfg"].model_dump(mode="json")))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_score_command_prints_the_flags_with_reasons(env, cli):
    out = cli("score", env["root"] / "fx.yaml", "--as-of", "2024-02-01")
    assert out.exit_code == 0, out.output
    assert "40 flags for fx at 2024-02-01" in out.output
    assert "(approved)" in out.output
    assert "(raises risk)" in out.output


def test_score_command_refuses_without_an_approved_model(env, cli):
    cfg = env["cfg"].model_copy(update={"name": "unapproved"})
    import yaml

    path = env["root"] / "unapproved.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    out = cli("score", path, "--as-of", "2024-02-01")
    assert out.exit_code == 2
    assert "no approved model" in out.output
    assert "previous flags are unchanged" in out.output


def test_explain_command_prints_a_flagged_childs_reasons_and_sources(env, cli):
    cli("score", env["root"] / "fx.yaml", "--as-of", "2024-02-01")
    person = _table(env, "flags").sort_values("as_of").iloc[-1]["person_id"]
    out = cli("explain", env["root"] / "fx.yaml", "--person-id", person)
    assert out.exit_code == 0, out.output
    assert "Reasons for concern" in out.output
    assert "Sources and limits" in out.output
    assert LIMITS[0] in out.output


def test_explain_command_explains_a_child_who_was_not_flagged(env, cli, scored):
    rows = env["features"][pd.to_datetime(env["features"].as_of).dt.date == AS_OF]
    person = sorted(set(rows.person_id) - set(scored.flags.person_id))[0]
    out = cli("explain", env["root"] / "fx.yaml", "--person-id", person, "--as-of",
              "2024-02-01")
    assert out.exit_code == 0, out.output
    assert "(not flagged)" in out.output
    assert "Reasons" in out.output


@pytest.mark.slow
def test_explanations_notebook_runs_top_to_bottom(env, cli, scored):
    import jupytext
    from nbclient import NotebookClient

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    nb = jupytext.read(repo / "notebooks" / "04_explanations.py")
    os_env = {"EARLYWARNING_PIPELINE": str(env["root"] / "fx.yaml")}
    mp = pytest.MonkeyPatch()
    for k, v in os_env.items():
        mp.setenv(k, v)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(env["root"])}}).execute()
    finally:
        mp.undo()
    out = read_outputs(nb)
    text = out.text
    assert "(raises risk)" in text
    assert "true largest driver in the top-3 reasons" in text
    assert len(out.images) == 2


def test_the_models_engineers_calibrated_lightgbm_scores_and_explains():
    from _explain_fixtures import FEATURES
    from earlywarning.models import LightGBMRiskClassifier, TemporalCalibratedClassifier
    from earlywarning.models.explain import FeatureDictionary, shap_contributions
    from earlywarning.models.scoring import score_features

    train, _ = make_feature_table(2000, ("2023-01-01", "2023-02-01", "2023-03-01"), seed=6)
    model = TemporalCalibratedClassifier(
        LightGBMRiskClassifier(n_estimators=40, min_child_samples=20), fraction=0.34)
    model.fit(train[FEATURES], train["label"].astype(int), as_of=train["as_of"])
    rows, _ = make_feature_table(1500, ("2024-02-01",), seed=7)
    result = score_features(model, rows, FeatureDictionary.from_records(DICTIONARY),
                            pipeline="fx", capacity=25, sample_size=50)
    assert len(result.flags) == 25 and set(result.reasons.flag_id) == set(result.flags.flag_id)
    raw = model.ranking_score(rows[FEATURES])
    contrib = shap_contributions(model, rows)
    np.testing.assert_allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), raw, rtol=1e-5)


def test_limits_come_from_the_model_cards_limits_section(tmp_path, env):
    from earlywarning.models._provenance import _limits_from_card, default_limits

    card = tmp_path / "model_card.md"
    card.write_text("# Model card\n\n## Intended use\n- Early Help support only\n\n"
                    "## Limits\n- Sees only linked agencies.\n- Trained on 2021-2024.\n\n"
                    "## Ethical considerations\n- Review every flag.\n")
    assert _limits_from_card(card) == ["Sees only linked agencies.", "Trained on 2021-2024."]
    limits = default_limits(env["cfg"])
    assert limits[0].startswith("Estimates the chance of a child protection plan or coming "
                                "into care within 365 days")
