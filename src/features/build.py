"""Build the point-in-time feature table of a pipeline.

Stages: check the pipeline against the warehouse -> children and as-of slots ->
cohort -> labels -> features (one spec at a time) -> context and audit columns
-> write ``features.parquet``, ``manifest.json`` and the feature dictionary to
a temporary folder, then swap it into ``<features.output_dir>/<name>/``.
Every check runs before anything is written, so a bad pipeline leaves the
previous output intact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot
from earlywarning.config import PipelineConfig, config_hash
from earlywarning.data.schema import ETHNICITY_MAJOR_GROUP, TABLES

from ._compute import compute_spec
from ._engine import Grid
from ._output import manifest as build_manifest
from ._output import write_output
from ._sql import CHILDREN_TABLE
from ._timeline import as_of_dates, from_days, to_days
from .cohort import (
    COHORTS,
    CohortResult,
    age_band,
    build_cohort,
    exclusion_specs,
    inclusion_specs,
)
from .dictionary import coverage_spec, dictionary_entries
from .labels import OUTCOME_SOURCES, build_labels
from .specs import CONTEXT_FEATURES, FeatureSpec, coverage_agencies, feature_column, resolve_specs

__all__ = [
    "FeatureBuildError", "BuildResult", "build_features", "plan_as_of", "all_specs",
    "compare_cohorts", "feature_columns", "load_feature_table",
]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each stage advances."""


class FeatureBuildError(ValueError):
    """The pipeline cannot be built against this warehouse; the message names the config key."""


@dataclass
class BuildResult:
    """What a build wrote."""

    out_dir: Path
    manifest: dict[str, Any]
    frame: pd.DataFrame


def all_specs(cfg: PipelineConfig) -> list[FeatureSpec]:
    """Library specs chosen by the pipeline plus one coverage indicator per agency used."""
    specs = resolve_specs(cfg)
    if cfg.features.coverage_indicators:
        specs += [coverage_spec(a) for a in coverage_agencies(specs)]
    return specs


def _warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}


def _check_tables(cfg: PipelineConfig, specs: list[FeatureSpec], present: set[str],
                  source: str) -> None:
    problems = []
    needed = {"ssd_person": "cohort.name", "ssd_family": "cohort.name",
              "ssd_address": "features"}
    for reason, spec in exclusion_specs().items():
        needed.setdefault(spec.table, f"cohort (exclusion {reason})")
    for spec in inclusion_specs(cfg.cohort.name, cfg.cohort.lookback_days):
        needed.setdefault(spec.table, f"cohort.name = {cfg.cohort.name!r}")
    for event in cfg.outcome.events:
        needed.setdefault(OUTCOME_SOURCES[event][0], f"outcome.events = {event!r}")
    for spec in specs:
        key = f"features (spec {spec.name!r}, agency {spec.agency!r})"
        needed.setdefault(spec.table, key)
        if spec.table == "ssd_assessment_factors":
            needed.setdefault("ssd_cin_assessments", key)
        if spec.subject in ("parents", "siblings"):
            needed.setdefault("ext_person_relationship", f"{key}, subject {spec.subject!r}")
    for table, key in needed.items():
        if TABLES[table].restricted:
            problems.append(f"{key}: table {table} is restricted and never read")
        elif table not in present:
            problems.append(f"{key}: table {table} is not in the warehouse {source}; load it, "
                            "or leave its agency out with features.sources")
    if problems:
        raise FeatureBuildError("\n".join(problems))


def _data_end(con: duckdb.DuckDBPyConnection, cfg: PipelineConfig, present: set[str]) -> date:
    if cfg.data.data_end is not None:
        return cfg.data.data_end
    if "ext_source_metadata" in present:
        row = con.execute("SELECT max(meta_extract_date) FROM ext_source_metadata "
                          "WHERE meta_agency = ?", ["csc"]).fetchone()
        if row and row[0] is not None:
            return row[0]
    latest = []
    for event in cfg.outcome.events:
        table = TABLES[OUTCOME_SOURCES[event][0]]
        q = sqlglot.exp.select(sqlglot.exp.Max(this=sqlglot.exp.cast(
            sqlglot.exp.column(table.recorded_at), "DATE"))).from_(table.name)
        value = con.execute(q.sql("duckdb")).fetchone()[0]
        if value is not None:
            latest.append(value)
    if not latest:
        raise FeatureBuildError(
            "data.data_end: the warehouse has no outcome records to date the data by; "
            "set data.data_end")
    return max(latest)


