"""Every knob of the synthetic local authority, declared and validated in one place.

:class:`SyntheticConfig` is a pydantic model with ``extra="forbid"``: a typo in a
YAML config file is an error that names the key. Defaults reproduce the England
figures of ``REFERENCE.md`` for a 60,000-child LA; the calibration test checks them.

Groups of knobs
---------------
- size and time: ``children``, ``years``, ``end_date``, ``burn_in_years``, ``seed``;
- places and families: :class:`PlacesConfig`, :class:`FamilyConfig`;
- the latent adversity process: :class:`AdversityConfig`;
- the escalation hazard (its coefficients name the ground-truth drivers):
  :class:`EscalationConfig`;
- agency event rates: :class:`EventRatesConfig`;
- per-agency coverage and recording lag: :class:`AgencyConfig` in ``agencies``;
- bias knobs, all off by default: :class:`BiasConfig`;
- data-quality defects for the loader to catch: :class:`DefectConfig`;
- ground-truth frequency: ``ground_truth_every_months``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from earlywarning.data.schema import AGENCIES
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AdversityConfig",
    "AgencyConfig",
    "BiasConfig",
    "CoverageGap",
    "DefectConfig",
    "EscalationConfig",
    "EventRatesConfig",
    "FamilyConfig",
    "GroupSelector",
    "PlacesConfig",
    "SyntheticConfig",
    "default_agencies",
    "load_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlacesConfig(_Model):
    """Neighbourhoods (LSOAs) and their deprivation."""

    people_per_lsoa: float = Field(1500.0, gt=0, description="Residents per LSOA.")
    children_share: float = Field(
        0.21, gt=0, lt=1, description="Share of residents aged 0-17 (sets the LSOA count)."
    )
    lsoas_per_sector: int = Field(4, ge=1, description="LSOAs per postcode sector.")
    decile_weights: tuple[float, ...] = Field(
        (1.0,) * 10,
        description="Relative number of LSOAs in IMD deciles 1 (most deprived) .. 10.",
    )
    postcode_area: str = Field("ZZ", description="Fake postcode area for sectors.")

    @model_validator(mode="after")
    def _ten_deciles(self) -> PlacesConfig:
        if len(self.decile_weights) != 10 or min(self.decile_weights) < 0:
            raise ValueError("places.decile_weights: give 10 non-negative weights")
        return self


class FamilyConfig(_Model):
    """Household composition and change."""

    children_per_family: tuple[float, ...] = Field(
        (0.42, 0.37, 0.14, 0.05, 0.02),
        description="P(1, 2, 3, 4, 5 children born into the family).",
    )
    birth_gap_years: tuple[float, float] = Field(
        (1.2, 6.0), description="Uniform range of years between siblings' births."
    )
    two_carers_least_deprived: float = Field(0.82, ge=0, le=1)
    two_carers_most_deprived: float = Field(0.55, ge=0, le=1)
    father_is_lone_carer: float = Field(0.08, ge=0, le=1, description="Share of lone fathers.")
    separation_per_year: float = Field(0.025, ge=0, description="Second carer leaves.")
    new_partner_per_year: float = Field(0.07, ge=0, description="Lone carer finds a partner.")
    partner_leaves_per_year: float = Field(0.10, ge=0)
    violent_partner_share: float = Field(
        0.25, ge=0, le=1, description="Share of new partners who are abusive (at mean adversity)."
    )
    grandparent_share: float = Field(0.15, ge=0, le=1)
    grandparent_in_household: float = Field(0.25, ge=0, le=1)
    moves_per_year: float = Field(0.09, ge=0, description="Household moves at mean adversity.")
    disability_share: float = Field(0.07, ge=0, le=1, description="Children with a disability.")
    ethnicity_mix: dict[str, float] = Field(
        {"White": 0.69, "Asian": 0.14, "Mixed": 0.07, "Black": 0.07, "Other": 0.025,
         "Unknown": 0.005},
        description="Major-group mix of the child population (DfE groups).",
    )
    ethnicity_deprivation_tilt: dict[str, float] = Field(
        {"White": 0.0, "Asian": 1.0, "Mixed": 0.6, "Black": 1.2, "Other": 0.6, "Unknown": 0.0},
        description="Log-odds tilt of each group towards deprived LSOAs (0 = none).",
    )


class AdversityConfig(_Model):
    """Latent family adversity: baseline + AR(1) drift + decaying shocks."""

    deprivation_gradient: float = Field(
        0.12, description="Mean baseline adversity per IMD decile step towards deprivation."
    )
    baseline_sd: float = Field(0.75, gt=0, description="SD of family baseline adversity.")
    drift_sd: float = Field(0.45, ge=0, description="Stationary SD of the AR(1) drift.")
    drift_rho: float = Field(0.96, ge=0, lt=1, description="Monthly AR(1) persistence.")
    shocks_per_year: float = Field(0.12, ge=0, description="Shock rate at mean deprivation.")
    shock_deprivation_ratio: float = Field(
        2.0, gt=0, description="Shock rate in decile 1 relative to decile 10."
    )
    shock_size: float = Field(0.9, ge=0, description="Adversity added by a shock.")
    shock_decay: float = Field(0.93, ge=0, lt=1, description="Monthly decay of shock load.")
    domain_sd: float = Field(
        0.8, ge=0, description="SD of each family's persistent propensity per problem domain."
    )
    domain_loading: dict[str, float] = Field(
        {"domestic_abuse": 0.8, "parental_mental_health": 0.8,
         "parental_substance_misuse": 0.7, "housing_crisis": 0.7, "adult_social_care": 0.4},
        description="How strongly each problem domain follows family adversity.",
    )
    violent_partner_load: float = Field(
        1.6, description="Domestic-abuse load of a violent partner.")
    child_sd: float = Field(0.8, ge=0, description="SD of child-level propensities.")
    unobserved_share: float = Field(
        0.25, ge=0, lt=1,
        description="Share of the escalation log-hazard variance from latent adversity that "
        "leaves no record (the 'latent_unrecorded' driver).",
    )
    unobserved_rho: float = Field(0.97, ge=0, lt=1)


class EscalationConfig(_Model):
    """Targets and coefficients of the escalation hazard (per 10,000 children a year)."""

    referrals_per_10k: float = Field(517.0, gt=0, description="Referrals a year (not UASC).")
    escalating_share: float = Field(
        0.122, gt=0, lt=1, description="Share of referrals that lead to a CP plan or care."
    )
    direct_care_share: float = Field(
        0.19, ge=0, le=1, description="Share of escalating referrals that go straight to care."
    )
    s47_given_non_escalating: float = Field(0.30, ge=0, le=1)
    icpc_given_non_escalating_s47: float = Field(0.07, ge=0, le=1)
    s47_given_direct_care: float = Field(0.45, ge=0, le=1)
    nfa_at_referral: float = Field(0.065, ge=0, le=1)
    not_in_need_after_assessment: float = Field(0.33, ge=0, le=1)
    care_after_cp_plan: float = Field(0.17, ge=0, le=1)
    step_down_to_early_help: float = Field(0.15, ge=0, le=1)
    uasc_per_10k: float = Field(5.6, ge=0, description="UASC arrivals a year.")
    rereferral_boost: float = Field(
        2.0, ge=0, description="Log-hazard boost of non-escalating referrals just after a "
        "referral closes, fading linearly over 12 months (re-referrals).")
    prior_plan_extra: float = Field(
        0.4, ge=0, description="Extra prior-history log-hazard for a child who has had a CP "
        "plan or been looked after (second plans).")
    incident_coef: dict[str, float] = Field(
        {"domestic_abuse": 0.9, "parental_mental_health": 0.6,
         "parental_substance_misuse": 0.6, "housing_crisis": 0.4, "adult_social_care": 0.3},
        description="Log-hazard per unit of a family's recent-incident load in each problem "
        "domain (the incidents agencies responded to: police call-outs, crisis contacts, "
        "housing crises); added to that domain's driver term.")
    incident_decay: float = Field(
        0.9, ge=0, lt=1, description="Monthly decay of the recent-incident load (0.9: an "
        "incident's weight halves in about 6.6 months).")
    need_scale_escalating: float = Field(1.0, gt=0, description="Slope of log-hazard on need.")
    need_scale_other: float = Field(0.55, gt=0)
    coef: dict[str, float] = Field(
        {"domestic_abuse": 0.25, "parental_mental_health": 0.20,
         "parental_substance_misuse": 0.20, "housing_crisis": 0.12, "adult_social_care": 0.10,
         "school_absence": 0.45, "missing_episodes": 0.45, "youth_offending": 0.30,
         "prior_csc_history": 0.8, "sibling_csc_history": 0.5, "deprivation": 0.55,
         "young_age": 2.3, "adolescence": 0.25, "early_help_engagement": 0.35,
         "stable_address": 0.2, "second_carer_support": 0.3},
        description="Log-hazard coefficient per driver (protective ones are subtracted); for "
        "the five problem domains, per unit of the domain's severity (the recent-incident "
        "load has its own coefficient, incident_coef).",
    )
    assessment_days_median: float = Field(46.0, gt=0, description="~33 working days.")
    s47_to_icpc_days_median: float = Field(20.0, gt=0, description="~14 working days.")
    cp_plan_days_median: float = Field(
        270.0, gt=0, description="~9 months; with the log-SD, mean ~10 months (stock ~250).")
    cp_plan_sigma: float = Field(0.5, gt=0, description="Log-SD (a few % of plans > 2 years).")
    care_days_mean: float = Field(1250.0, gt=0, description="Before the 18th-birthday cap.")
    care_sigma: float = Field(1.0, gt=0)
    cin_days_median: float = Field(150.0, gt=0)

    @model_validator(mode="after")
    def _incident_domains(self) -> EscalationConfig:
        domains = {"domestic_abuse", "parental_mental_health", "parental_substance_misuse",
                   "housing_crisis", "adult_social_care"}
        if set(self.incident_coef) != domains:
            raise ValueError(f"escalation.incident_coef: give one coefficient for each of "
                             f"{sorted(domains)}")
        return self


class EventRatesConfig(_Model):
    """Agency event base rates at mean adversity (per family or child per year)."""

    police_da_per_family: float = 0.146
    police_other_per_family: float = 0.06
    police_welfare_per_family: float = 0.03
    housing_per_family: float = 0.05
    temporary_accommodation_per_family: float = 0.014
    asc_per_family: float = 0.03
    mental_health_per_family: float = 0.08
    drug_alcohol_per_family: float = 0.03
    gp_concern_per_family: float = 0.04
    a_and_e_per_child: float = 0.28
    health_visiting_routine_per_infant: float = 2.0
    health_visiting_concern_per_infant: float = 0.06
    suspensions_per_pupil: float = 0.10
    permanent_exclusions_per_pupil: float = 0.0013
    missing_per_adolescent: float = 0.02
    missing_in_care_multiplier: float = 6.0
    youth_justice_per_adolescent: float = 0.004
    young_carer_per_child: float = 0.004
    early_help_per_family: float = 0.041
    contacts_per_da_child_present: float = 0.35
    absence_rate: float = Field(0.065, gt=0, lt=1, description="Mean share of sessions missed.")
    absence_sd: float = Field(0.75, ge=0, description="Logit SD of pupils' absence.")
    gradient: float = Field(
        0.9, ge=0, description="Log-rate increase of agency events per unit of domain severity."
    )


class AgencyConfig(_Model):
    """Coverage and recording lag of one agency's data."""

    accessibility: Literal["easy", "medium", "poor"]
    coverage: float = Field(ge=0, le=1, description="Share of families linked to this source.")
    linked_from_year: int = Field(
        0, ge=0, description="Years after the period start that the source was linked."
    )
    lag_days_median: float = Field(gt=0, description="Median recorded_at - event date.")
    lag_sigma: float = Field(0.8, ge=0, description="Log-SD of the recording lag.")


