"""Every notebook in notebooks/ executes top to bottom against the small synthetic LA."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from _notebook_outputs import read_outputs
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


def execute_notebook(path: Path, env: dict[str, str], monkeypatch) -> object:
    """Execute a jupytext percent-format notebook; raise on the first failing cell."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}})
    client.execute()
    return nb


@pytest.mark.slow
def test_linked_data_tour_runs_and_plots(small_warehouse, monkeypatch):
    nb = execute_notebook(REPO / "notebooks" / "01_linked_data_tour.py",
                          {"EARLYWARNING_WAREHOUSE": str(small_warehouse)}, monkeypatch)
    out = read_outputs(nb)
    assert not out.errors
    assert len(out.images) >= 3, "the tour shows events, coverage, funnel and a family timeline"
    text = out.text
    assert "Family " in text and "events" in text


@pytest.mark.slow
def test_features_and_cohort_notebook_runs_and_plots(small_pipeline, monkeypatch):
    nb = execute_notebook(REPO / "notebooks" / "02_features_and_cohort.py",
                          {"EARLYWARNING_PIPELINE": str(small_pipeline)}, monkeypatch)
    out = read_outputs(nb)
    assert not out.errors
    assert len(out.images) >= 3, "cohort sizes/base rates, feature distributions, missingness"
