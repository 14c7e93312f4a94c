"""MLflow tracking and the model registry.

Default store: a local SQLite database ``sqlite:///mlflow.db`` with artifacts
in ``mlruns/`` beside it; ``MLFLOW_TRACKING_URI`` overrides. The store is
checked *before* training, so an unreachable URI costs nothing and leaves
nothing half-written. Registration sets the alias ``candidate`` only; the
alias ``champion`` belongs to the approval step.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_TRACKING_URI",
    "CANDIDATE_ALIAS",
    "TrackingError",
    "resolve_tracking_uri",
    "check_tracking_uri",
    "using_store",
    "experiment_for",
    "registered_model_name",
    "register_candidate",
    "git_sha",
    "flatten",
    "log_training_run",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CANDIDATE_ALIAS = "candidate"
UNREACHABLE = (
    "MLflow tracking store {uri!r} is not reachable: {reason}. Set MLFLOW_TRACKING_URI to a "
    "reachable store (default {default}); nothing was trained or registered"
)


class TrackingError(RuntimeError):
    """The MLflow tracking store cannot be used."""


def resolve_tracking_uri(uri: str | None = None) -> str:
    """Return the tracking URI: ``uri``, else ``MLFLOW_TRACKING_URI``, else the SQLite default.

    Parameters
    ----------
    uri : str, optional

    Returns
    -------
    str
    """
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def using_store(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API (runs, model logging and loading) at ``uri`` for a block.

    MLflow keeps one process-wide tracking and registry URI, and setting either
    also writes the ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` environment
    variables. On leaving the block both URIs go back to "not set" and the two
    variables to exactly what they were (set, to the same value, or absent), so
    training or scoring inside a long-lived process (the web app, a notebook, the
    test suite) leaves no global state behind.

    Parameters
    ----------
    uri : str
        Tracking and registry URI for the block.
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in _URI_VARIABLES}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sqlite_path(uri: str) -> Path:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else Path(
        urlparse(uri).path)


def check_tracking_uri(uri: str, timeout: float = 5.0) -> None:
    """Raise :class:`TrackingError` unless the store at ``uri`` can be written.

    SQLite: the folder must exist (or be creatable) and the file must open.
    ``file:`` stores: the folder must be writable. HTTP(S) servers: ``/health``
    must answer within ``timeout`` seconds.

    Parameters
    ----------
    uri : str
    timeout : float
        Seconds to wait for an HTTP server.
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    try:
        if scheme == "sqlite":
            path = _sqlite_path(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            sqlite3.connect(path).close()
        elif scheme in ("", "file"):
            path = Path(parsed.path if scheme else uri)
            path.mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise OSError(f"folder {path} is not writable")
        elif scheme in ("http", "https"):
            import httpx

            response = httpx.get(uri.rstrip("/") + "/health", timeout=timeout)
            if response.status_code != 200:
                raise OSError(f"/health answered HTTP {response.status_code}")
        else:
            raise OSError(f"unsupported scheme {scheme!r} (use sqlite, file, http or https)")
    except Exception as exc:  # every failure becomes one clear message
        raise TrackingError(
            UNREACHABLE.format(uri=uri, reason=exc, default=DEFAULT_TRACKING_URI)
        ) from exc


def _artifact_location(uri: str) -> str | None:
    """``mlruns/`` beside a SQLite database; the server's default otherwise."""
    if uri.startswith("sqlite:"):
        return (_sqlite_path(uri).resolve().parent / "mlruns").as_uri()
    return None


def experiment_for(pipeline: str, uri: str) -> str:
    """Return the id of experiment ``earlywarning-<pipeline>``, creating it if needed.

    Parameters
    ----------
    pipeline : str
        Pipeline name.
    uri : str
        Tracking URI.

    Returns
    -------
    str
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    name = registered_model_name(pipeline)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_location(uri))


def registered_model_name(pipeline: str) -> str:
    """Return the registered model (and experiment) name: ``earlywarning-<pipeline>``.

    Parameters
    ----------
    pipeline : str

    Returns
    -------
    str
    """
    return f"earlywarning-{pipeline}"


def register_candidate(uri: str, model_uri: str, pipeline: str, run_id: str) -> str:
    """Register a model that met the pass bar and point alias ``candidate`` at it.

    All or nothing: if the alias cannot be set the new version is deleted.

    Parameters
    ----------
    uri : str
        Tracking URI.
    model_uri : str
        The logged model's URI.
    pipeline : str
        Pipeline name.
    run_id : str
        The MLflow run that logged the model.

    Returns
    -------
    str
        The new model version.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = registered_model_name(pipeline)
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(
            name, description=f"earlywarning model for pipeline {pipeline}")
    version = client.create_model_version(name, model_uri, run_id=run_id)
    try:
        client.set_registered_model_alias(name, CANDIDATE_ALIAS, version.version)
        client.set_model_version_tag(name, version.version, "pass_bar", "passed")
    except Exception:
        client.delete_model_version(name, version.version)
        raise
    return str(version.version)


def git_sha(repo: Path | None = None) -> str:
    """Return the git commit (``-dirty`` if the tree has changes), or ``unknown``.

    Parameters
    ----------
    repo : Path, optional
        Folder inside the repository; default: this package's folder.

    Returns
    -------
    str
    """
    where = repo or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts/lists to ``{"a.b.0": value}``.

    Characters MLflow does not allow in a key (``*`` in a points pattern, say)
    become ``_``.

    Parameters
    ----------
    tree : object
    prefix : str

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            key = re.sub(r"[^\w\-. :/]", "_", str(k))  # MLflow's allowed key characters
            out.update(flatten(v, f"{prefix}.{key}" if prefix else key))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix] = tree
    return out


