"""notebooks/05_fairness_audit.py runs top to bottom on a simulated score file."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from _notebook_outputs import read_outputs
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fairness_notebook_runs_and_finds_the_injected_bias(monkeypatch):
    monkeypatch.delenv("EARLYWARNING_RUN_DIR", raising=False)
    nb = jupytext.read(REPO / "notebooks" / "05_fairness_audit.py")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    out = read_outputs(nb)
    assert not out.errors
    assert len(out.images) >= 3
    text = out.text
    assert re.search(r"Black[^\n]* — the model over-states this group's risk", text)
    assert "Ethics report:" in text
