"""Fixtures for the web app: a sample warehouse, an app database, signed-in clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from appkit import AppEnv, build_env
from argon2 import PasswordHasher, profiles
from earlywarning.app import _security
from earlywarning.app._sample_warehouse import build_sample_warehouse

# Tests hash many demo passwords: use argon2's cheapest profile here only. The
# production hasher keeps argon2-cffi's default profile (tested in test_auth.py).
_security._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
_security.DUMMY_HASH = _security._HASHER.hash("dummy")


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> Path:
    return build_sample_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb",
                                  n_families=40, seed=3)


@pytest.fixture(scope="session")
def template_env(tmp_path_factory, sample_warehouse) -> AppEnv:
    """The sample warehouse imported once, with demo users; others copy its database."""
    return build_env(tmp_path_factory.mktemp("template"), sample_warehouse)


@pytest.fixture(scope="module")
def env(tmp_path_factory, sample_warehouse, template_env) -> AppEnv:
    """One app per test module (login throttling off for the matrix)."""
    return build_env(tmp_path_factory.mktemp("app"), sample_warehouse, template=template_env,
                     login_max_failures=1000)


@pytest.fixture
def fresh_env(tmp_path, sample_warehouse, template_env) -> AppEnv:
    """An app of its own for tests that change state (throttling, decisions)."""
    return build_env(tmp_path / "env", sample_warehouse, template=template_env)
