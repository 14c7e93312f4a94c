"""Pipeline configuration: one YAML file = one reproducible experiment.

A pipeline file (``pipelines/*.yaml``) is validated here, in one place, by
pydantic models with ``extra="forbid"``. Every error names the file, the key
path and the bad value, and says what would be valid, e.g.::

    pipelines/demo.yaml: features.windows[2] = -30: a window must be a positive
    number of days

Sections: ``version``, ``name``, ``data``, ``cohort``, ``outcome``, ``as_of``,
``features``, ``model``, ``capacity``, ``pass_bar``, ``audit``, ``scoring``.
Checks that need the warehouse (an as-of range whose horizons are not complete
yet, an empty cohort) run when the features are built and name the key too.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "CONFIG_VERSION",
    "OUTCOME_EVENTS",
    "AUDIT_GROUPS",
    "PipelineConfigError",
    "PipelineConfig",
    "DataConfig",
    "SyntheticConfig",
    "CohortConfig",
    "OutcomeConfig",
    "AsOfConfig",
    "FeaturesConfig",
    "FeatureSpecConfig",
    "ConditionConfig",
    "ModelConfig",
    "LightGBMParams",
    "LogisticParams",
    "RuleBaselineConfig",
    "SplitsConfig",
    "CalibrationConfig",
    "EvaluationConfig",
    "AblationConfig",
    "CapacityConfig",
    "PassBarConfig",
    "AuditConfig",
    "ScoringConfig",
    "load_pipeline",
    "parse_pipeline",
    "config_hash",
]

CONFIG_VERSION = 1
"""The pipeline file format version this code reads."""

OUTCOME_EVENTS = ("cin_referral", "s47", "cp_plan", "cla")
"""Outcome events a pipeline can predict (read from the SSD tables by event date)."""

AUDIT_GROUPS = ("ethnicity", "sex", "age_band", "disability", "imd_quintile", "area")
"""Audit column groups (``audit_<group>`` in the feature table)."""

COHORTS = ("early_help", "known_to_services", "all_children")


class PipelineConfigError(ValueError):
    """A pipeline file is invalid; the message names the file and the key path.

    Attributes
    ----------
    problems : list of str
        One line per problem: ``"<file>: <key path> = <value>: <what is valid>"``.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive_window(v: int) -> int:
    if v <= 0:
        raise ValueError("a window must be a positive number of days")
    return v


Window = Annotated[int, AfterValidator(_positive_window)]


def _outcome_union(v: Any) -> Any:
    """Accept ``"cp_plan | cla"`` as well as ``[cp_plan, cla]``."""
    if isinstance(v, str):
        return [p.strip() for p in v.split("|") if p.strip()]
    return v


# --- data -----------------------------------------------------------------------------
class SyntheticConfig(_Section):
    """Settings for ``earlywarning generate`` when the pipeline builds its own synthetic LA."""

    children: int = Field(60_000, gt=0, description="Number of children in the synthetic LA")
    years: int = Field(8, gt=0, description="Years of history")
    end_date: date = Field(date(2026, 3, 31), description="Last day of the synthetic data")
    seed: int = 42
    out: Path = Path("data/synthetic/demo")


class DataConfig(_Section):
    """Where the linked data lives."""

    warehouse: Path = Path("data/warehouse.duckdb")
    synthetic: SyntheticConfig | None = None
    data_end: date | None = Field(
        None,
        description="Last day the data covers; default: the latest extract date in the "
        "warehouse (ext_source_metadata) or else the latest recorded_at",
    )


# --- cohort, outcome, as-of dates -----------------------------------------------------
class CohortConfig(_Section):
    """Who is scored at each as-of date."""

    name: Literal["early_help", "known_to_services", "all_children"] = "known_to_services"
    lookback_days: int = Field(
        365, gt=0, description="early_help / known_to_services: how far back a record counts"
    )


class OutcomeConfig(_Section):
    """What the model predicts: any of ``events`` within ``horizon_days`` after the as-of date."""

    events: Annotated[
        list[Literal["cin_referral", "s47", "cp_plan", "cla"]], BeforeValidator(_outcome_union)
    ] = Field(default_factory=lambda: ["cp_plan", "cla"], min_length=1)
    horizon_days: int = Field(365, gt=0)

    @field_validator("events")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each outcome event may appear once")
        return v

    @property
    def label(self) -> str:
        """The outcome written as a union, e.g. ``"cp_plan | cla"``."""
        return " | ".join(self.events)


