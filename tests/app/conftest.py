"""Fixtures for the web app: a sample warehouse, an app database, signed-in clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from appkit import AppEnv, build_env
from earlywarning.app._sample_warehouse import build_sample_warehouse


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> Path:
    return build_sample_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb",
                                  n_families=40, seed=3)


@pytest.fixture(scope="module")
def env(tmp_path_factory, sample_warehouse) -> AppEnv:
    """One app per test module (login throttling off for the matrix)."""
    return build_env(tmp_path_factory.mktemp("app"), sample_warehouse, login_max_failures=1000)


@pytest.fixture
def fresh_env(tmp_path, sample_warehouse) -> AppEnv:
    """An app of its own for tests that change state (throttling, decisions)."""
    return build_env(tmp_path, sample_warehouse)