def plan_as_of(cfg: PipelineConfig, data_end: date, source: str = "") -> tuple[
        list[date], list[date]]:
    """Training and scoring as-of dates, checking training horizons are complete.

    Raises
    ------
    FeatureBuildError
        ``as_of.end`` names the problem when the last training date's horizon
        runs past ``data_end``; ``as_of.score`` when the score date is after it.
    """
    a = cfg.as_of
    h = cfg.outcome.horizon_days
    training = as_of_dates(a.start, a.end, a.frequency)
    prefix = f"{source}: " if source else ""
    if not training:
        raise FeatureBuildError(f"{prefix}as_of.start = {a.start}: no as-of dates up to as_of.end")
    last = training[-1]
    if to_days(last) + h > to_days(data_end):
        latest_ok = from_days(to_days(data_end) - h)
        raise FeatureBuildError(
            f"{prefix}as_of.end = {a.end}: the {h}-day horizon after the last training as-of "
            f"date {last} ends {from_days(to_days(last) + h)}, after the data ends on "
            f"{data_end}; training needs complete horizons: end on or before {latest_ok}")
    scoring = []
    if a.score is not None:
        if a.score > data_end:
            raise FeatureBuildError(
                f"{prefix}as_of.score = {a.score}: after the data ends on {data_end}")
        scoring.append(a.score)
    return training, scoring


_PERSON_SQL = """
SELECT pers_person_id AS person_id,
       date_diff('day', DATE '1970-01-01', pers_dob) AS dob_day,
       date_diff('day', DATE '1970-01-01', CAST(pers_dob + INTERVAL 18 YEAR AS DATE)) AS adult_day,
       date_diff('day', DATE '1970-01-01', coalesce(pers_death_date, DATE '9999-12-31'))
           AS death_day,
       pers_sex AS sex, pers_ethnicity AS ethnicity
FROM ssd_person
WHERE pers_is_child = 'Y' AND pers_dob IS NOT NULL
ORDER BY pers_person_id
"""

_AT_AS_OF_SQL = """
WITH addr AS (
    SELECT addr_person_id, addr_imd_decile, addr_address_postcode,
           coalesce(addr_address_end_date, DATE '9999-12-31') AS until_date,
           greatest(addr_address_start_date, CAST(addr_recorded_at AS DATE)) AS known_date
    FROM ssd_address
    -- one row per person and day known, the latest move: the as-of join would pick any
    -- of two addresses first known the same day, and the features change run to run
    QUALIFY row_number() OVER (
        PARTITION BY addr_person_id,
                     greatest(addr_address_start_date, CAST(addr_recorded_at AS DATE))
        ORDER BY addr_address_start_date DESC NULLS LAST,
                 addr_address_end_date DESC NULLS FIRST, addr_table_id DESC) = 1
), fam AS (
    SELECT fami_person_id, fami_family_id,
           greatest(fami_start_date, CAST(fami_recorded_at AS DATE)) AS known_date
    FROM ssd_family
    QUALIFY row_number() OVER (
        PARTITION BY fami_person_id, greatest(fami_start_date, CAST(fami_recorded_at AS DATE))
        ORDER BY fami_start_date DESC NULLS LAST, fami_table_id DESC) = 1
), first_family AS (
    SELECT fami_person_id, fami_family_id AS family_id
    FROM ssd_family
    QUALIFY row_number() OVER (PARTITION BY fami_person_id
                               ORDER BY fami_start_date NULLS LAST, fami_table_id) = 1
), disabled AS (
    SELECT DISTINCT disa_person_id FROM ssd_disability WHERE disa_disability_code <> 'NONE'
)
SELECT r.row_id,
       CASE WHEN a.until_date > r.as_of THEN a.addr_imd_decile END AS imd_decile,
       CASE WHEN a.until_date > r.as_of THEN a.addr_address_postcode END AS postcode,
       coalesce(f.fami_family_id, ff.family_id, r.person_id) AS family_id,
       CASE WHEN d.disa_person_id IS NULL THEN 'N' ELSE 'Y' END AS disability
FROM _rows AS r
ASOF LEFT JOIN addr AS a ON r.person_id = a.addr_person_id AND r.as_of >= a.known_date
ASOF LEFT JOIN fam AS f ON r.person_id = f.fami_person_id AND r.as_of >= f.known_date
LEFT JOIN first_family AS ff ON r.person_id = ff.fami_person_id
LEFT JOIN disabled AS d ON r.person_id = d.disa_person_id
ORDER BY r.row_id
"""
"""Address, family and disability at each row's as-of date (fixed SQL: no values in it)."""


