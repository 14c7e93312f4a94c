"""Scoring's inputs and MLflow outputs: the approved model, its dictionary, features.

Kept apart from :mod:`earlywarning.models.scoring` so the scoring logic reads
without MLflow plumbing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from earlywarning.models._reasons import FeatureDictionary
from earlywarning.models._tracking import registered_model_name, using_store

__all__ = [
    "ERR_NO_APPROVED",
    "LoadedModel",
    "ScoringError",
    "build_features_for",
    "load_dictionary_for",
    "load_scoring_model",
    "log_scoring_run",
    "registered_model_name",
    "resolve_config",
    "tracking_uri_or_default",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

ERR_NO_APPROVED = (
    "no approved model: registered model {name!r} has no 'champion' alias in {uri}. An ethics "
    "board approves a model with `earlywarning approve RUN_DIR --decision approve`; to test "
    "scoring with an unapproved model pass --allow-candidate"
)
ERR_NO_CANDIDATE = (
    "no model to score with: registered model {name!r} has neither a 'champion' nor a "
    "'candidate' alias in {uri}; train one with `earlywarning run` (it must meet the pass bar)"
)
ERR_NO_DICTIONARY = (
    "no feature dictionary for model {name!r} version {version}: not among the training run's "
    "MLflow artifacts and not at {path}; rebuild the features with `earlywarning features`"
)


class ScoringError(RuntimeError):
    """Scoring cannot go ahead; the message names what is missing. Nothing was written."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version loaded for scoring.

    Attributes
    ----------
    model : object
        The fitted (calibrated) model.
    name, version, alias, run_id : str
        Registered name, version, the alias it was found by and its training run.
    experiment_id : str
        The training run's experiment (scoring runs are logged beside it).
    tracking_uri : str
        Where it was found.
    tags : dict
        The model version's tags.
    """

    model: Any
    name: str
    version: str
    alias: str
    run_id: str
    experiment_id: str
    tracking_uri: str
    tags: dict[str, str] = field(default_factory=dict)


def tracking_uri_or_default(uri: str | None = None) -> str:
    """Return the MLflow tracking URI: ``uri``, else ``MLFLOW_TRACKING_URI``, else local SQLite."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def resolve_config(pipeline_cfg: Any) -> Any:
    """Accept a validated ``PipelineConfig`` or a path to its YAML file."""
    if isinstance(pipeline_cfg, (str, Path)):
        from earlywarning.config import load_pipeline

        return load_pipeline(pipeline_cfg)
    return pipeline_cfg


def _version_by_alias(client: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _require_champion_gate(name: str, uri: str) -> None:
    """Refuse a champion without an ethics board approval record (the fairness gate)."""
    from earlywarning.fairness import require_champion

    try:
        require_champion(name, tracking_uri=uri)
    except (PermissionError, ValueError) as exc:
        raise ScoringError(str(exc)) from exc


def load_scoring_model(pipeline: str, allow_candidate: bool = False,
                       tracking_uri: str | None = None) -> LoadedModel:
    """Load the pipeline's approved model (alias ``champion``).

    Parameters
    ----------
    pipeline : str
        Pipeline name; the registered model is ``earlywarning-<pipeline>``.
    allow_candidate : bool
        Fall back to the ``candidate`` alias (testing only).
    tracking_uri : str, optional
        MLflow tracking URI (see :func:`tracking_uri_or_default`).

    Returns
    -------
    LoadedModel

    Raises
    ------
    ScoringError
        No ``champion`` (and, with ``allow_candidate``, no ``candidate``).
    """
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri_or_default(tracking_uri)
    name = registered_model_name(pipeline)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    alias, version = "champion", _version_by_alias(client, name, "champion")
    if version is not None and not allow_candidate:
        _require_champion_gate(name, uri)
    if version is None:
        if not allow_candidate:
            raise ScoringError(ERR_NO_APPROVED.format(name=name, uri=uri))
        alias, version = "candidate", _version_by_alias(client, name, "candidate")
        if version is None:
            raise ScoringError(ERR_NO_CANDIDATE.format(name=name, uri=uri))
    with using_store(uri):
        model_uri = f"models:/{name}/{version.version}"
        try:
            model = mlflow.sklearn.load_model(model_uri)
        except Exception:  # not the sklearn flavour: fall back to the generic pyfunc
            model = mlflow.pyfunc.load_model(model_uri)
    run_id = version.run_id or ""
    experiment_id = client.get_run(run_id).info.experiment_id if run_id else "0"
    return LoadedModel(model=model, name=name, version=str(version.version), alias=alias,
                       run_id=run_id, experiment_id=experiment_id, tracking_uri=uri,
                       tags=dict(version.tags or {}))


def find_run_artifact(loaded: LoadedModel, filename: str, max_depth: int = 2) -> Path | None:
    """Download the first artifact named ``filename`` of the training run, or None."""
    if not loaded.run_id:
        return None
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=loaded.tracking_uri)
    queue: list[tuple[str | None, int]] = [(None, 0)]
    while queue:
        path, depth = queue.pop(0)
        try:
            items = client.list_artifacts(loaded.run_id, path)
        except Exception:  # an unreadable artifact store is the same as no artifact
            return None
        for item in items:
            if not item.is_dir and item.path.rsplit("/", 1)[-1] == filename:
                local = download_artifacts(run_id=loaded.run_id, artifact_path=item.path,
                                           tracking_uri=loaded.tracking_uri)
                return Path(local)
            if item.is_dir and depth < max_depth:
                queue.append((item.path, depth + 1))
    return None


