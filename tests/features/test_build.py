"""Building the feature table: outputs, manifest, and bad input that writes nothing."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest
from _warehouse import d, make_warehouse, ts, write_pipeline
from earlywarning.cli import app
from earlywarning.config import load_pipeline
from earlywarning.features import FeatureBuildError, build_features
from typer.testing import CliRunner


def _family() -> dict:
    person = dict(pers_sex="F", pers_ethnicity="BAFR", pers_is_child="Y")
    return {
        "ssd_person": [
            {**person, "pers_person_id": "c1", "pers_dob": d("2016-03-01")},
            {**person, "pers_person_id": "c2", "pers_dob": d("2010-07-01"), "pers_sex": "M"},
            {**person, "pers_person_id": "m1", "pers_dob": d("1988-01-01"), "pers_is_child": "N"},
        ],
        "ssd_family": [
            dict(fami_table_id=f"t{i}", fami_family_id="fam1", fami_person_id=p,
                 fami_start_date=d("2016-03-01"), fami_recorded_at=ts("2016-03-02"))
            for i, p in enumerate(["c1", "c2", "m1"])
        ],
        "ssd_address": [dict(addr_table_id="a1", addr_person_id="c1",
                             addr_address_start_date=d("2016-03-01"),
                             addr_address_postcode="LS9 7", addr_lsoa_code="E01000001",
                             addr_imd_decile=3, addr_recorded_at=ts("2016-03-02"))],
        "ssd_disability": [dict(disa_table_id="x1", disa_person_id="c2",
                                disa_disability_code="AUT")],
        "ssd_cin_episodes": [dict(cine_referral_id="r1", cine_person_id="c1",
                                  cine_referral_date=d("2024-02-10"),
                                  cine_recorded_at=ts("2024-02-11"))],
        "ssd_cla_episodes": [dict(clae_cla_episode_id="e1", clae_person_id="c2",
                                  clae_cla_episode_start_date=d("2024-09-01"),
                                  clae_recorded_at=ts("2024-09-02"))],
    }


@pytest.fixture()
def warehouse(tmp_path):
    return make_warehouse(tmp_path / "w.duckdb", _family())


def _pipeline(tmp_path, warehouse, **over):
    return write_pipeline(tmp_path / "p.yaml", warehouse, tmp_path / "out", **over)


def test_build_writes_table_manifest_and_dictionary(tmp_path, warehouse):
    cfg = load_pipeline(_pipeline(tmp_path, warehouse))
    result = build_features(cfg)
    out = tmp_path / "out" / "test"
    assert sorted(p.name for p in out.iterdir()) == [
        "feature_dictionary.json", "feature_dictionary.md", "features.parquet", "manifest.json"]
    frame = pd.read_parquet(out / "features.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(frame) == manifest["row_count"] == len(result.frame)
    assert list(frame.columns[:6]) == ["person_id", "family_id", "as_of", "cohort", "label",
                                       "label_event_date"]
    assert manifest["feature_columns"] == [c for c in frame.columns if c in
                                           manifest["feature_columns"]]
    assert manifest["warehouse_fingerprint"] == "test-fingerprint"
    assert manifest["outcome"] == "cp_plan | cla"
    assert str(frame["label"].dtype) == "Int8"
    names = [e["name"] for e in json.loads((out / "feature_dictionary.json").read_text())]
    assert names == manifest["feature_columns"]


def test_manifest_reports_base_rate_per_as_of_date(tmp_path, warehouse):
    result = build_features(load_pipeline(_pipeline(tmp_path, warehouse)), write=False)
    dates = {x["date"]: x for x in result.manifest["as_of_dates"]}
    # c2 enters care on 2024-09-01: positive at every 2024 as-of date before that
    jan = dates["2024-01-01"]
    assert (jan["n_rows"], jan["n_positive"], jan["base_rate"]) == (2, 1, 0.5)
    assert dates["2024-09-01"]["n_rows"] == 1  # c2 is looked after from 2024-09-01
    score = dates["2025-12-31"]
    assert score["role"] == "score" and score["horizon_complete"] is False
    assert score["n_positive"] is None and score["base_rate"] is None


def test_audit_columns_are_separate_from_features(tmp_path, warehouse):
    result = build_features(load_pipeline(_pipeline(tmp_path, warehouse)), write=False)
    feats = result.manifest["feature_columns"]
    assert result.manifest["audit_columns"] == [
        "audit_ethnicity", "audit_sex", "audit_age_band", "audit_disability",
        "audit_imd_quintile", "audit_area"]
    assert not any(("ethnic" in f or "sex" in f or "disab" in f) for f in feats)
    row = result.frame.set_index(["person_id", "as_of"]).loc[("c1", d("2024-01-01"))]
    assert (row["audit_ethnicity"], row["audit_sex"], row["audit_age_band"]) == (
        "Black", "F", "5-9")
    assert (row["audit_imd_quintile"], row["audit_area"], row["audit_disability"]) == (
        2, "LS9", "N")
    c2 = result.frame.set_index(["person_id", "as_of"]).loc[("c2", d("2024-01-01"))]
    assert c2["audit_disability"] == "Y" and c2["family_id"] == "fam1"


def test_incomplete_training_horizon_names_as_of_end_and_writes_nothing(tmp_path, warehouse):
    path = _pipeline(tmp_path, warehouse,
                     as_of={"start": "2024-01-01", "end": "2025-06-01", "frequency": "monthly"})
    with pytest.raises(FeatureBuildError) as info:
        build_features(load_pipeline(path), source=str(path))
    assert str(info.value) == (
        f"{path}: as_of.end = 2025-06-01: the 365-day horizon after the last training as-of "
        "date 2025-06-01 ends 2026-06-01, after the data ends on 2025-12-31; training needs "
        "complete horizons: end on or before 2024-12-31")
    assert not (tmp_path / "out").exists()


def test_empty_cohort_names_the_cohort_and_writes_nothing(tmp_path, warehouse):
    path = _pipeline(tmp_path, warehouse, cohort={"name": "early_help"})
    with pytest.raises(FeatureBuildError, match=r"cohort.name = 'early_help': the cohort is "
                                                r"empty at every training as-of date"):
        build_features(load_pipeline(path))
    assert not (tmp_path / "out").exists()


def test_missing_warehouse_is_named(tmp_path):
    path = _pipeline(tmp_path, tmp_path / "nowhere.duckdb")
    with pytest.raises(FeatureBuildError, match="data.warehouse = .*nowhere.duckdb.*no such"):
        build_features(load_pipeline(path))


def test_missing_source_table_names_the_spec_and_agency(tmp_path, warehouse):
    con = duckdb.connect(str(warehouse))
    con.execute("DROP TABLE ext_young_carer")
    con.close()
    with pytest.raises(FeatureBuildError, match=r"spec 'young_carer', agency 'young_carers'.*"
                                                r"ext_young_carer is not in the warehouse"):
        build_features(load_pipeline(_pipeline(tmp_path, warehouse)))


def test_failed_rebuild_keeps_the_previous_output(tmp_path, warehouse):
    build_features(load_pipeline(_pipeline(tmp_path, warehouse)))
    before = (tmp_path / "out" / "test" / "manifest.json").read_text()
    bad = _pipeline(tmp_path, warehouse, cohort={"name": "early_help"})
    with pytest.raises(FeatureBuildError):
        build_features(load_pipeline(bad))
    assert (tmp_path / "out" / "test" / "manifest.json").read_text() == before


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_builds_and_prints_base_rates(tmp_path, warehouse):
    path = _pipeline(tmp_path, warehouse)
    result = _cli("features", str(path))
    assert result.exit_code == 0, result.output
    assert "2024-01-01" in result.output and "50.00%" in result.output
    assert (tmp_path / "out" / "test" / "features.parquet").is_file()


def test_cli_reports_bad_config_with_exit_code_2(tmp_path, warehouse):
    path = _pipeline(tmp_path, warehouse, features={"windows": [0]})
    result = _cli("features", str(path))
    assert result.exit_code == 2
    assert "features.windows[0] = 0: a window must be a positive number of days" in " ".join(
        result.output.split())


@pytest.mark.slow
def test_generated_la_builds_a_sensible_table(small_warehouse, tmp_path):
    """The small synthetic LA (3,000 children, 6 years): cohort, labels and features hold up."""
    con = duckdb.connect(str(small_warehouse), read_only=True)
    last = con.execute("SELECT max(meta_extract_date) FROM ext_source_metadata").fetchone()[0]
    con.close()
    start = date(last.year - 3, 4, 1)
    path = write_pipeline(
        tmp_path / "small.yaml", small_warehouse, tmp_path / "out",
        data={"warehouse": str(small_warehouse)},
        cohort={"name": "known_to_services", "lookback_days": 365},
        as_of={"start": str(start), "end": str(date(last.year - 1, 3, 1)),
               "frequency": "quarterly", "score": str(last)})
    result = build_features(load_pipeline(path))
    m, frame = result.manifest, result.frame
    train = [x for x in m["as_of_dates"] if x["role"] == "train"]
    assert all(x["horizon_complete"] and x["n_rows"] > 0 for x in train)
    rates = [x["base_rate"] for x in train]
    assert 0.005 < sum(rates) / len(rates) < 0.2
    assert frame["label"].isna().sum() == m["as_of_dates"][-1]["n_rows"]
    # every child's row is unique and the label event, when any, falls inside the horizon
    assert not frame.duplicated(["person_id", "as_of"]).any()
    pos = frame[frame["label"] == 1]
    gap = pd.to_datetime(pos["label_event_date"]) - pd.to_datetime(pos["as_of"])
    assert gap.dt.days.between(1, 365).all()
    # the main agencies appear in the features
    feats = frame[m["feature_columns"]]
    for col in ("contacts_count_365d", "police_da_victim_parent_count_1095d",
                "school_absence_ratio_365d", "coverage_police_open_now"):
        assert feats[col].fillna(0).gt(0).any(), col
