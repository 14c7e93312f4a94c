"""The train / evaluate / ablate commands: clear errors, exit codes, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from _synthetic_features import pipeline_dict, write_fixture_pipeline
from earlywarning.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def _pipeline_file(root, **sections):
    cfg, table = write_fixture_pipeline(root, n_families=150, **sections)
    path = root / "fixture.yaml"
    path.write_text(yaml.safe_dump(pipeline_dict(root, **sections), sort_keys=False))
    return path


def test_train_with_unreachable_tracking_store_exits_2_before_training(tmp_path, monkeypatch):
    path = _pipeline_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    result = runner.invoke(app, ["train", str(path)], terminal_width=200)
    assert result.exit_code == 2
    assert "error: MLflow tracking store 'http://127.0.0.1:9' is not reachable" in result.output
    assert not (tmp_path / "runs").exists()


def test_train_with_missing_feature_table_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline_dict(tmp_path), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    result = runner.invoke(app, ["train", str(path)], terminal_width=200)
    assert result.exit_code == 2
    assert "features.parquet not found; build it with `earlywarning features" in result.output


def test_impossible_pass_bar_in_the_file_is_a_config_error(tmp_path, monkeypatch):
    data = pipeline_dict(tmp_path, pass_bar={"min_precision_at_capacity": 1.5})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    result = runner.invoke(app, ["train", str(path)], terminal_width=200)
    assert result.exit_code == 2
    assert (f"{path}: pass_bar.min_precision_at_capacity = 1.5: Input should be less than or "
            "equal to 1") in result.output


def test_evaluate_run_dir_that_is_not_a_run_folder(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline_dict(tmp_path), sort_keys=False))
    result = runner.invoke(app, ["evaluate", str(path), "--run-dir", str(tmp_path)],
                           terminal_width=200)
    assert result.exit_code == 2
    assert "metrics.json not found; is it a run folder?" in result.output


def test_train_then_ablate_writes_the_run_folder(tmp_path, monkeypatch, tracking_uri):
    path = _pipeline_file(tmp_path, model={"evaluation": {"bootstrap": 10},
                                           "ablation": {"bootstrap": 5}})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    result = runner.invoke(app, ["train", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "the pre-registered bar" in result.output and "base rate" in result.output
    run_dir = next((tmp_path / "runs" / "fixture").iterdir())
    result = runner.invoke(app, ["ablate", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    ablation = json.loads((run_dir / "ablation.json").read_text())
    assert {r["agency"] for r in ablation["agencies"]} >= {"police", "csc", "gp"}
    html = (run_dir / "report.html").read_text()
    assert "What each data source adds" in html
    assert "cross-fitted over family folds" in html
    assert "<tr><td>Children&#39;s social care</td>" in html and "<tr><td>csc</td>" not in html


def test_a_pipeline_that_builds_its_warehouse_prints_the_load_report(tmp_path):
    import io

    from earlywarning.config import load_pipeline
    from earlywarning.models._cli import _ensure_warehouse
    from rich.console import Console

    demo = load_pipeline(Path(__file__).resolve().parents[2] / "pipelines" / "demo.yaml")
    cfg = demo.model_copy(update={"data": demo.data.model_copy(update={
        "warehouse": tmp_path / "warehouse.duckdb",
        "synthetic": demo.data.synthetic.model_copy(update={
            "children": 1500, "years": 3, "out": tmp_path / "la"})})})
    out = io.StringIO()
    said: list[str] = []
    _ensure_warehouse(Console(file=out, width=200), cfg, said.append)
    printed = out.getvalue()
    assert said == [f"generating a synthetic LA of 1,500 children into {tmp_path / 'la'}",
                    f"loading {tmp_path / 'la'} into {tmp_path / 'warehouse.duckdb'}"]
    assert "Load report: tables" in printed and "Coverage by agency" in printed
    assert "Rejected rows by rule" in printed  # the generator's data-quality defects
    assert "published" in printed and str(tmp_path / "load_report.md") in printed
