"""Audit a run folder, or any score file, and write the ethics report and artefacts.

``runs/<pipeline>/<ts>/fairness/`` receives ``ethics_report.html``,
``audit.json`` (with the report's SHA-256, which approval checks),
``audit_table.csv``, the model card (Markdown and HTML), the ATRS record
(JSON and Markdown), one datasheet per data source and the equality impact
inputs; the same files are logged to the run in MLflow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._approval import AUDIT_DIR, REPORT_NAME
from ._audit import AuditResult, AuditSettings, audit
from ._data import NOT_RECORDED, AuditData, attribute_label, prepare_audit_data
from ._digest import sha256_file
from ._governance import (
    atrs_markdown,
    atrs_record,
    datasheets,
    equality_impact_inputs,
    equality_impact_markdown,
    model_card,
    to_json,
)
from ._report import ReportInputs, render_ethics_report
from ._threshold import capacity_curves, equal_miss_rate_thresholds, per_group_thresholds

OPTION_ATTRIBUTES = ("audit_ethnicity", "audit_imd_quintile")
CAPACITY_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


@dataclass
class AuditOutput:
    """What an audit wrote.

    Attributes
    ----------
    result : AuditResult
    out_dir : Path
        Folder holding the files.
    report : Path
        The ethics report.
    report_sha256 : str
    files : list of Path
        Every file written.
    """

    result: AuditResult
    out_dir: Path
    report: Path
    report_sha256: str
    files: list[Path]


def settings_from_config(audit_cfg: Any, n_boot: int | None = None) -> AuditSettings:
    """Turn the pipeline's ``audit`` section into :class:`AuditSettings`."""
    return AuditSettings(
        min_group_size=audit_cfg.min_group_size, min_events=audit_cfg.min_events,
        n_boot=n_boot or audit_cfg.bootstrap_replicates, seed=audit_cfg.seed,
        ci_level=audit_cfg.ci_level,
        reference_groups={f"audit_{k}": v for k, v in audit_cfg.reference_groups.items()},
        bar=dict(audit_cfg.bar),
    )


def _analyses(data: AuditData, settings: AuditSettings, say: Callable[[str], None]
              ) -> tuple[dict, dict]:
    today = float(data.flagged.mean()) or 0.05
    fractions = sorted({min(0.5, round(today * m, 5)) for m in CAPACITY_MULTIPLES})
    singles = [a for a in data.groups if " × " not in a and a not in data.single_group]
    say("threshold analysis: metrics as capacity changes")
    curves = {a: capacity_curves(data, a, fractions=fractions,
                                 min_group_size=settings.min_group_size) for a in singles}
    options = {}
    for a in OPTION_ATTRIBUTES:
        if a in singles and int(data.label.sum()) >= settings.min_events:
            options[a] = {"equal_miss": equal_miss_rate_thresholds(
                data, a, min_group_size=settings.min_group_size)}
            try:
                options[a]["optimiser"] = per_group_thresholds(
                    data, a, min_group_size=settings.min_group_size, seed=settings.seed)
            except ValueError as err:  # e.g. a group without both outcomes
                say(f"ThresholdOptimizer not shown for {a}: {err}")
    return curves, options


def _limitations(frame: pd.DataFrame, data: AuditData) -> list[str]:
    out = []
    for a, cat in data.groups.items():
        if " × " in a:
            continue
        share = float((np.asarray(cat, dtype=object) == NOT_RECORDED).mean())
        if share > 0:
            out.append(f"{attribute_label(a)} is not recorded for {share:.1%} of children; "
                       "they are shown as the group 'Not recorded'.")
    if data.n_without_outcome:
        out.append(f"{data.n_without_outcome:,} scored rows have no observed outcome yet "
                   "and are not audited.")
    if "p_true" in frame.columns:
        out.append("These are synthetic data: the audit shows what the method finds, not how "
                   "any real council's children are treated.")
    return out


