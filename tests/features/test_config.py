"""Pipeline file validation: every error names the file, the key path and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from earlywarning.config import PipelineConfigError, config_hash, load_pipeline, parse_pipeline

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pipelines" / "demo.yaml"


def demo_doc() -> dict:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def problems_for(doc: dict, tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(PipelineConfigError) as info:
        load_pipeline(path)
    return str(info.value)


def test_demo_pipeline_is_valid():
    cfg = load_pipeline(DEMO)
    assert cfg.name == "demo"
    assert cfg.outcome.events == ["cp_plan", "cla"]
    assert cfg.capacity.flags_per_month == 50
    assert cfg.features.protected_as_features is False


def test_negative_window_names_file_key_and_value(tmp_path):
    doc = demo_doc()
    doc["features"]["windows"] = [90, 365, -30]
    msg = problems_for(doc, tmp_path)
    assert msg == (f"{tmp_path / 'bad.yaml'}: features.windows[2] = -30: "
                   "a window must be a positive number of days")


def test_unknown_key_lists_valid_keys(tmp_path):
    doc = demo_doc()
    doc["cohort"]["lookback_month"] = 12
    msg = problems_for(doc, tmp_path)
    assert "cohort.lookback_month: unknown key; valid keys here: lookback_days, name" in msg


def test_unknown_outcome_event_is_named(tmp_path):
    doc = demo_doc()
    doc["outcome"]["events"] = "cp_plan | adoption"
    msg = problems_for(doc, tmp_path)
    assert "outcome.events[1] = 'adoption'" in msg


def test_missing_version_is_reported(tmp_path):
    doc = demo_doc()
    del doc["version"]
    assert "version: required key is missing" in problems_for(doc, tmp_path)


def test_wrong_version_is_refused(tmp_path):
    doc = demo_doc()
    doc["version"] = 2
    assert "version = 2: this earlywarning reads version 1" in problems_for(doc, tmp_path)


def test_unknown_table_in_spec_is_named(tmp_path):
    doc = demo_doc()
    doc["features"]["specs"] = [{"name": "x", "table": "ext_polise_event", "aggregate": "count",
                                 "meaning": "{value} x"}]
    msg = problems_for(doc, tmp_path)
    assert "features.specs[0].table = 'ext_polise_event': unknown table" in msg


def test_unknown_column_in_spec_filter_is_named(tmp_path):
    doc = demo_doc()
    doc["features"]["specs"] = [{"name": "x", "table": "ext_police_event", "aggregate": "count",
                                 "where": [{"column": "poli_kind", "value": "asb"}],
                                 "meaning": "{value} x"}]
    msg = problems_for(doc, tmp_path)
    assert "features.specs[0].where[0].column = 'poli_kind': unknown column of ext_police_event" \
        in msg


def test_identifying_column_is_refused(tmp_path):
    doc = demo_doc()
    doc["features"]["specs"] = [{"name": "x", "table": "ssd_professionals", "aggregate": "count",
                                 "where": [{"column": "prof_professional_name", "value": "a"}],
                                 "meaning": "{value} x"}]
    msg = problems_for(doc, tmp_path)
    assert "prof_professional_name': column is identifying" in msg


def test_restricted_table_is_refused(tmp_path):
    doc = demo_doc()
    doc["features"]["specs"] = [{"name": "x", "table": "ext_person_identity",
                                 "aggregate": "count", "meaning": "{value} x"}]
    assert "restricted table" in problems_for(doc, tmp_path)


def test_unknown_source_agency_is_named(tmp_path):
    doc = demo_doc()
    doc["features"]["sources"] = ["police", "polise"]
    msg = problems_for(doc, tmp_path)
    assert "features.sources[1] = 'polise': unknown source agency" in msg


def test_spec_window_must_be_positive(tmp_path):
    doc = demo_doc()
    doc["features"]["specs"] = [{"name": "x", "table": "ext_police_event", "aggregate": "count",
                                 "windows": [0], "meaning": "{value} x"}]
    msg = problems_for(doc, tmp_path)
    assert "features.specs[0].windows[0] = 0: a window must be a positive number of days" in msg


def test_protected_features_need_a_justification(tmp_path):
    doc = demo_doc()
    doc["features"]["protected_as_features"] = True
    assert "protected_justification is empty" in problems_for(doc, tmp_path)


def test_as_of_end_before_start_is_refused(tmp_path):
    doc = demo_doc()
    doc["as_of"]["end"] = "2020-01-01"
    assert problems_for(doc, tmp_path).endswith(
        "bad.yaml: as_of: end (2020-01-01) is before start (2021-04-01)")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PipelineConfigError, match="no such pipeline file"):
        load_pipeline(tmp_path / "nope.yaml")


def test_config_hash_ignores_spelled_out_defaults_and_order():
    doc = demo_doc()
    a = parse_pipeline(doc)
    reordered = dict(reversed(list(doc.items())))
    reordered["features"] = {**doc["features"], "exclude": []}
    assert config_hash(parse_pipeline(reordered)) == config_hash(a)


def test_config_hash_changes_with_the_horizon():
    doc = demo_doc()
    a = config_hash(parse_pipeline(doc))
    doc["outcome"]["horizon_days"] = 180
    assert config_hash(parse_pipeline(doc)) != a


def test_sources_groups_and_exclusions_choose_the_specs():
    doc = demo_doc()
    doc["features"].update(sources=["police", "housing"], exclude=["police_child"])
    from earlywarning.features import all_specs

    specs = all_specs(parse_pipeline(doc))
    assert {s.agency for s in specs} == {"police", "housing"}
    assert "police_child" not in {s.name for s in specs}
    assert {s.name for s in specs if s.direction == "coverage"} == {
        "coverage_police", "coverage_housing"}
    doc["features"] = {"groups": ["siblings"], "windows": [180]}
    specs = all_specs(parse_pipeline(doc))
    assert {s.group for s in specs} == {"siblings"}  # CSC is always linked: no indicator
    referrals = next(s for s in specs if s.name == "referrals_sibling")
    assert referrals.windows == (180,)


def test_library_covers_every_agency_of_the_schema():
    from earlywarning.data.schema import AGENCIES
    from earlywarning.features import LIBRARY

    assert {s.agency for s in LIBRARY} == set(AGENCIES)


def test_library_specs_are_valid_against_the_schema():
    from earlywarning.features import LIBRARY
    from earlywarning.features.specs import check_spec

    assert [p for i, s in enumerate(LIBRARY) for p in check_spec(s, f"LIBRARY[{i}]")] == []
