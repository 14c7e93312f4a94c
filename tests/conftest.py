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


@pytest.fixture(scope="session")
def small_pipeline(small_warehouse, tmp_path_factory) -> Path:
    """``pipelines/demo.yaml`` pointed at the small LA: quarterly as-of dates, outputs in tmp."""
    import yaml

    root = tmp_path_factory.mktemp("small_pipeline")
    cfg = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    cfg["name"] = "small"
    cfg["data"]["warehouse"] = str(small_warehouse)
    cfg["data"]["synthetic"].update(children=SMALL_LA["children"], years=SMALL_LA["years"],
                                    seed=SMALL_LA["seed"], out=str(root / "la"))
    cfg["features"]["output_dir"] = str(root / "features")
    cfg["as_of"].update(start="2023-04-01", end="2025-03-01", frequency="monthly",
                        score="2026-03-31")
    path = root / "small.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path
