"""Provenance of a flag: the sources it saw, their freshness, coverage, model limits.

One row per (flag, agency) for every agency whose data the model uses, with
the agency's latest extract date (``ext_source_metadata``), the child's
coverage for that agency (its coverage feature, when there is one) and a note
saying what that agency's data did to this child's risk. Then one row per
known limit of the model, with agency ``model``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from earlywarning.models._reasons import CONTEXT_GROUP, GROUP_LABELS, FeatureDictionary
from earlywarning.wording import outcome_in_words

__all__ = ["PROVENANCE_COLUMNS", "extract_dates", "flag_provenance", "model_limits"]

PROVENANCE_COLUMNS = ("flag_id", "agency", "extract_date", "coverage", "note")
MODEL_AGENCY = "model"
"""``agency`` of the provenance rows that state the model's known limits."""

LIMIT_KEYS = ("limitations", "limits", "known_limits")


def extract_dates(warehouse: str | Path) -> pd.DataFrame:
    """Latest extract per agency from ``ext_source_metadata``.

    Parameters
    ----------
    warehouse : str or Path
        DuckDB warehouse file.

    Returns
    -------
    DataFrame
        ``agency, extract_date, accessibility, known_issues``; empty when the
        warehouse or the table is missing.
    """
    cols = ["agency", "extract_date", "accessibility", "known_issues"]
    warehouse = Path(warehouse)
    if not warehouse.exists():
        return pd.DataFrame(columns=cols)
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        if "ext_source_metadata" not in tables:
            return pd.DataFrame(columns=cols)
        return con.execute("""
            SELECT meta_agency AS agency, max(meta_extract_date) AS extract_date,
                   -- ties broken by value and issues sorted: the same text on every run
                   arg_max(meta_accessibility, (meta_extract_date, meta_accessibility))
                       AS accessibility,
                   string_agg(DISTINCT meta_known_issues, '; ' ORDER BY meta_known_issues)
                       AS known_issues
            FROM ext_source_metadata GROUP BY meta_agency ORDER BY meta_agency""").df()
    finally:
        con.close()


def flag_provenance(
    flag_ids: np.ndarray,
    rows: pd.DataFrame,
    feature_names: list[str],
    contributions: np.ndarray,
    dictionary: FeatureDictionary,
    extracts: pd.DataFrame | None,
    limits: list[str],
) -> pd.DataFrame:
    """Provenance rows for flagged children.

    Parameters
    ----------
    flag_ids : ndarray of str
        One per flagged row.
    rows : DataFrame
        The flagged children's feature rows (same order).
    feature_names : list of str
        Model features (columns of ``contributions``).
    contributions : ndarray
        SHAP log-odds per flagged row and feature.
    dictionary : FeatureDictionary
        Feature descriptions (agency, direction).
    extracts : DataFrame or None
        Output of :func:`extract_dates`.
    limits : list of str
        Known limits of the model.

    Returns
    -------
    DataFrame
        Columns :data:`PROVENANCE_COLUMNS`.
    """
    entries = [dictionary.entries[n] for n in feature_names]
    agencies = sorted({e.source_agency for e in entries if e.group != CONTEXT_GROUP})
    meta = ({} if extracts is None or extracts.empty
            else extracts.set_index("agency").to_dict("index"))
    members = {a: [j for j, e in enumerate(entries)
                   if e.source_agency == a and e.group != CONTEXT_GROUP] for a in agencies}
    out: list[tuple] = []
    for i, fid in enumerate(flag_ids):
        for agency in agencies:
            idx = members[agency]
            cov_name = dictionary.coverage_feature(agency)
            coverage = None
            if cov_name is not None and cov_name in rows.columns:
                value = rows[cov_name].iloc[i]
                # Linked periods open now: 1 or more is full coverage.
                coverage = None if pd.isna(value) else min(max(float(value), 0.0), 1.0)
            total = float(contributions[i, idx].sum())
            label = GROUP_LABELS.get(agency, agency)
            if coverage is not None and coverage <= 0:
                effect = "no data linked for this family, so the model could not use it"
            elif abs(total) < 0.005:
                effect = "its records did not change this child's risk"
            else:
                effect = (f"its records {'raised' if total > 0 else 'lowered'} this child's "
                          f"risk {_strength(total)}")
            info = meta.get(agency, {})
            extra = [f"accessibility {info['accessibility']}"] if info.get("accessibility") else []
            if info.get("known_issues"):
                extra.append(f"known issues: {info['known_issues']}")
            note = f"{label}: {effect}" + (f" ({'; '.join(extra)})" if extra else "")
            extract = info.get("extract_date")
            out.append((fid, agency, None if pd.isna(extract) else pd.Timestamp(extract).date(),
                        coverage, note))
        for limit in limits:
            out.append((fid, MODEL_AGENCY, None, None, limit))
    frame = pd.DataFrame(out, columns=list(PROVENANCE_COLUMNS))
    return frame.astype({"coverage": "float64"})


def _limits_from_card(path: Path) -> list[str]:
    if path.suffix == ".json":
        card = json.loads(path.read_text(encoding="utf-8"))
        for key in LIMIT_KEYS:
            value = card.get(key)
            if value:
                return [value] if isinstance(value, str) else [str(v) for v in value]
        return []
    lines, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            inside = "limit" in line.lower()
        elif inside and line.lstrip().startswith(("-", "*")):
            lines.append(line.lstrip()[1:].strip())
    return lines


def _strength(log_odds: float) -> str:
    """Say how much a source moved a risk, in words rather than log-odds.

    A change of 1 in log-odds multiplies the odds by about 2.7, of 0.3 by 1.35.
    """
    size = abs(log_odds)
    return "strongly" if size >= 1.0 else "moderately" if size >= 0.3 else "slightly"


def default_limits(cfg: Any) -> list[str]:
    """Return known limits that hold for every model of a pipeline (no model card found)."""
    events = outcome_in_words(cfg.outcome.events)
    return [
        f"Estimates the chance of {events} within {cfg.outcome.horizon_days} days from linked "
        "records; it does not measure harm and must not decide eligibility or trigger an "
        "investigation.",
        "It sees only the agencies linked for this family: where coverage is low, risk can be "
        "under-estimated.",
        "No model card was found for this model version; read the ethics report before "
        "relying on it.",
    ]


def model_limits(loaded: Any, cfg: Any) -> list[str]:
    """Return the model's known limits: from its model card, else the run, else defaults.

    Looks for ``model_card.json`` (keys ``limitations``, ``limits`` or
    ``known_limits``) or ``model_card.md`` (bullets under a heading that
    mentions limits) among the training run's MLflow artifacts, then for a
    ``limits`` tag or param on the run (JSON list or text), then falls back to
    :func:`default_limits`.
    """
    from earlywarning.models._registry_io import find_run_artifact

    for name in ("model_card.json", "model_card.md"):
        path = find_run_artifact(loaded, name)
        if path is not None:
            limits = _limits_from_card(path)
            if limits:
                return limits
    if loaded.run_id:
        from mlflow import MlflowClient

        data = MlflowClient(tracking_uri=loaded.tracking_uri).get_run(loaded.run_id).data
        raw = data.tags.get("limits") or data.params.get("limits")
        if raw:
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = raw
            return [parsed] if isinstance(parsed, str) else [str(v) for v in parsed]
    return default_limits(cfg)