def load_dictionary_for(cfg: Any, loaded: LoadedModel) -> FeatureDictionary:
    """Load the feature dictionary the model was trained with.

    The training run's ``feature_dictionary.json`` artifact is preferred;
    else the feature table's ``data/features/<pipeline>/feature_dictionary.json``.
    """
    logged = find_run_artifact(loaded, "feature_dictionary.json")
    if logged is not None:
        return FeatureDictionary.load(logged)
    local = Path(cfg.features.output_dir) / cfg.name / "feature_dictionary.json"
    if local.exists():
        return FeatureDictionary.load(local)
    raise ScoringError(ERR_NO_DICTIONARY.format(name=loaded.name, version=loaded.version,
                                                path=local))


def _build_one_date(cfg: Any, as_of: dt.date) -> pd.DataFrame:
    """Build the cohort's features at one date with the features stage (nothing written)."""
    from earlywarning.features import FeatureBuildError, build_features

    a = cfg.as_of
    # The features stage builds training dates plus a score date. Keep one training date
    # (already validated) and score at as_of; or, for a past date, build it alone.
    if as_of > a.end:
        as_of_cfg = a.model_copy(update={"start": a.end, "score": as_of})
    else:
        as_of_cfg = a.model_copy(update={"start": as_of, "end": as_of, "score": None})
    one = cfg.model_copy(update={"as_of": as_of_cfg})
    try:
        frame = build_features(one, write=False).frame
    except FeatureBuildError as exc:
        raise ScoringError(f"cannot build features at as-of date {as_of}: {exc}") from exc
    return frame[pd.to_datetime(frame["as_of"]).dt.date == as_of].reset_index(drop=True)


def build_features_for(cfg: Any, as_of: dt.date) -> pd.DataFrame:
    """Feature rows for the cohort at ``as_of``.

    Reads them from the pipeline's feature table (``data/features/<pipeline>/``,
    which holds the ``as_of.score`` date) after checking that its manifest was
    built from this config; a date the table lacks is built from the
    warehouse with the features stage, for that date only.

    Parameters
    ----------
    cfg : PipelineConfig
    as_of : date

    Returns
    -------
    DataFrame

    Raises
    ------
    ScoringError
        The feature table comes from another config, or the warehouse cannot
        give features at ``as_of`` (e.g. after the data ends).
    """
    from earlywarning.config import config_hash
    from earlywarning.models.scoring import ERR_OTHER_CONFIG

    folder = Path(cfg.features.output_dir) / cfg.name
    manifest_path, table = folder / "manifest.json", folder / "features.parquet"
    if table.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = config_hash(cfg)
        if manifest.get("config_hash") != expected:
            raise ScoringError(ERR_OTHER_CONFIG.format(
                path=manifest_path, found=manifest.get("config_hash"), name=cfg.name,
                expected=expected))
        if any(d.get("date") == as_of.isoformat() for d in manifest.get("as_of_dates", [])):
            return pd.read_parquet(table, filters=[("as_of", "==", as_of)])
    return _build_one_date(cfg, as_of)


def log_scoring_run(loaded: LoadedModel, folder: Path, result: Any, as_of: dt.date, cfg: Any,
                    tracking_uri: str | None = None) -> str:
    """Log a scoring run (outputs as artifacts) beside the model's training run.

    Returns
    -------
    str
        The MLflow run id.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri_or_default(tracking_uri or
                                                               loaded.tracking_uri))
    run = client.create_run(loaded.experiment_id, run_name=f"score {as_of.isoformat()}", tags={
        "earlywarning.stage": "scoring", "earlywarning.pipeline": cfg.name,
        "model_name": loaded.name, "model_version": loaded.version,
        "model_alias": loaded.alias, "training_run_id": loaded.run_id})
    rid = run.info.run_id
    try:
        for key, value in (("as_of", as_of.isoformat()), ("model_version", loaded.version),
                           ("capacity", cfg.capacity.flags_per_month)):
            client.log_param(rid, key, value)
        flags = result.flags
        client.log_metric(rid, "n_flags", float(len(flags)))
        if len(flags):
            client.log_metric(rid, "mean_risk_flagged", float(flags["risk"].mean()))
            client.log_metric(rid, "min_risk_flagged", float(flags["risk"].min()))
        client.log_artifacts(rid, str(folder), artifact_path="scoring")
    except Exception:
        client.set_terminated(rid, status="FAILED")
        raise
    client.set_terminated(rid, status="FINISHED")
    return rid
