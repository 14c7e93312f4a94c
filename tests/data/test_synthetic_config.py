"""The synthetic LA's configuration: every knob declared, typos refused."""

from __future__ import annotations

import datetime as dt

import pytest
from earlywarning.data.synthetic import SyntheticConfig, load_config


def test_defaults_describe_a_60k_la_ending_31_march_2026():
    cfg = SyntheticConfig()
    assert cfg.children == 60_000
    assert cfg.end_date == dt.date(2026, 3, 31)
    assert cfg.start_date == dt.date(2016, 4, 1)
    assert cfg.defects.rate == 0.001
    assert "orphan_person" in cfg.defects.kinds


def test_unknown_key_is_refused_with_its_name():
    with pytest.raises(ValueError, match="childrn"):
        SyntheticConfig.model_validate({"childrn": 10})


def test_every_agency_needs_coverage_and_lag():
    agencies = SyntheticConfig().agencies
    agencies.pop("police")
    with pytest.raises(ValueError, match="police"):
        SyntheticConfig(agencies=agencies)


def test_poor_sources_are_less_covered_and_later_than_easy_ones():
    ag = SyntheticConfig().agencies
    assert ag["gp"].accessibility == "poor" and ag["police"].accessibility == "easy"
    assert ag["gp"].coverage < ag["police"].coverage
    assert ag["gp"].lag_days_median > ag["housing"].lag_days_median > ag["police"].lag_days_median


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "la.yaml"
    path.write_text("children: 5000\nyears: 3\nbias:\n  label_group: {by: ethnicity, "
                    "value: Black}\n  label_multiplier: 1.5\n", encoding="utf-8")
    cfg = load_config(path, seed=9)
    assert (cfg.children, cfg.years, cfg.seed) == (5000, 3, 9)
    assert cfg.bias.label_group.value == "Black"


def test_bad_yaml_value_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("bias:\n  label_group: {by: ethnicity, value: Purple}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="(?s)bad.yaml.*Purple"):
        load_config(path)
