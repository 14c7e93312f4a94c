"""Shared fixtures: a small synthetic LA, generated and loaded once per test session.

Built through the public command line (``earlywarning generate`` and
``earlywarning load``), exactly as a user would, so every area's tests can run
against real generated data without each paying for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMALL_LA = {"children": 3000, "years": 6, "seed": 7}


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run ``earlywarning ARGS`` in a subprocess and return the completed process."""
    cmd = [sys.executable, "-m", "earlywarning.cli", *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd or REPO, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def small_la_dir(tmp_path_factory) -> Path:
    """A 3,000-child, 6-year synthetic LA written as Parquet extracts."""
    out = tmp_path_factory.mktemp("small_la") / "la"
    run_cli("generate", "--children", SMALL_LA["children"], "--years", SMALL_LA["years"],
            "--seed", SMALL_LA["seed"], out)
    return out


@pytest.fixture(scope="session")
def small_warehouse(small_la_dir, tmp_path_factory) -> Path:
    """The small LA loaded (quarantine mode) into a DuckDB warehouse."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    run_cli("load", small_la_dir, "--warehouse", warehouse, "--quarantine")
    return warehouse