def default_agencies() -> dict[str, AgencyConfig]:
    """Coverage and lag per agency from seed 003's accessibility ratings.

    Returns
    -------
    dict of str to AgencyConfig
        Easy sources are well covered with short lags; poor ones patchy and late.
    """
    easy = {"csc": 1.0, "asc": 0.97, "police": 0.95, "school": 0.97, "youth_justice": 0.95,
            "acute_health": 0.85}
    medium = {"housing": 0.85, "early_help": 0.9, "early_years": 0.8}
    poor = {"adult_mental_health": 0.55, "drug_alcohol": 0.5, "gp": 0.45,
            "health_visiting": 0.6, "young_carers": 0.6}
    out: dict[str, AgencyConfig] = {}
    for name, cov in easy.items():
        out[name] = AgencyConfig(accessibility="easy", coverage=cov, lag_days_median=2.0)
    for name, cov in medium.items():
        out[name] = AgencyConfig(accessibility="medium", coverage=cov, lag_days_median=12.0,
                                 linked_from_year=1)
    for name, cov in poor.items():
        out[name] = AgencyConfig(accessibility="poor", coverage=cov, lag_days_median=40.0,
                                 lag_sigma=1.0, linked_from_year=3)
    out["csc"] = AgencyConfig(accessibility="easy", coverage=1.0, lag_days_median=1.0,
                              lag_sigma=0.7)
    return out


