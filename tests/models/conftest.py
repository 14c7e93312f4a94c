"""Fixtures shared by the models tests."""

from __future__ import annotations

import shutil

import pytest
from mlflow import MlflowClient


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory):
    """An initialised MLflow SQLite database (its schema migrations take seconds)."""
    folder = tmp_path_factory.mktemp("mlflow_template")
    MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db").search_experiments()
    return folder / "mlflow.db"


@pytest.fixture
def tracking_uri(mlflow_template, tmp_path):
    """A fresh MLflow store for one test: a copy of the template database."""
    folder = tmp_path / "tracking"
    folder.mkdir()
    shutil.copy(mlflow_template, folder / "mlflow.db")
    return f"sqlite:///{folder}/mlflow.db"
