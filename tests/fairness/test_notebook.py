"""notebooks/05_fairness_audit.py runs top to bottom on a simulated score file."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fairness_notebook_runs_and_finds_the_injected_bias(monkeypatch):
    monkeypatch.delenv("EARLYWARNING_RUN_DIR", raising=False)
    nb = jupytext.read(REPO / "notebooks" / "05_fairness_audit.py")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) >= 3
    text = "".join(o.get("text", "") for o in outputs)
    assert re.search(r"Black[^\n]* — the model over-states this group's risk", text)
    assert "Ethics report:" in text