class GroupSelector(_Model):
    """A group of families: an ethnic major group or an IMD quintile (1 = most deprived)."""

    by: Literal["ethnicity", "imd_quintile"]
    value: str

    @model_validator(mode="after")
    def _valid_value(self) -> GroupSelector:
        groups = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")
        if self.by == "ethnicity" and self.value not in groups:
            raise ValueError(f"group value {self.value!r}: ethnicity must be one of {groups}")
        if self.by == "imd_quintile" and self.value not in {"1", "2", "3", "4", "5"}:
            raise ValueError(f"group value {self.value!r}: imd_quintile must be '1'..'5'")
        return self


class CoverageGap(_Model):
    """A group is less visible to one source."""

    group: GroupSelector
    source: str
    coverage_multiplier: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _known_source(self) -> CoverageGap:
        if self.source not in AGENCIES:
            raise ValueError(f"coverage gap source {self.source!r}: use one of {list(AGENCIES)}")
        return self


class BiasConfig(_Model):
    """Bias knobs, all off by default (groups then differ only through deprivation)."""

    surveillance_group: GroupSelector | None = Field(
        None, description="At equal adversity, this group's agency events are recorded more."
    )
    surveillance_multiplier: float = Field(1.0, gt=0)
    label_group: GroupSelector | None = Field(
        None, description="At equal need, this group's escalation is recorded more often."
    )
    label_multiplier: float = Field(1.0, gt=0)
    coverage_gaps: list[CoverageGap] = Field(default_factory=list)