def _register_children(con: duckdb.DuckDBPyConnection, slot_days: np.ndarray
                       ) -> tuple[pd.DataFrame, Grid]:
    people = con.execute(_PERSON_SQL).fetchdf()
    n = len(people)
    con.register(CHILDREN_TABLE, pa.table({
        "person_id": pa.array(people["person_id"].astype(str).to_numpy(), pa.string()),
        "cidx": pa.array(np.arange(n, dtype=np.int32)),
    }))
    return people, Grid(slot_days=slot_days, n_children=n)


def _cohort(con: duckdb.DuckDBPyConnection, grid: Grid, people: pd.DataFrame, name: str,
            lookback_days: int) -> CohortResult:
    return build_cohort(
        con, grid, people["dob_day"].to_numpy(np.int64), people["adult_day"].to_numpy(np.int64),
        people["death_day"].to_numpy(np.int64), name, lookback_days)


def compare_cohorts(cfg: PipelineConfig, cohorts: tuple[str, ...] = COHORTS) -> pd.DataFrame:
    """Cohort size and base rate at each training as-of date, for each cohort definition.

    Helps choose a pipeline's cohort: same warehouse, outcome, horizon and
    dates, only ``cohort.name`` varies.

    Returns
    -------
    DataFrame
        Columns ``as_of``, ``cohort``, ``n_children``, ``n_positive``, ``base_rate``.
    """
    con = duckdb.connect(str(cfg.data.warehouse), read_only=True)
    try:
        data_end = _data_end(con, cfg, _warehouse_tables(con))
        training, _ = plan_as_of(cfg, data_end)
        slot_days = np.array([to_days(d) for d in training], dtype=np.int64)
        people, grid = _register_children(con, slot_days)
        labels = build_labels(con, grid, cfg.outcome.events, cfg.outcome.horizon_days, data_end)
        rows = []
        for name in cohorts:
            member = _cohort(con, grid, people, name, cfg.cohort.lookback_days).member
            n = member.sum(axis=0)
            pos = (member & (labels.label == 1)).sum(axis=0)
            for i, d in enumerate(training):
                rows.append({"as_of": d, "cohort": name, "n_children": int(n[i]),
                             "n_positive": int(pos[i]),
                             "base_rate": float(pos[i] / n[i]) if n[i] else float("nan")})
        return pd.DataFrame(rows)
    finally:
        con.close()


def _tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def build_features(cfg: PipelineConfig, *, source: str = "", progress: Progress | None = None,
                   write: bool = True) -> BuildResult:
    """Build (and by default write) the feature table of a pipeline.

    Parameters
    ----------
    cfg : PipelineConfig
    source : str
        The pipeline file, for error messages.
    progress : callable, optional
        ``progress(stage, done, total)``.
    write : bool
        Write the output folder (default) or only return the frame.

    Returns
    -------
    BuildResult

    Raises
    ------
    FeatureBuildError
        The warehouse is missing, lacks a table a spec needs, the training
        horizons are incomplete, or the cohort is empty. Nothing is written.
    """
    specs = all_specs(cfg)
    warehouse = Path(cfg.data.warehouse)
    prefix = f"{source}: " if source else ""
    if not warehouse.is_file():
        raise FeatureBuildError(f"{prefix}data.warehouse = '{warehouse}': no such warehouse; "
                                "run `earlywarning load` first")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return _build(cfg, con, specs, str(warehouse), prefix, source, progress, write)
    finally:
        con.close()


