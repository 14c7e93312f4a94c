"""Reading the feature table and checking it belongs to the pipeline.

The feature table (``data/features/<pipeline>/``) is written by
``earlywarning features``; a model trained on a table built from another
configuration would be evaluated on the wrong question, so every mismatch
with the pipeline file is an error naming the manifest key and both values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FeatureTableError",
    "FeatureTable",
    "feature_table_dir",
    "load_feature_table",
    "ground_truth_path",
    "attach_ground_truth",
]

ID_COLUMNS = ("person_id", "family_id", "as_of", "cohort", "label", "label_event_date")
MISMATCH = (
    "feature table {path}: manifest {key} = {found!r} but the pipeline file says {expected!r}; "
    "rebuild it with `earlywarning features <pipeline.yaml>`"
)


class FeatureTableError(ValueError):
    """The feature table is missing, malformed or from another configuration."""


@dataclass
class FeatureTable:
    """A loaded feature table.

    Attributes
    ----------
    directory : Path
    frame : pandas.DataFrame
    manifest : dict
    dictionary : list of dict
    feature_columns : list of str
    audit_columns : list of str
    """

    directory: Path
    frame: pd.DataFrame
    manifest: dict
    dictionary: list[dict]
    feature_columns: list[str]
    audit_columns: list[str]

    def agency_of(self) -> dict[str, str]:
        """Map feature name → ``source_agency`` from the feature dictionary."""
        return {e["name"]: str(e.get("source_agency") or "unknown") for e in self.dictionary}


def feature_table_dir(cfg: Any) -> Path:
    """``<features.output_dir>/<name>``, where ``earlywarning features`` writes.

    Parameters
    ----------
    cfg : PipelineConfig

    Returns
    -------
    Path
    """
    return Path(cfg.features.output_dir) / cfg.name


def _events(value: Any) -> set[str]:
    if isinstance(value, str):
        return {p.strip() for p in value.split("|") if p.strip()}
    return {str(p).strip() for p in value}


def _expected_features_hash(cfg: Any) -> str | None:
    """Return the features stage's own hash of the pipeline, if it exposes one."""
    try:
        from earlywarning import features as feat
    except ImportError:
        return None
    fn = getattr(feat, "features_config_hash", None)
    return fn(cfg) if callable(fn) else None


def _training_dates(cfg: Any) -> list[str] | None:
    try:
        from earlywarning.features import as_of_dates
    except ImportError:
        return None
    a = cfg.as_of
    return [d.isoformat() for d in as_of_dates(a.start, a.end, a.frequency)]


def _span(dates: list[str]) -> str:
    return f"{len(dates)} dates {dates[0]} .. {dates[-1]}" if dates else "no dates"


