"""Write a feature table: manifest (with base rates per as-of date) and atomic output folder."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from earlywarning.config import PipelineConfig, config_hash

from .dictionary import dictionary_json, dictionary_markdown

__all__ = ["fingerprint", "manifest", "write_output"]


def fingerprint(con: duckdb.DuckDBPyConnection, present: set[str]) -> str | None:
    """Return the warehouse's content fingerprint from ``_warehouse_meta`` (None if absent)."""
    if "_warehouse_meta" not in present:
        return None
    row = con.execute("SELECT value FROM _warehouse_meta WHERE key = ?",
                      ["fingerprint"]).fetchone()
    return None if row is None else str(row[0])


def manifest(cfg: PipelineConfig, con: duckdb.DuckDBPyConnection, present: set[str],
              frame: pd.DataFrame, slot_dates: list[date], complete: np.ndarray, n_train: int,
              feature_columns: list[str], audit_columns: list[str],
              counts: dict[str, np.ndarray], data_end: date, source: str) -> dict[str, Any]:
    """Build ``manifest.json``: config hash, fingerprint, row counts, base rate per as-of date."""
    per_date = []
    grouped = frame.groupby("as_of", sort=True)["label"]
    n_rows = grouped.size()
    n_pos = grouped.sum(min_count=1)
    for i, d in enumerate(slot_dates):
        rows = int(n_rows.get(d, 0))
        pos = n_pos.get(d, pd.NA)
        done = bool(complete[i])
        positive = int(pos) if done and not pd.isna(pos) else (0 if done else None)
        per_date.append({
            "date": d.isoformat(), "role": "train" if i < n_train else "score",
            "n_rows": rows, "n_positive": positive,
            "base_rate": (positive / rows) if done and rows else None,
            "horizon_complete": done,
            "cohort_counts": {k: int(v[i]) for k, v in counts.items()},
        })
    return {
        "pipeline": cfg.name,
        "pipeline_file": source,
        "config_hash": config_hash(cfg),
        "warehouse_fingerprint": fingerprint(con, present),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cohort": cfg.cohort.name,
        "outcome": cfg.outcome.label,
        "horizon_days": cfg.outcome.horizon_days,
        "data_end": data_end.isoformat(),
        "point_in_time": "features use records with event date <= as_of and recorded on or "
                         "before as_of; labels use outcome event dates in (as_of, as_of + "
                         "horizon]",
        "as_of_dates": per_date,
        "feature_columns": feature_columns,
        "audit_columns": audit_columns,
        "row_count": int(len(frame)),
    }


def write_output(out_dir: Path, frame: pd.DataFrame, manifest: dict[str, Any],
           entries: list[dict[str, Any]], name: str) -> None:
    """Write to a sibling temp folder, then swap it in (the old output survives a failure)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.cast(pa.schema([
            pa.field(f.name, pa.date32()) if f.name in ("as_of", "label_event_date") else f
            for f in table.schema], metadata=table.schema.metadata))
        pq.write_table(table, tmp / "features.parquet")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        (tmp / "feature_dictionary.json").write_text(dictionary_json(entries), encoding="utf-8")
        (tmp / "feature_dictionary.md").write_text(dictionary_markdown(entries, name),
                                                   encoding="utf-8")
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