def log_training_run(cfg: Any, uri: str, run_dir: Path, model: Any, table: Any, metrics: dict,
                     verdict: Any, info: dict) -> tuple[str, str | None]:
    """Log a training run to MLflow; register with alias ``candidate`` only if the bar was met.

    Logs tags (pipeline, config hash, warehouse fingerprint, git sha, pass-bar
    verdict), the configuration as params, the run folder's files, the model
    with its signature and an input example made of training medians (never a
    real child's record), then the metrics.

    Parameters
    ----------
    cfg : PipelineConfig
    uri : str
        Tracking URI.
    run_dir : Path
        The run folder.
    model : estimator
        The candidate.
    table : FeatureTable
    metrics : dict
        Contents of ``metrics.json``.
    verdict : PassBarResult
    info : dict
        Run facts (config hash, fingerprint, git sha, status).

    Returns
    -------
    (run_id, registered version or None)
    """
    experiment_id = experiment_for(cfg.name, uri)
    with using_store(uri):
        return _log_and_register(cfg, uri, experiment_id, run_dir, model, table, metrics,
                                 verdict, info)


def _log_and_register(cfg: Any, uri: str, experiment_id: str, run_dir: Path, model: Any,
                      table: Any, metrics: dict, verdict: Any,
                      info: dict) -> tuple[str, str | None]:
    import lightgbm
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    cols = table.feature_columns
    # The input example is built from training medians, never a real child's record.
    train_medians = table.frame[cols].astype(np.float32).median().fillna(0.0)
    example = pd.DataFrame([train_medians.to_numpy(), np.zeros(len(cols))],
                           columns=cols).astype(np.float32)
    signature = infer_signature(example, model.predict_proba(example))
    params = flatten({"model": cfg.model.model_dump(mode="json"),
                      "capacity": cfg.capacity.model_dump(mode="json"),
                      "pass_bar": cfg.pass_bar.model_dump(mode="json"),
                      "outcome": cfg.outcome.model_dump(mode="json"),
                      "cohort": cfg.cohort.model_dump(mode="json")})
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"{cfg.name}-{run_dir.name}") as run:
        mlflow.set_tags({
            "pipeline": cfg.name,
            "config_hash": info["config_hash"],
            "warehouse_fingerprint": str(info["warehouse_fingerprint"]),
            "git_sha": info["git_sha"],
            "candidate": info["candidate"],
            "pass_bar": info["status"],
            "run_dir": str(run_dir),
            "mlflow.note.content": verdict.headline(),
        })
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        for name in ("metrics.json", "resolved_config.yaml", "feature_dictionary.json",
                     "report.html", "test_predictions.parquet"):
            if (run_dir / name).exists():
                mlflow.log_artifact(str(run_dir / name))
        import skops.io

        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        info_model = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=example,
            serialization_format="skops", skops_trusted_types=trusted,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}",
                              f"lightgbm=={lightgbm.__version__}", "earlywarning"],
        )
        # Logged after the model so MLflow does not copy each metric onto it one by one.
        mlflow.log_metrics(_headline_metrics(metrics, verdict))
        run_id = run.info.run_id
    version = None
    if verdict.passed:
        version = register_candidate(uri, info_model.model_uri, cfg.name, run_id)
    return run_id, version


HEADLINE_CI = ("pr_auc", "roc_auc", "brier", "ece", "precision_at_capacity_worst",
               "precision_at_capacity_expected", "recall_at_capacity_expected")


def _headline_metrics(metrics: dict, verdict: Any) -> dict[str, float]:
    """Flatten point values (and CIs of the headline metrics) for MLflow.

    Every value with its CI stays in the ``metrics.json`` artifact.
    """
    flat: dict[str, float] = {"base_rate": metrics["base_rate"],
                              "pass_bar_passed": float(verdict.passed)}
    for name, values in metrics["models"].items():
        for key, v in values.items():
            parts = ("value", "ci_low", "ci_high") if key in HEADLINE_CI else ("value",)
            for part in parts:
                if v.get(part) is not None:
                    suffix = "" if part == "value" else f".{part}"
                    flat[f"{name}.{key}{suffix}"] = float(v[part])
    for group, label in (("lift_over_reference", "lift_over_rule"),
                         ("oracle_share", "oracle_share"),
                         ("oracle_recorded_share", "oracle_recorded_share")):
        for name, values in metrics.get(group, {}).items():
            for key, v in values.items():
                if v["value"] is not None:
                    flat[f"{name}.{label}.{key}"] = float(v["value"])
    return flat