def _build(cfg: PipelineConfig, con: duckdb.DuckDBPyConnection, specs: list[FeatureSpec],
           warehouse: str, prefix: str, source: str, progress: Progress | None,
           write: bool) -> BuildResult:
    present = _warehouse_tables(con)
    try:
        _check_tables(cfg, specs, present, warehouse)
    except FeatureBuildError as exc:
        raise FeatureBuildError("\n".join(prefix + line for line in str(exc).splitlines())
                                ) from None
    data_end = _data_end(con, cfg, present)
    training, scoring = plan_as_of(cfg, data_end, source)
    slot_dates = training + scoring
    slot_days = np.array([to_days(d) for d in slot_dates], dtype=np.int64)

    _tick(progress, "cohort", 0, 3)
    people, grid = _register_children(con, slot_days)
    cohort = _cohort(con, grid, people, cfg.cohort.name, cfg.cohort.lookback_days)
    n_train = len(training)
    if not cohort.member[:, :n_train].any():
        raise FeatureBuildError(
            f"{prefix}cohort.name = {cfg.cohort.name!r}: the cohort is empty at every training "
            f"as-of date from {training[0]} to {training[-1]} (lookback "
            f"{cfg.cohort.lookback_days} days); check the warehouse or choose another cohort")
    _tick(progress, "cohort", 1, 3)

    labels = build_labels(con, grid, cfg.outcome.events, cfg.outcome.horizon_days, data_end)
    _tick(progress, "cohort", 2, 3)
    # rows ordered by as-of date, then person id
    slot_idx, cidx = np.nonzero(cohort.member.T)
    as_of_col = np.array(slot_dates, dtype="datetime64[D]")[slot_idx]
    label = labels.label[cidx, slot_idx]
    event_day = labels.event_day[cidx, slot_idx]
    event_day[np.isnan(label)] = np.nan
    _tick(progress, "cohort", 3, 3)

    columns: dict[str, np.ndarray] = {}
    for i, spec in enumerate(specs):
        _tick(progress, "features", i, len(specs))
        for name, values in compute_spec(con, spec, grid).items():
            columns[name] = values[cidx, slot_idx].astype(np.float32)
    _tick(progress, "features", len(specs), len(specs))

    _tick(progress, "context", 0, 1)
    rows = pd.DataFrame({"row_id": np.arange(len(cidx)),
                         "person_id": people["person_id"].to_numpy()[cidx],
                         "as_of": as_of_col})
    con.register("_rows", rows)
    at = con.execute(_AT_AS_OF_SQL).fetchdf()
    con.unregister("_rows")
    age_years = cohort.age_days[cidx, slot_idx] / 365.25
    imd = pd.to_numeric(at["imd_decile"], errors="coerce").to_numpy(np.float64)
    columns["child_age_years_now"] = age_years.astype(np.float32)
    columns["address_imd_decile_now"] = imd.astype(np.float32)
    _tick(progress, "context", 1, 1)

    frame = pd.DataFrame({
        "person_id": rows["person_id"].astype("string"),
        "family_id": at["family_id"].astype("string").to_numpy(),
        "as_of": pd.Series(as_of_col).dt.date,
        "cohort": pd.Series([cfg.cohort.name] * len(rows), dtype="string"),
        "label": pd.array(np.where(np.isnan(label), pd.NA, label), dtype="Int8"),
        "label_event_date": pd.Series([None if np.isnan(d) else from_days(int(d))
                                       for d in event_day], dtype="object"),
    })
    feature_frame = pd.DataFrame(columns)
    postcode = at["postcode"].astype("string")
    district = postcode.str.split(" ").str[0].fillna("Unknown")
    audit = pd.DataFrame({
        "audit_ethnicity": people["ethnicity"].map(ETHNICITY_MAJOR_GROUP).fillna("Unknown")
        .to_numpy()[cidx],
        "audit_sex": people["sex"].to_numpy()[cidx],
        "audit_age_band": age_band(age_years),
        "audit_disability": at["disability"].to_numpy(),
        "audit_imd_quintile": pd.array(np.where(np.isnan(imd), pd.NA, np.ceil(imd / 2)),
                                       dtype="Int8"),
        "audit_area": district.to_numpy(),
    }).astype({c: "string" for c in ("audit_ethnicity", "audit_sex", "audit_age_band",
                                     "audit_disability", "audit_area")})
    frame = pd.concat([frame, feature_frame, audit], axis=1)

    entries = dictionary_entries(specs)
    manifest = build_manifest(cfg, con, present, frame, slot_dates, labels.complete, n_train,
                         list(feature_frame.columns), list(audit.columns), cohort.counts,
                         data_end, source)
    out_dir = Path(cfg.features.output_dir) / cfg.name
    if write:
        write_output(out_dir, frame, manifest, entries, cfg.name)
    return BuildResult(out_dir=out_dir, manifest=manifest, frame=frame)


def context_columns() -> list[str]:
    """Names of the context features (age, deprivation) added to every table."""
    return [c.name for c in CONTEXT_FEATURES]


def feature_columns(cfg: PipelineConfig) -> list[str]:
    """All feature column names a pipeline produces, in table order."""
    cols = []
    for spec in all_specs(cfg):
        windows = (None,) if spec.aggregate == "open" else (spec.windows or (None,))
        cols += [feature_column(spec, w) for w in windows]
    return cols + context_columns()


def load_feature_table(cfg: PipelineConfig) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """Read a pipeline's written feature table and manifest if built from this config.

    Returns
    -------
    (DataFrame, dict) or None
        ``None`` when there is no table, or it was built from another config.
    """
    folder = Path(cfg.features.output_dir) / cfg.name
    manifest_path = folder / "manifest.json"
    if not (manifest_path.is_file() and (folder / "features.parquet").is_file()):
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("config_hash") != config_hash(cfg):
        return None
    return pd.read_parquet(folder / "features.parquet"), manifest
