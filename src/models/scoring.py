"""Scoring: explained, calibrated flags for one as-of date, within capacity.

``score(cfg, as_of)`` builds the cohort's features at the as-of date, loads the
approved model (MLflow alias ``champion``; ``candidate`` only when asked, for
testing), and writes the top ``capacity.flags_per_month`` children by risk as
flags, each with its calibrated absolute risk, a band a person can read
("about 1 in 5"), its rank, the model version, reasons for and against
(:mod:`earlywarning.models.explain`) and provenance (which sources the flag
saw, their extract dates, this child's coverage, and the model's known limits).

Outputs, written only when everything has been computed:

- warehouse tables ``flags``, ``flag_reasons``, ``flag_provenance``, replaced
  for this pipeline's model and as-of date in **one transaction** (on any
  error the previous flags stay);
- the same as Parquet under ``runs/<pipeline>/scoring/<as_of>/`` (written to a
  temporary folder, then renamed), with the SHAP values and reasons of a
  random sample of children who were not flagged (for global importance);
- an MLflow run in the model's experiment with those files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from earlywarning.models._flag_store import (
    FLAG_COLUMNS,
    REASON_TABLE_COLUMNS,
    write_flags_to_warehouse,
    write_parquet,
)
from earlywarning.models._provenance import (
    PROVENANCE_COLUMNS,
    extract_dates,
    flag_provenance,
    model_limits,
)
from earlywarning.models._registry_io import (
    LoadedModel,
    ScoringError,
    build_features_for,
    load_dictionary_for,
    load_scoring_model,
    resolve_config,
)
from earlywarning.models.explain import (
    BIAS_COLUMN,
    FeatureDictionary,
    ReasonSettings,
    explain,
    model_feature_names,
    predict_risk,
)

__all__ = [
    "FLAG_COLUMNS",
    "REASON_TABLE_COLUMNS",
    "PROVENANCE_COLUMNS",
    "ScoringError",
    "ScoringResult",
    "build_features_for",
    "load_dictionary_for",
    "load_scoring_model",
    "preview",
    "resolve_as_of",
    "risk_band",
    "select_flags",
    "score",
    "score_features",
    "write_flags_to_warehouse",
]


ERR_NO_ROWS = (
    "no cohort rows at as-of date {as_of} for pipeline {name!r}: the data has no children "
    "to score on that date ({detail}); pick an as-of date the warehouse covers"
)
ERR_OTHER_CONFIG = (
    "{path}: the feature table was built from another config (manifest config_hash {found}, "
    "pipeline {name!r} hashes to {expected}); rebuild it with `earlywarning features`"
)

# Natural frequencies a reader can picture, nearest on the log-odds scale.
_FRACTIONS = ((99, 100), (49, 50), (19, 20), (9, 10), (3, 4), (1, 2), (1, 3), (1, 4), (1, 5),
              (1, 10), (1, 20), (1, 50), (1, 100))


def risk_band(risk: np.ndarray | list[float], levels: dict[str, float] | None = None) -> np.ndarray:
    """Readable band of an absolute risk: ``"about 1 in 5"``.

    The risk is rounded to the nearest of 99 in 100, 49 in 50, 19 in 20,
    9 in 10, 3 in 4, 1 in 2, 1 in 3, 1 in 4, 1 in 5, 1 in 10, 1 in 20, 1 in 50
    and 1 in 100 on the log-odds scale; below 1 in 150 it reads ``"fewer than
    1 in 100"`` and above 149 in 150 ``"more than 99 in 100"``, so a risk near
    certainty is never shown as "about 3 in 4". With ``levels`` (the
    pipeline's ``scoring.bands``, lower bound of each level) the level is
    appended: ``"about 1 in 3 (high)"``; risks below every bound are ``low``.

    Parameters
    ----------
    risk : array-like of float
        Calibrated probabilities in [0, 1].
    levels : dict of str to float, optional
        Level name to its lower probability bound.

    Returns
    -------
    ndarray of str

    Examples
    --------
    >>> list(risk_band([0.19, 0.52, 0.004, 0.96]))
    ['about 1 in 5', 'about 1 in 2', 'fewer than 1 in 100', 'about 19 in 20']
    """
    r = np.clip(np.asarray(risk, dtype=np.float64), 1e-6, 1 - 1e-6)
    logit = np.log(r / (1 - r))
    anchors = np.array([a / b for a, b in _FRACTIONS])
    nearest = np.abs(logit[:, None] - np.log(anchors / (1 - anchors))[None, :]).argmin(axis=1)
    text = np.array([f"about {a} in {b}" for a, b in _FRACTIONS], dtype=object)[nearest]
    text[r < 1 / 150] = "fewer than 1 in 100"
    text[r > 149 / 150] = "more than 99 in 100"
    if levels:
        ordered = sorted(levels.items(), key=lambda kv: -kv[1])
        level = np.full(len(r), "low", dtype=object)
        for name, bound in reversed(ordered):
            level[r >= bound] = name
        text = np.array([f"{t} ({lv})" for t, lv in zip(text, level, strict=True)], dtype=object)
    return text


def select_flags(risk: np.ndarray, capacity: int, tiebreak: np.ndarray | None = None,
                 ids: np.ndarray | None = None) -> np.ndarray:
    """Row positions of the top ``capacity`` children by risk, in rank order.

    Ties in calibrated risk (isotonic calibration is a step function) are
    broken by the model's raw score (``tiebreak``), then by id, so the order is
    the model's and does not depend on row order.

    Parameters
    ----------
    risk : ndarray
        Calibrated risk per row.
    capacity : int
        How many flags the service can act on.
    tiebreak : ndarray, optional
        Raw score per row (same order as ``risk``).
    ids : ndarray, optional
        Person ids, the last tie-break.

    Returns
    -------
    ndarray of int
    """
    n = len(risk)
    k = min(capacity, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    # Only rows at or above the k-th risk can be flagged: sort just those.
    kth = np.partition(risk, n - k)[n - k]
    cand = np.flatnonzero(risk >= kth)
    keys = [risk[cand]]
    if tiebreak is not None:
        keys.insert(0, np.asarray(tiebreak)[cand])
    if ids is not None:
        keys.insert(0, -pd.Index(np.asarray(ids)[cand]).argsort().argsort())
    order = np.lexsort(tuple(keys))[::-1]
    return cand[order][:k]


def _raw_score(model: Any, features: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "ranking_score"):
        X = features[model_feature_names(model)]
        return np.asarray(model.ranking_score(X), dtype=np.float64)
    from earlywarning.models.explain import raw_scores

    return raw_scores(model, features)


def _flag_ids(pipeline: str, as_of: dt.date, person_ids: pd.Series) -> list[str]:
    def one(pid: str) -> str:
        digest = hashlib.sha256(f"{pipeline}|{as_of.isoformat()}|{pid}".encode()).hexdigest()
        return f"F{as_of:%Y%m}-{digest[:16]}"

    return [one(p) for p in person_ids.astype(str)]


@dataclass(frozen=True)
class ScoringResult:
    """What one scoring run produced.

    Attributes
    ----------
    flags, reasons, provenance : DataFrame
        The three tables (Flags contract).
    sample_reasons : DataFrame
        Reasons for a random sample of children who were not flagged.
    contributions : DataFrame
        SHAP log-odds of flagged and sampled children (``person_id``,
        ``flagged``, one column per feature, ``bias``).
    out_dir : Path or None
        The Parquet folder (None when not written).
    mlflow_run_id : str or None
        The MLflow run that logged the outputs.
    model_alias : str
        ``champion`` (approved) or ``candidate`` (testing only).
    """

    flags: pd.DataFrame
    reasons: pd.DataFrame
    provenance: pd.DataFrame
    sample_reasons: pd.DataFrame
    contributions: pd.DataFrame
    out_dir: Path | None = None
    mlflow_run_id: str | None = None
    model_alias: str = ""


def score_features(
    model: Any,
    features: pd.DataFrame,
    dictionary: FeatureDictionary,
    *,
    pipeline: str,
    capacity: int,
    model_name: str = "",
    model_version: str = "",
    run_id: str = "",
    bands: dict[str, float] | None = None,
    settings: ReasonSettings | None = None,
    sample_size: int = 500,
    seed: int = 0,
    extracts: pd.DataFrame | None = None,
    limits: list[str] | None = None,
) -> ScoringResult:
    """Score one as-of date's feature rows and explain the flags (no writing).

    Parameters
    ----------
    model : object
        The fitted (calibrated) model.
    features : DataFrame
        Feature rows for one as-of date (feature-table contract).
    dictionary : FeatureDictionary
        Describes the model's features.
    pipeline : str
        Pipeline name (part of each flag id).
    capacity : int
        Flags to write (``capacity.flags_per_month``).
    model_name, model_version, run_id : str
        Registered model name, version and training run, copied to each flag.
    bands : dict, optional
        ``scoring.bands`` levels for :func:`risk_band`.
    settings : ReasonSettings, optional
        Reason counts.
    sample_size : int
        Children not flagged whose SHAP values and reasons are also kept.
    seed : int
        Seed of that sample.
    extracts : DataFrame, optional
        Latest extract per agency (:func:`extract_dates`).
    limits : list of str, optional
        The model's known limits (provenance rows for agency ``model``).

    Returns
    -------
    ScoringResult
    """
    dates = pd.to_datetime(features["as_of"]).unique()
    if len(dates) != 1:
        raise ValueError(f"score_features expects one as-of date, got {len(dates)}")
    if capacity < 1:
        raise ValueError(f"capacity.flags_per_month = {capacity}: must be at least 1")
    as_of = pd.Timestamp(dates[0]).date()
    features = features.reset_index(drop=True)
    risk = predict_risk(model, features)
    # The raw score only matters among rows tied at or above the cut-off.
    cut = max(len(risk) - capacity, 0)
    cutoff_rows = risk >= np.partition(risk, cut)[cut]
    tiebreak = np.zeros(len(risk))
    tiebreak[cutoff_rows] = _raw_score(model, features.loc[cutoff_rows])
    chosen = select_flags(risk, capacity, tiebreak, features["person_id"].to_numpy())
    flagged = features.iloc[chosen]
    created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    flags = pd.DataFrame({
        "flag_id": _flag_ids(pipeline, as_of, flagged["person_id"]),
        "person_id": flagged["person_id"].astype(str).to_numpy(),
        "family_id": flagged["family_id"].astype(str).to_numpy(),
        "as_of": as_of,
        "risk": risk[chosen],
        "band": risk_band(risk[chosen], bands),
        "rank": np.arange(1, len(chosen) + 1, dtype=np.int64),
        "model_name": model_name, "model_version": str(model_version), "run_id": run_id,
        "created_at": created,
    })
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(len(features)), chosen)
    sampled = np.sort(rng.choice(others, size=min(sample_size, len(others)), replace=False))
    rows = features.iloc[np.concatenate([chosen, sampled])].copy()
    rows["_key"] = np.concatenate([flags["flag_id"].to_numpy(),
                                   rows["person_id"].iloc[len(chosen):].astype(str).to_numpy()])
    exp = explain(model, rows, dictionary, key="_key", settings=settings)
    is_flag = exp.reasons["key"].isin(set(flags["flag_id"]))
    reasons = exp.reasons[is_flag].rename(columns={"key": "flag_id"})
    sample_reasons = exp.reasons[~is_flag].rename(columns={"key": "person_id"})
    contrib = exp.contributions.reset_index(drop=True)
    contrib.insert(0, "flagged", np.arange(len(rows)) < len(chosen))
    contrib.insert(0, "person_id", rows["person_id"].astype(str).to_numpy())
    feature_cols = [c for c in exp.contributions.columns if c != BIAS_COLUMN]
    provenance = flag_provenance(
        flags["flag_id"].to_numpy(), flagged.reset_index(drop=True), feature_cols,
        exp.contributions.iloc[: len(chosen)][feature_cols].to_numpy(), dictionary,
        extracts, limits or [])
    return ScoringResult(flags=flags, reasons=reasons.reset_index(drop=True),
                         provenance=provenance,
                         sample_reasons=sample_reasons.reset_index(drop=True),
                         contributions=contrib)


def resolve_as_of(cfg: Any, as_of: str | None) -> dt.date:
    """Return the as-of date to score: ``as_of``, else ``scoring.as_of``, else the latest.

    ``latest`` means the pipeline's ``as_of.score`` date, else the latest date
    of its feature table.
    """
    if as_of:
        try:
            return dt.date.fromisoformat(as_of)
        except ValueError as exc:
            raise ValueError(f"--as-of = {as_of!r}: expected a date like 2026-03-31") from exc
    if isinstance(cfg.scoring.as_of, dt.date):
        return cfg.scoring.as_of
    if cfg.as_of.score is not None:
        return cfg.as_of.score
    manifest = Path(cfg.features.output_dir) / cfg.name / "manifest.json"
    if manifest.exists():
        dates = [d["date"] for d in json.loads(manifest.read_text())["as_of_dates"]]
        if dates:
            return dt.date.fromisoformat(max(dates))
    raise ValueError(f"{cfg.name}: no as-of date to score: pass --as-of, or set as_of.score "
                     "in the pipeline file")


def preview(
    pipeline_cfg: Any,
    as_of: str | dt.date,
    allow_candidate: bool = False,
    *,
    features: pd.DataFrame | None = None,
    tracking_uri: str | None = None,
) -> tuple[ScoringResult, LoadedModel, pd.DataFrame]:
    """Compute the flags, reasons and provenance at ``as_of`` without writing anything.

    Parameters
    ----------
    pipeline_cfg, as_of, allow_candidate, features, tracking_uri
        As for :func:`score`.

    Returns
    -------
    (ScoringResult, LoadedModel, DataFrame)
        The result, the model it used and the scored feature rows.

    Raises
    ------
    ScoringError
        No approved model, features from another config, or no rows at ``as_of``.
    """
    cfg = resolve_config(pipeline_cfg)
    as_of = dt.date.fromisoformat(str(as_of)) if not isinstance(as_of, dt.date) else as_of
    loaded = load_scoring_model(cfg.name, allow_candidate, tracking_uri)
    if features is None:
        features = build_features_for(cfg, as_of)
    rows = features[pd.to_datetime(features["as_of"]).dt.date == as_of]
    if rows.empty:
        have = sorted({str(d) for d in pd.to_datetime(features["as_of"]).dt.date})
        raise ScoringError(ERR_NO_ROWS.format(
            as_of=as_of, name=cfg.name,
            detail=f"feature rows exist for {', '.join(have[:6])}" if have else "none built"))
    dictionary = load_dictionary_for(cfg, loaded)
    result = score_features(
        loaded.model, rows, dictionary, pipeline=cfg.name, capacity=cfg.capacity.flags_per_month,
        model_name=loaded.name, model_version=loaded.version, run_id=loaded.run_id,
        bands=dict(cfg.scoring.bands), settings=ReasonSettings(n_risk=cfg.scoring.top_reasons),
        seed=cfg.model.seed, extracts=extract_dates(Path(cfg.data.warehouse)),
        limits=model_limits(loaded, cfg))
    return ScoringResult(**{**result.__dict__, "model_alias": loaded.alias}), loaded, rows


def score(
    pipeline_cfg: Any,
    as_of: str | dt.date,
    allow_candidate: bool = False,
    *,
    features: pd.DataFrame | None = None,
    runs_dir: str | Path = "runs",
    tracking_uri: str | None = None,
    log_to_mlflow: bool = True,
) -> ScoringResult:
    """Score the cohort at ``as_of`` with the approved model and write the flags.

    Parameters
    ----------
    pipeline_cfg : PipelineConfig or str or Path
        The validated pipeline (or its YAML path).
    as_of : str or date
        The as-of date to score (ISO text or date).
    allow_candidate : bool
        Use the ``candidate`` alias when there is no ``champion`` (testing
        only; a candidate has not been approved by an ethics board).
    features : DataFrame, optional
        Pre-built feature rows for ``as_of``; by default they are built from
        the warehouse with the features stage.
    runs_dir : str or Path
        Root of run folders; Parquet goes to ``<runs_dir>/<pipeline>/scoring/<as_of>/``.
    tracking_uri : str, optional
        MLflow tracking URI (default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    log_to_mlflow : bool
        Log the outputs as an MLflow run in the model's experiment.

    Returns
    -------
    ScoringResult

    Raises
    ------
    ScoringError
        No approved model, features from another config, or no rows at
        ``as_of``; nothing is written and the previous flags stay.
    """
    cfg = resolve_config(pipeline_cfg)
    as_of = dt.date.fromisoformat(str(as_of)) if not isinstance(as_of, dt.date) else as_of
    result, loaded, _ = preview(cfg, as_of, allow_candidate, features=features,
                                tracking_uri=tracking_uri)
    warehouse = Path(cfg.data.warehouse)
    out_dir = Path(runs_dir) / cfg.name / "scoring" / as_of.isoformat()
    run_id = None
    with tempfile.TemporaryDirectory() as staging:
        staged = Path(staging) / as_of.isoformat()
        write_parquet(staged, result)
        if log_to_mlflow:
            from earlywarning.models._registry_io import log_scoring_run

            run_id = log_scoring_run(loaded, staged, result, as_of, cfg, tracking_uri)
        try:
            write_flags_to_warehouse(warehouse, result)
        except Exception:
            if run_id is not None:
                from mlflow import MlflowClient

                MlflowClient(tracking_uri=loaded.tracking_uri).set_terminated(run_id, "FAILED")
            raise
        write_parquet(out_dir, result)
    return ScoringResult(**{**result.__dict__, "out_dir": out_dir, "mlflow_run_id": run_id,
                            "model_alias": loaded.alias})