class AsOfConfig(_Section):
    """As-of dates: ``start``..``end`` every ``frequency`` for training, plus ``score``.

    Training dates must have complete horizons (checked against the data when
    features are built). ``score`` is the latest as-of date, scored without label.
    """

    start: date
    end: date
    frequency: Literal["weekly", "monthly", "quarterly", "yearly"] = "monthly"
    score: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AsOfConfig:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if self.score is not None and self.score <= self.end:
            raise ValueError(
                f"score ({self.score}) must be after the last training as-of date ({self.end})"
            )
        return self


# --- features ------------------------------------------------------------------------
class ConditionConfig(_Section):
    """One filter condition of a declared feature spec (values are bound, never pasted)."""

    column: str
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "is_null", "not_null"] = "eq"
    value: str | int | float | list[str | int | float] | None = None
    json_key: str | None = Field(None, description="For JSON columns: the key to compare")


class FeatureSpecConfig(_Section):
    """A feature spec declared in the pipeline file (beside the built-in library)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str
    aggregate: Literal["count", "any", "sum", "max", "mean", "ratio", "days_since_last", "open"]
    subject: Literal["child", "household", "parents", "siblings"] = "child"
    where: list[ConditionConfig] = Field(default_factory=list)
    value: str | None = None
    denominator: str | None = None
    windows: list[Window] | None = None
    direction: Literal["risk", "protective", "coverage", "context"] = "risk"
    meaning: str
    agency: str | None = None


class FeaturesConfig(_Section):
    """Which features to build from the declared spec library, and where to write them."""

    windows: list[Window] = Field(default_factory=lambda: [90, 365, 1095], min_length=1)
    sources: list[str] | None = Field(
        None, description="Agency codes to use (default: every agency in the schema)"
    )
    groups: list[str] | None = Field(None, description="Spec groups to use (default: all)")
    exclude: list[str] = Field(default_factory=list, description="Spec names to leave out")
    specs: list[FeatureSpecConfig] = Field(default_factory=list)
    coverage_indicators: bool = True
    protected_as_features: bool = False
    protected_justification: str | None = None
    output_dir: Path = Path("data/features")

    @field_validator("windows")
    @classmethod
    def _distinct_windows(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("windows must be distinct")
        return v

    @model_validator(mode="after")
    def _protected_needs_reason(self) -> FeaturesConfig:
        if self.protected_as_features and not (self.protected_justification or "").strip():
            raise ValueError(
                "protected_as_features is true but protected_justification is empty: say why "
                "(the model card repeats it)"
            )
        return self


# --- later stages (other issues extend these) -------------------------------------------
class LightGBMParams(_Section):
    """Hyper-parameters of the LightGBM model (``model.lightgbm``)."""

    n_estimators: int = Field(300, gt=0)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    max_bin: int = Field(63, ge=2, le=255, description="Histogram bins per feature")
    n_jobs: int | None = Field(None, description="Threads; default: 1 below 2M cells, else all")


class LogisticParams(_Section):
    """L2 logistic regression (``model.logistic``): median-imputed, log-scaled, standardised."""

    C: float = Field(1.0, gt=0, description="Inverse L2 penalty strength")
    max_iter: int = Field(1000, gt=0)
    log_counts: bool = True


def _default_rule_points() -> dict[str, float]:
    return {
        "police_da_*_parent_count_365d": 1.0,
        "referrals_count_365d": 1.0,
        "cp_plans_previous_count_ever": 2.0,
        "care_episodes_previous_count_ever": 2.0,
    }


class RuleBaselineConfig(_Section):
    """The points rule (``model.rule_baseline``): feature-name pattern → points per unit."""

    points: dict[str, float] = Field(default_factory=_default_rule_points, min_length=1)
    cap: float | None = Field(3.0, gt=0, description="Largest value counted per feature")


class SplitsConfig(_Section):
    """Rolling-origin temporal splits (``model.splits``)."""

    test_period_dates: int = Field(3, ge=1, description="As-of dates in each test block")
    n_folds: int = Field(2, ge=1, description="Folds; the last is the held-out final period")
    test_family_fraction: float = Field(0.3, gt=0, lt=1)
    min_train_dates: int = Field(3, ge=1)


class CalibrationConfig(_Section):
    """Calibration on the latest slice of training time, cross-fitted by family."""

    method: Literal["isotonic", "sigmoid", "none"] = "isotonic"
    fraction: float = Field(0.25, gt=0, lt=1, description="Share of training dates")
    family_folds: int = Field(
        5, ge=2, le=20, description="Calibration rows are scored by models fitted without "
        "their family (cross-fitting over this many family folds), as unseen families are")


class EvaluationConfig(_Section):
    """Evaluation settings (``model.evaluation``)."""

    bootstrap: int = Field(200, ge=0, description="Family-cluster bootstrap replicates")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    calibration_bins: int = Field(10, ge=2)
    truth_fitted: bool = Field(
        True, description="With synthetic ground truth, also fit the LightGBM model to the true "
        "probability instead of outcomes (same features and settings): how much of the oracle "
        "these features can carry, reported beside the models")


class AblationConfig(_Section):
    """Data-source ablation (``model.ablation``): retrain without each agency's features."""

    enabled: bool = Field(True, description="`earlywarning run` also runs the ablation")
    max_train_rows: int | None = Field(
        50_000, gt=0, description="Retrain on a seeded sample of training families of about "
        "this many rows (full model and each ablated one alike); null for all rows")
    bootstrap: int | None = Field(
        None, ge=0, description="Bootstrap replicates for the ablation's CIs "
        "(default model.evaluation.bootstrap)")


