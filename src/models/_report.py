"""The HTML evaluation report of a run: pass/fail first, then honest numbers.

Rendered from the run folder's ``metrics.json``, ``predictions.parquet`` and
(if present) ``ablation.json``, with the plots embedded as PNG, so the file
stands alone wherever it is copied or logged.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd
from earlywarning.data.schema import AGENCIES

from ._plots import LABELS, ablation_png, calibration_png, capacity_over_time_png, pr_curve_png
from .fidelity import fidelity_section_for_run

__all__ = ["write_report", "log_to_tracked_run"]


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ci(entry, signed: bool = False) -> str:
    if not entry or entry.get("value") is None:
        return "–"
    f = "{:+.3f}" if signed else "{:.3f}"
    text = f.format(entry["value"])
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        text += f" ({f.format(entry['ci_low'])} to {f.format(entry['ci_high'])})"
    return text


def _month_rows(metrics: dict, candidate: str) -> list[dict]:
    folds = [(name, b["by_month"]) for name, b in metrics.get("backtest", {}).items()]
    folds.append(("final (held out)", metrics["by_month"]))
    rows = []
    for fold, by_month in folds:
        rule = {r["as_of"]: r for r in by_month.get("rule", [])}
        for r in by_month.get(candidate, []):
            rr = rule.get(r["as_of"], {})
            rows.append({"as_of": r["as_of"], "fold": fold, "n": r["n"],
                         "n_positive": r["n_positive"], "base_rate": r["base_rate"],
                         "flagged": r["flagged"],
                         "precision": r["precision_at_capacity_expected"],
                         "recall": r["recall_at_capacity_expected"],
                         "rule_worst": rr.get("precision_at_capacity_worst"),
                         "rule_best": rr.get("precision_at_capacity_best"),
                         "pr_auc": r["pr_auc"]})
    return rows


def _merged_by_month(metrics: dict) -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    sources = [b["by_month"] for b in metrics.get("backtest", {}).values()]
    sources.append(metrics["by_month"])
    for by_month in sources:
        for m, rows in by_month.items():
            merged.setdefault(m, []).extend(rows)
    return merged


def write_report(run_dir: Path) -> Path:
    """Render ``report.html`` in a run folder.

    Parameters
    ----------
    run_dir : Path
        A run folder holding ``metrics.json`` and ``predictions.parquet``.

    Returns
    -------
    Path
        The report file.
    """
    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    ablation_file = run_dir / "ablation.json"
    ablation = json.loads(ablation_file.read_text()) if ablation_file.exists() else None
    candidate = metrics["run"]["candidate"]
    draw = [m for m in (candidate, "rule") if m in metrics["by_month"]]
    b64 = {
        "pr": pr_curve_png(preds),
        "calibration": calibration_png(preds),
        "capacity": capacity_over_time_png(_merged_by_month(metrics), draw),
        "ablation": ablation_png(ablation) if ablation and ablation.get("agencies") else None,
    }
    plots = {k: base64.b64encode(v).decode("ascii") if v else None for k, v in b64.items()}
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("earlywarning.models", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    verdict = metrics["pass_bar"]
    html = env.get_template("evaluation_report.html.j2").render(
        headline=verdict["headline"], passed=verdict["passed"],
        verdict_word="PASSED" if verdict["passed"] else "FAILED",
        checks=verdict["checks"], run=metrics["run"], run_name=run_dir.name,
        candidate=candidate, split=metrics["split"], capacity=metrics["capacity"], m=metrics,
        has_oracle="oracle" in metrics["models"], plots=plots, ablation=ablation,
        months=_month_rows(metrics, candidate), fmt=_fmt, pct=_pct, ci=_ci,
        fidelity=markupsafe.Markup(fidelity_section_for_run(run_dir)),
        label=lambda n: LABELS.get(n, n), agency=lambda a: AGENCIES.get(a, a),
    )
    out = run_dir / "report.html"
    tmp = run_dir / ".report.html.partial"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def log_to_tracked_run(run_dir: Path, files: list[str]) -> None:
    """Log files of a run folder to the run's MLflow run (from ``run.json``).

    Parameters
    ----------
    run_dir : Path
    files : list of str
        File names inside ``run_dir``.
    """
    info_file = Path(run_dir) / "run.json"
    if not info_file.exists():
        return
    info = json.loads(info_file.read_text())
    if not info.get("run_id"):
        return
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=info["tracking_uri"])
    for name in files:
        path = Path(run_dir) / name
        if path.exists():
            client.log_artifact(info["run_id"], str(path))