def _write_report(out_dir: Path, result: AuditResult, data: AuditData, inputs: ReportInputs,
                  extra: dict[str, Any]) -> tuple[Path, str, list[Path]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_ethics_report(result, data, inputs)
    report = out_dir / REPORT_NAME
    tmp = report.with_suffix(".html.partial")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(report)
    digest = sha256_file(report)
    table_csv = out_dir / "audit_table.csv"
    result.table.to_csv(table_csv, index=False)
    eq = equality_impact_inputs(result)
    files = [report, table_csv]
    for name, text in (("equality_impact.json", to_json(eq)),
                       ("equality_impact.md", equality_impact_markdown(eq))):
        (out_dir / name).write_text(text, encoding="utf-8")
        files.append(out_dir / name)
    summary = {**extra, "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "report": REPORT_NAME, "report_sha256": digest, **result.to_dict()}
    summary.pop("table")
    (out_dir / "audit.json").write_text(to_json(summary), encoding="utf-8")
    files.append(out_dir / "audit.json")
    return report, digest, files


def audit_scores_file(
    path: str | Path,
    *,
    group_cols: Sequence[str],
    score_col: str = "score",
    label_col: str = "label",
    flagged_col: str | None = None,
    threshold: float | None = None,
    top_fraction: float | None = None,
    intersections: Sequence[Sequence[str]] = (),
    cluster_col: str | None = None,
    settings: AuditSettings | None = None,
    out_dir: str | Path | None = None,
    say: Callable[[str], None] = lambda s: None,
) -> AuditOutput:
    """Audit a score file from any tool (e.g. a vendor's risk scores) with the same report.

    Parameters
    ----------
    path : path
        CSV or Parquet with a score (0-1), an outcome (0/1) and group columns.
    group_cols, score_col, label_col, flagged_col, threshold, top_fraction, intersections
        See :func:`prepare_audit_data`.
    cluster_col : str, optional
        Rows sharing this column (e.g. a family id) are resampled together.
    settings : AuditSettings, optional
        Audit settings.
    out_dir : path, optional
        Where to write; default ``<file stem>_audit/`` beside the file.
    say : callable
        Progress messages.

    Returns
    -------
    AuditOutput
    """
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    settings = settings or AuditSettings()
    data = prepare_audit_data(frame, group_cols=group_cols, intersections=intersections,
                              score_col=score_col, label_col=label_col, flagged_col=flagged_col,
                              threshold=threshold, top_fraction=top_fraction,
                              cluster_col=cluster_col, source=path.name)
    say(f"auditing {data.n:,} rows of {path.name} ({settings.n_boot:,} bootstrap replicates)")
    result = audit(data, settings)
    curves, options = _analyses(data, settings, say)
    inputs = ReportInputs(
        title=f"Fairness audit of scores in {path.name}",
        subject=f"Scores from another tool ({path.name})", curves=curves, options=options,
        limitations=_limitations(frame, data),
        run_info={"file": path.name, "score column": score_col, "outcome column": label_col})
    out = Path(out_dir) if out_dir else path.with_name(f"{path.stem}_audit")
    report, digest, files = _write_report(out, result, data, inputs, {"source_file": str(path)})
    say(f"wrote {report}")
    return AuditOutput(result, out, report, digest, files)


def _coverage(cfg: Any, frame: pd.DataFrame, data: AuditData, dictionary: list[dict]
              ) -> pd.DataFrame | None:
    """Share of children each agency's data covers, by group (from the feature table)."""
    from earlywarning.data.schema import AGENCIES

    cov = [d for d in dictionary if d.get("direction") == "coverage"]
    path = Path(cfg.features.output_dir) / cfg.name / "features.parquet"
    if not cov or not path.exists():
        return None
    cols = [d["name"] for d in cov]
    feats = pd.read_parquet(path, columns=["person_id", "as_of", *cols])
    feats["as_of"] = pd.to_datetime(feats["as_of"])
    keys = frame.loc[:, ["person_id", "as_of"]].assign(as_of=lambda f: pd.to_datetime(f.as_of))
    if "label" in frame and data.n_without_outcome:
        keys = keys[frame["label"].notna().to_numpy()]
    joined = keys.reset_index(drop=True).merge(feats, on=["person_id", "as_of"], how="left")
    rows = []
    for a, cat in data.groups.items():
        if " × " in a or a in data.single_group:
            continue
        g = pd.Series(np.asarray(cat, dtype=object))
        for d in cov:
            covered = (joined[d["name"]].fillna(0) > 0).groupby(g).mean()
            agency = AGENCIES.get(d.get("source_agency", ""), d.get("source_agency", d["name"]))
            rows += [{"attribute": a, "attribute_label": attribute_label(a), "group": k,
                      "agency": agency, "share": float(v)} for k, v in covered.items()]
    return pd.DataFrame(rows)


def _warehouse_tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]] | None:
    if not path.exists():
        return None
    import duckdb
    from earlywarning.data.schema import TABLES

    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables").fetchall()}
        meta = (con.execute("select * from ext_source_metadata").df()
                if "ext_source_metadata" in present else pd.DataFrame())
        report = (con.execute("select * from _load_report").df()
                  if "_load_report" in present else pd.DataFrame())
        counts = {t: int(con.execute(f'select count(*) from "{t}"').fetchone()[0])
                  for t in TABLES if t in present and not TABLES[t].restricted}
    finally:
        con.close()
    return meta, report, counts