def _ablation_switch(v: Any) -> Any:
    """Accept ``ablation: true`` as shorthand for ``ablation: {enabled: true}``."""
    return {"enabled": v} if isinstance(v, bool) else v


class ModelConfig(_Section):
    """Model training settings: the candidate, comparators, splits, calibration, evaluation.

    The points rule and the no-skill prevalence model are always trained as baselines.
    """

    candidate: Literal["lightgbm", "logistic"] = "lightgbm"
    algorithms: list[Literal["lightgbm", "logistic"]] = Field(
        default_factory=lambda: ["lightgbm", "logistic"], min_length=1,
        description="Models trained and compared (the candidate is always one)",
    )
    seed: int = 42
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)
    logistic: LogisticParams = Field(default_factory=LogisticParams)
    rule_baseline: RuleBaselineConfig = Field(default_factory=RuleBaselineConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    ablation: Annotated[AblationConfig, BeforeValidator(_ablation_switch)] = Field(
        default_factory=lambda: AblationConfig())


class CapacityConfig(_Section):
    """What the service can act on."""

    flags_per_month: int = Field(50, gt=0)


class PassBarConfig(_Section):
    """Pre-registered bar a candidate model must clear before registration.

    Precision and recall at capacity are judged on the worst case of ties at the
    cut-off; ``must_beat_rule_baseline`` compares PR-AUC with the points rule's. A
    field left empty (null) is not checked; at least one must be set.
    """

    min_precision_at_capacity: float | None = Field(0.3, ge=0, le=1)
    min_recall_at_capacity: float | None = Field(None, ge=0, le=1)
    max_calibration_error: float | None = Field(
        0.05, gt=0, le=1, description="Expected calibration error (equal-count bins)")
    min_roc_auc: float | None = Field(None, ge=0, le=1)
    min_pr_auc_lift_over_base_rate: float | None = Field(None, ge=1)
    must_beat_rule_baseline: bool = True

    @model_validator(mode="after")
    def _something_to_check(self) -> PassBarConfig:
        bars = (self.min_precision_at_capacity, self.min_recall_at_capacity,
                self.max_calibration_error, self.min_roc_auc,
                self.min_pr_auc_lift_over_base_rate)
        if all(b is None for b in bars) and not self.must_beat_rule_baseline:
            raise ValueError("a pass bar must check at least one metric")
        if self.min_precision_at_capacity == 1.0 and self.min_recall_at_capacity == 1.0:
            raise ValueError(
                "min_precision_at_capacity = 1 and min_recall_at_capacity = 1 together require "
                "capacity to equal the number of escalations exactly every month: impossible"
            )
        return self


AuditGroup = Literal["ethnicity", "sex", "age_band", "disability", "imd_quintile", "area"]
AUDIT_BAR_METRICS = ("selection_rate", "false_positive_rate", "false_negative_rate", "precision",
                     "recall", "auc", "base_rate", "mean_predicted", "calibration_gap", "ece")


class AuditOwnerConfig(_Section):
    """Who is accountable for the tool (ATRS Tier 1 and 2 section 1); empty = not yet recorded."""

    organisation: str = ""
    team: str = ""
    senior_responsible_owner: str = ""
    contact_email: str = ""
    website: str = ""


class AuditConfig(_Section):
    """Fairness audit (``earlywarning audit``): groups, reference groups, bar, bootstrap."""

    owner: AuditOwnerConfig = Field(default_factory=AuditOwnerConfig)

    groups: list[AuditGroup] = (
        Field(default_factory=lambda: ["ethnicity", "sex", "age_band", "disability",
                                       "imd_quintile"])
    )
    intersections: list[tuple[AuditGroup, AuditGroup]] = Field(
        default_factory=lambda: [("ethnicity", "imd_quintile"), ("ethnicity", "sex")],
        description="Pairs of groups audited jointly (e.g. ethnicity x deprivation)")
    reference_groups: dict[AuditGroup, str] = Field(
        default_factory=dict, description="Reference group per attribute (default: largest)")
    min_group_size: int = Field(50, gt=0)
    min_events: int = Field(
        10, gt=0, description="Fewest children in a rate's denominator for it to be shown")
    bootstrap_replicates: int = Field(1000, ge=100)
    seed: int = 0
    ci_level: float = Field(0.95, gt=0.5, lt=1)
    bar: dict[str, float] = Field(
        default_factory=lambda: {"calibration_gap": 0.03, "auc": 0.10},
        description="Pre-registered fairness bar: largest allowed absolute difference from "
                    "the reference group, per metric")

    @model_validator(mode="after")
    def _consistent(self) -> AuditConfig:
        for a, b in self.intersections:
            if a not in self.groups or b not in self.groups or a == b:
                raise ValueError(f"intersections: ({a}, {b}) must pair two different audited "
                                 f"groups; audited groups: {self.groups}")
        for g in self.reference_groups:
            if g not in self.groups:
                raise ValueError(f"reference_groups.{g}: {g} is not an audited group; "
                                 f"audited groups: {self.groups}")
        for m, v in self.bar.items():
            if m not in AUDIT_BAR_METRICS:
                raise ValueError(f"bar.{m}: unknown metric; known: {list(AUDIT_BAR_METRICS)}")
            if not 0 <= v <= 1:
                raise ValueError(f"bar.{m} = {v}: a limit must be between 0 and 1")
        return self


class ScoringConfig(_Section):
    """Scoring the latest as-of date."""

    as_of: Literal["latest"] | date = "latest"
    top_reasons: int = Field(3, gt=0)
    bands: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.30, "medium": 0.10},
        description="Lower probability bound of each band, highest first",
    )


