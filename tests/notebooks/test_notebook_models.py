"""Notebook 03 (training and evaluation) runs top to bottom on the small synthetic LA."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
import yaml
from _notebook_outputs import read_outputs
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_model_training_notebook_runs_and_reports(small_pipeline, tmp_path, monkeypatch):
    cfg = yaml.safe_load(small_pipeline.read_text())
    cfg["name"] = "small-models"
    # the small LA has about a tenth of the default LA's escalations: capacity to match
    cfg["capacity"]["flags_per_month"] = 8
    cfg["model"]["evaluation"]["bootstrap"] = 50
    # two years of as-of dates: shorter test blocks leave a year of training dates
    cfg["model"]["splits"].update(test_period_dates=3, n_folds=2)
    cfg["model"]["ablation"] = {"enabled": True, "max_train_rows": 5000, "bootstrap": 20}
    pipeline = tmp_path / "small-models.yaml"
    pipeline.write_text(yaml.safe_dump(cfg, sort_keys=False))
    monkeypatch.setenv("EARLYWARNING_PIPELINE", str(pipeline))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    nb = jupytext.read(REPO / "notebooks" / "03_model_training_and_evaluation.py")
    # the kernel works in tmp_path, so runs/ lands there, not in the repository
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = read_outputs(nb)
    assert not out.errors
    assert len(out.images) >= 5, "folds, PR curve, calibration, months, ablation"
    text = out.text
    assert "the pre-registered bar" in text and "base rate" in text
    assert "fitted to the true probability reaches" in text  # the synthetic LA's yardstick
    assert list((tmp_path / "runs" / "small-models").glob("*/report.html"))