class DefectConfig(_Model):
    """Data-quality defects injected after generation (for the loader to catch)."""

    rate: float = Field(0.001, ge=0, le=0.5, description="Share of rows given a defect.")
    kinds: list[str] = Field(
        default_factory=lambda: ["missing_code", "unknown_code", "duplicate_row",
                                 "end_before_start", "future_date", "orphan_person"]
    )


class SyntheticConfig(_Model):
    """Every knob of the synthetic LA. Defaults match England for a 60,000-child LA."""

    version: int = Field(1, description="Config format version.")
    children: int = Field(60_000, ge=100, description="Children aged 0-17 at the end date.")
    years: int = Field(10, ge=1, le=30, description="Years of records before the end date.")
    end_date: dt.date = Field(dt.date(2026, 3, 31), description="Reference (extract) date.")
    burn_in_years: int = Field(
        5, ge=0, description="Years simulated before the period so stocks and history exist."
    )
    seed: int = Field(1, ge=0)
    places: PlacesConfig = PlacesConfig()
    family: FamilyConfig = FamilyConfig()
    adversity: AdversityConfig = AdversityConfig()
    escalation: EscalationConfig = EscalationConfig()
    events: EventRatesConfig = EventRatesConfig()
    agencies: dict[str, AgencyConfig] = Field(default_factory=default_agencies)
    bias: BiasConfig = BiasConfig()
    defects: DefectConfig = DefectConfig()
    ground_truth_every_months: int = Field(
        1, ge=1, le=12, description="Write ground truth for every n-th month of the period."
    )

    @model_validator(mode="after")
    def _agencies_known(self) -> SyntheticConfig:
        unknown = sorted(set(self.agencies) - set(AGENCIES))
        if unknown:
            raise ValueError(f"agencies: unknown agency {unknown}; use {list(AGENCIES)}")
        missing = sorted(set(AGENCIES) - set(self.agencies))
        if missing:
            raise ValueError(f"agencies: missing {missing}; every agency needs coverage and lag")
        return self

    @property
    def start_date(self) -> dt.date:
        """First day of the period (``years`` before ``end_date``)."""
        e = self.end_date + dt.timedelta(days=1)
        return dt.date(e.year - self.years, e.month, e.day)


def load_config(path: Path | None = None, **overrides: object) -> SyntheticConfig:
    """Read a YAML config file (optional) and apply keyword overrides.

    Parameters
    ----------
    path : Path, optional
        YAML file whose keys are :class:`SyntheticConfig` fields.
    **overrides
        Top-level fields to set (e.g. ``children=1000``); ``None`` values are ignored.

    Returns
    -------
    SyntheticConfig

    Raises
    ------
    ValueError
        If the file is not a mapping or a key is invalid; the message names the file.
    """
    import yaml
    from pydantic import ValidationError

    data: dict = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a synthetic config must be a YAML mapping")
        data.update(loaded)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SyntheticConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path is not None else ""
        raise ValueError(f"{where}invalid synthetic config: {exc}") from exc