class PipelineConfig(_Section):
    """A whole pipeline file."""

    version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    cohort: CohortConfig = Field(default_factory=CohortConfig)
    outcome: OutcomeConfig = Field(default_factory=OutcomeConfig)
    as_of: AsOfConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    pass_bar: PassBarConfig = Field(default_factory=PassBarConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)


# --- loading and errors --------------------------------------------------------------------
def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Return the pydantic model holding the key at ``loc`` (to list its valid keys)."""
    model: Any = PipelineConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        for a in list(candidates):
            candidates += list(getattr(a, "__args__", ()))
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model


def _explain(err: dict[str, Any]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        holder = _model_at(loc)
        valid = sorted(holder.model_fields) if holder else []
        return f"unknown key; valid keys here: {', '.join(valid)}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return re.sub(r"^(Value error|Assertion failed), ", "", msg)


def parse_pipeline(data: Any, source: str = "<pipeline>") -> PipelineConfig:
    """Validate an already-parsed pipeline mapping.

    Parameters
    ----------
    data : mapping
        The parsed YAML document.
    source : str
        File name used in error messages.

    Returns
    -------
    PipelineConfig

    Raises
    ------
    PipelineConfigError
        One line per problem, each naming ``source``, the key path and the value.
    """
    if not isinstance(data, dict):
        raise PipelineConfigError([f"{source}: the file must be a YAML mapping of sections"])
    version = data.get("version")
    if version is not None and version != CONFIG_VERSION:
        raise PipelineConfigError(
            [f"{source}: version = {version!r}: this earlywarning reads version {CONFIG_VERSION}"]
        )
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            where = _key_path(loc)
            value = err.get("input")
            scalar = not isinstance(value, dict | list)
            shown = f" = {value!r}" if scalar and err["type"] not in (
                "extra_forbidden", "missing") else ""
            problems.append(f"{source}: {where}{shown}: {_explain(err)}")
        raise PipelineConfigError(problems) from exc
    from earlywarning.features.specs import check_pipeline_specs

    problems = [f"{source}: {p}" for p in check_pipeline_specs(cfg)]
    if problems:
        raise PipelineConfigError(problems)
    return cfg


def load_pipeline(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file.

    Parameters
    ----------
    path : str or Path
        The pipeline file, e.g. ``pipelines/demo.yaml``.

    Returns
    -------
    PipelineConfig

    Raises
    ------
    PipelineConfigError
        If the file is missing, is not YAML, or any key is invalid; the message
        names the file and the key path, e.g. ``"pipelines/demo.yaml:
        features.windows[2] = -30: a window must be a positive number of days"``.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineConfigError([f"{path}: no such pipeline file"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PipelineConfigError([f"{path}: not valid YAML: {exc}"]) from exc
    return parse_pipeline(data, source=str(path))


def config_hash(cfg: PipelineConfig) -> str:
    """Return a stable SHA-256 hex digest of the validated configuration.

    The hash covers every section after defaults are filled in, so two files
    that differ only in comments, key order or spelled-out defaults hash alike.

    Parameters
    ----------
    cfg : PipelineConfig

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    canonical = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