def audit_run(
    run_dir: str | Path,
    *,
    n_boot: int | None = None,
    tracking_uri: str | None = None,
    log_to_mlflow: bool = True,
    say: Callable[[str], None] = lambda s: None,
) -> AuditOutput:
    """Audit a training run and write the ethics report and governance artefacts.

    Parameters
    ----------
    run_dir : path
        ``runs/<pipeline>/<ts>`` with ``test_predictions.parquet``,
        ``metrics.json`` and ``resolved_config.yaml``.
    n_boot : int, optional
        Override the pipeline's ``audit.bootstrap_replicates``.
    tracking_uri : str, optional
        MLflow tracking URI (default: the run's, then ``MLFLOW_TRACKING_URI``).
    log_to_mlflow : bool
        Log the artefacts and tags to the run's MLflow run.
    say : callable
        Progress messages.

    Returns
    -------
    AuditOutput
    """
    import yaml
    from earlywarning.config import parse_pipeline

    run_dir = Path(run_dir)
    preds = run_dir / "test_predictions.parquet"
    if not preds.exists():
        raise FileNotFoundError(f"{run_dir}: no test_predictions.parquet; train the pipeline "
                                "with `earlywarning train` (or `run`) first")
    cfg = parse_pipeline(yaml.safe_load((run_dir / "resolved_config.yaml").read_text()),
                         source=str(run_dir / "resolved_config.yaml"))
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (
        run_dir / "metrics.json").exists() else {}
    run_json = json.loads((run_dir / "run.json").read_text()) if (
        run_dir / "run.json").exists() else {}
    info = {**metrics.get("run", {}), **run_json}
    dictionary = json.loads((run_dir / "feature_dictionary.json").read_text()) if (
        run_dir / "feature_dictionary.json").exists() else []
    settings = settings_from_config(cfg.audit, n_boot)
    frame = pd.read_parquet(preds)
    groups = [f"audit_{g}" for g in cfg.audit.groups]
    data = prepare_audit_data(
        frame, group_cols=groups,
        intersections=[(f"audit_{a}", f"audit_{b}") for a, b in cfg.audit.intersections],
        cluster_col="family_id" if "family_id" in frame.columns else None, source=str(preds))
    say(f"auditing {data.n:,} test rows of {run_dir} ({settings.n_boot:,} bootstrap replicates)")
    result = audit(data, settings)
    curves, options = _analyses(data, settings, say)
    model_name = f"earlywarning-{cfg.name}"
    version = str(info.get("registered_version") or "")
    inputs = ReportInputs(
        title=f"Fairness audit: {cfg.name}",
        subject=f"Model {model_name}" + (f" version {version}" if version else
                                         " (not registered)") + f", run {run_dir.name}",
        pass_bar=metrics.get("pass_bar"), curves=curves, options=options,
        coverage=_coverage(cfg, frame, data, dictionary),
        limitations=_limitations(frame, data),
        run_info={"pipeline": cfg.name, "run folder": str(run_dir),
                  "MLflow run": info.get("run_id", ""), "config hash": info.get("config_hash", ""),
                  "data fingerprint": info.get("warehouse_fingerprint", ""),
                  "code": info.get("git_sha", "")})
    out = run_dir / AUDIT_DIR
    extra = {"run_dir": str(run_dir), "run_id": info.get("run_id", ""),
             "model_name": model_name, "model_version": version,
             "pass_bar_passed": (metrics.get("pass_bar") or {}).get("passed")}
    report, digest, files = _write_report(out, result, data, inputs, extra)
    say(f"wrote {report}")
    files += _governance_files(out, cfg, metrics, info, result, model_name, version)
    uri = tracking_uri or info.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if log_to_mlflow and info.get("run_id") and uri:
        _log_to_mlflow(uri, info["run_id"], out, result, digest)
        say(f"logged the audit to MLflow run {info['run_id']}")
    return AuditOutput(result, out, report, digest, files)


def _governance_files(out: Path, cfg: Any, metrics: dict, info: dict, result: AuditResult,
                      model_name: str, version: str) -> list[Path]:
    from markdown_it import MarkdownIt

    run = {"metrics": metrics, "config": cfg.model_dump(mode="json"), "model_name": model_name,
           "model_version": version, "run_id": info.get("run_id", "")}
    card = model_card(run, result, report_name=REPORT_NAME)
    record = atrs_record(run, result, cfg.audit.owner.model_dump())
    md = MarkdownIt("commonmark").enable("table")
    files = {
        "model_card.md": card,
        "model_card.html": "<!DOCTYPE html><html lang='en-GB'><head><meta charset='utf-8'>"
                           f"<title>Model card: {model_name}</title></head><body>"
                           f"{md.render(card)}</body></html>",
        "atrs_record.json": to_json(record),
        "atrs_record.md": atrs_markdown(record),
    }
    written = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    tables = _warehouse_tables(Path(cfg.data.warehouse))
    if tables is not None:
        sheets = out / "datasheets"
        sheets.mkdir(exist_ok=True)
        for table, text in datasheets(*tables).items():
            (sheets / f"{table}.md").write_text(text, encoding="utf-8")
            written.append(sheets / f"{table}.md")
    return written


def _log_to_mlflow(uri: str, run_id: str, out: Path, result: AuditResult, digest: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    client.log_artifacts(run_id, str(out), artifact_path=AUDIT_DIR)
    client.set_tag(run_id, "fairness.report_sha256", digest)
    client.set_tag(run_id, "fairness.bar", "passed" if result.bar_passed else "failed")
    t = result.table
    for metric in ("false_negative_rate", "false_positive_rate", "calibration_gap"):
        diffs = t.loc[(t.metric == metric) & (t.comparison_status == "ok"), "diff_ref"].abs()
        if len(diffs):
            client.log_metric(run_id, f"fairness.max_abs_diff.{metric}", float(diffs.max()))