def load_feature_table(cfg: Any, directory: Path | None = None) -> FeatureTable:
    """Load and check ``features.parquet``, ``manifest.json`` and the dictionary.

    Parameters
    ----------
    cfg : PipelineConfig
    directory : Path, optional
        Default :func:`feature_table_dir`.

    Returns
    -------
    FeatureTable

    Raises
    ------
    FeatureTableError
        A file is missing; the manifest's pipeline, cohort, outcome, horizon,
        training as-of dates (or the features' own configuration hash, when
        the features stage exposes ``features_config_hash``) differ from the
        pipeline file; a declared column is missing; a protected
        characteristic is used as a feature without the pipeline saying so.
    """
    directory = Path(directory) if directory is not None else feature_table_dir(cfg)
    files = {n: directory / n for n in ("features.parquet", "manifest.json",
                                        "feature_dictionary.json")}
    for name, path in files.items():
        if not path.is_file():
            raise FeatureTableError(
                f"feature table {directory}: {name} not found; build it with "
                "`earlywarning features <pipeline.yaml>`"
            )
    manifest = json.loads(files["manifest.json"].read_text(encoding="utf-8"))
    mpath = files["manifest.json"]
    checks = [
        ("pipeline", manifest.get("pipeline"), cfg.name),
        ("horizon_days", manifest.get("horizon_days"), cfg.outcome.horizon_days),
    ]
    for key, found, expected in checks:
        if found != expected:
            raise FeatureTableError(MISMATCH.format(path=mpath, key=key, found=found,
                                                    expected=expected))
    if _events(manifest.get("outcome", "")) != set(cfg.outcome.events):
        raise FeatureTableError(MISMATCH.format(path=mpath, key="outcome",
                                                found=manifest.get("outcome"),
                                                expected=" | ".join(cfg.outcome.events)))
    if "cohort" in manifest and manifest["cohort"] != cfg.cohort.name:
        raise FeatureTableError(MISMATCH.format(path=mpath, key="cohort",
                                                found=manifest["cohort"],
                                                expected=cfg.cohort.name))
    found_dates = sorted(
        str(e["date"]) for e in manifest.get("as_of_dates", [])
        if e.get("role", "train" if e.get("horizon_complete") else "score") == "train"
    )
    expected_dates = _training_dates(cfg)
    if expected_dates is not None and found_dates != expected_dates:
        raise FeatureTableError(MISMATCH.format(
            path=mpath, key="as_of_dates (training)",
            found=_span(found_dates), expected=_span(expected_dates)))
    expected_hash = _expected_features_hash(cfg)
    if expected_hash is not None and manifest.get("config_hash") != expected_hash:
        raise FeatureTableError(MISMATCH.format(path=mpath, key="config_hash",
                                                found=manifest.get("config_hash"),
                                                expected=expected_hash))
    frame = pd.read_parquet(files["features.parquet"])
    feature_columns = list(manifest.get("feature_columns") or [])
    audit_columns = list(manifest.get("audit_columns") or [])
    if not feature_columns:
        raise FeatureTableError(f"feature table {mpath}: feature_columns is empty")
    missing = [c for c in (*ID_COLUMNS, *feature_columns, *audit_columns)
               if c not in frame.columns]
    if missing:
        raise FeatureTableError(
            f"feature table {files['features.parquet']}: columns named in the manifest are "
            f"missing: {missing[:10]}"
        )
    protected = [c for c in feature_columns if c.startswith("audit_")]
    if protected and not getattr(cfg.features, "protected_as_features", False):
        raise FeatureTableError(
            f"feature table {mpath}: audit columns {protected} are listed as features but "
            "features.protected_as_features is false"
        )
    dictionary = json.loads(files["feature_dictionary.json"].read_text(encoding="utf-8"))
    known = {e.get("name") for e in dictionary}
    undocumented = [c for c in feature_columns if c not in known]
    if undocumented:
        raise FeatureTableError(
            f"feature table {files['feature_dictionary.json']}: no dictionary entry for "
            f"{undocumented[:10]}"
        )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return FeatureTable(directory, frame, manifest, dictionary, feature_columns, audit_columns)


def ground_truth_path(cfg: Any, warehouse_source: str | None = None) -> Path | None:
    """Where the synthetic LA's ``ground_truth/child_month.parquet`` is, if anywhere.

    Looks in the pipeline's ``data.synthetic.out`` folder, then in the folder
    the warehouse was loaded from.

    Parameters
    ----------
    cfg : PipelineConfig
    warehouse_source : str, optional
        ``source_path`` from the warehouse's ``_warehouse_meta``.

    Returns
    -------
    Path or None
    """
    candidates = []
    synthetic = getattr(cfg.data, "synthetic", None)
    if synthetic is not None:
        candidates.append(Path(synthetic.out))
    if warehouse_source:
        candidates.append(Path(warehouse_source))
    for folder in candidates:
        path = folder / "ground_truth" / "child_month.parquet"
        if path.is_file():
            return path
    return None


def attach_ground_truth(rows: pd.DataFrame, path: Path, columns: list[str]) -> pd.DataFrame:
    """Return ground-truth ``columns`` for each (person_id, as_of) row, NaN where unknown.

    Ground truth is defined for the month starting at ``month``; an as-of date
    is matched to the month it falls in. The file is read once, for every
    column asked, and only for the months from the rows' first to their last
    (a test period's rows need a few of the file's 120 months); a column the
    file does not have comes back all NaN.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``person_id`` and ``as_of``.
    path : Path
        ``ground_truth/child_month.parquet``.
    columns : list of str
        Ground-truth columns, e.g. ``["p_true", "p_recorded"]``.

    Returns
    -------
    pandas.DataFrame aligned with ``rows``, one column per name in ``columns``
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    present = [c for c in columns if c in schema.names]
    out = pd.DataFrame({c: float("nan") for c in columns}, index=rows.index)
    if not present or not len(rows):
        return out
    months = pd.to_datetime(rows["as_of"]).dt.to_period("M")
    filters = None
    if pa.types.is_date32(schema.field("month").type):  # else read whole: any day matches
        filters = [("month", ">=", months.min().start_time.date()),
                   ("month", "<=", months.max().end_time.date())]
    truth = pd.read_parquet(path, columns=["person_id", "month", *present], filters=filters)
    truth["month"] = pd.to_datetime(truth["month"]).dt.to_period("M")
    key = pd.DataFrame({"person_id": rows["person_id"].astype(str).to_numpy(),
                        "month": months.to_numpy()})
    truth["person_id"] = truth["person_id"].astype(str)
    merged = key.merge(truth.drop_duplicates(["person_id", "month"]), on=["person_id", "month"],
                       how="left")
    for c in present:
        out[c] = merged[c].to_numpy()
    return out

