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
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "DEFAULT_TRACKING_URI",
    "CANDIDATE_ALIAS",
    "TrackingError",
    "resolve_tracking_uri",
    "check_tracking_uri",
    "experiment_for",
    "registered_model_name",
    "register_candidate",
    "git_sha",
    "flatten",
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
