"""The synthetic local authority: a stated causal model of children and their families.

A product feature, not a test fixture: users try the platform on it before
linking real data, and because its truth is known it measures what no real LA
can (the gap to the oracle, whether explanations name the true drivers,
whether a fairness audit finds bias that was put in). The model is documented
where it is implemented:

1. places, families and people: ``_population``;
2. latent family adversity and its problem domains: ``_adversity``;
3. the escalation hazard and the true probability kept as ground truth: ``_hazard``;
4. what happens after a referral: ``_pathways``;
5. agency events (noisy records of the domains): ``_events``, ``_agency``, ``_schools``;
6. coverage and recording lag of each agency: ``_frames``.

Every knob is in :class:`SyntheticConfig`. Defaults reproduce England's rates
(``REFERENCE.md``) for a 60,000-child LA; :func:`calibration_report` measures them.

Public API
----------
- :func:`build_tables` - tables and ground truth in memory;
- :func:`generate_la` - the same, written to a folder (the ``earlywarning generate`` command);
- :func:`calibration_report` - measured rates beside England's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._calibration import TARGETS, calibration_report
from earlywarning.data.synthetic._config import (
    AgencyConfig,
    BiasConfig,
    CoverageGap,
    DefectConfig,
    GroupSelector,
    SyntheticConfig,
    load_config,
)

__all__ = [
    "AgencyConfig",
    "BiasConfig",
    "CoverageGap",
    "DefectConfig",
    "GenerationSummary",
    "GroupSelector",
    "SyntheticConfig",
    "TARGETS",
    "build_tables",
    "calibration_report",
    "generate_la",
    "load_config",
]

ProgressCallback = Callable[[str, float, float], None]
DIRTY_QUEUE_CHILD_JOBS = 2_000_000
"""Tables (or parts) that may wait to be corrupted and converted: this over the LA's
children, from 2 to 32. A small LA's tables are small, so the builders run ahead instead of
waiting for the writer; a large LA keeps two, so its peak memory stays bounded."""


@dataclass
class GenerationSummary:
    """What :func:`generate_la` wrote and measured."""

    out: Path
    row_counts: dict[str, int]
    ground_truth_rows: int
    defects: int
    calibration: pd.DataFrame
    model: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def agency_event_rows(self) -> int:
        """Rows across the partner-agency and social-care event tables."""
        from earlywarning.data.schema import event_tables

        names = {t.name for t in event_tables()}
        people = {"ssd_family", "ext_person_relationship", "ssd_address",
                  "ssd_immigration_status", "ext_service_involvement", "ssd_involvements"}
        return sum(n for t, n in self.row_counts.items() if t in names and t not in people)


def _with_ancillary(tables: dict[str, pd.DataFrame], config: SyntheticConfig,
                    emit=None, context_ready=None) -> dict:  # noqa: ANN001
    from earlywarning.data.synthetic._ancillary import add_ancillary_tables
    from earlywarning.data.synthetic._write import LARGE_LA_CHILDREN

    # a large LA builds them one after another: at 1M, voice beside the services saved
    # 0-4 s for 0.2-0.4 GB more at the peak (7.5-7.8 GB, too near the 8 GB budget)
    beside = ("identity", "voice") if config.children < LARGE_LA_CHILDREN else ()
    return add_ancillary_tables(tables, config, np.random.default_rng([config.seed, 20]),
                                emit=emit, beside=beside, context_ready=context_ready)


def build_tables(config: SyntheticConfig) -> tuple[dict[str, pd.DataFrame],
                                                   dict[str, pd.DataFrame]]:
    """Generate a synthetic LA in memory (clean: no data-quality defects).

    Parameters
    ----------
    config : SyntheticConfig

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        One DataFrame per table of ``schema.py``, columns exactly as declared.
    ground_truth : dict of str to pandas.DataFrame
        ``child_month`` (person_id, month, adversity, p_true, driver_1..3,
        unobserved_share, p_need, p_recorded) and ``family`` (baseline adversity, groups).
    """
    from earlywarning.data.synthetic._build import build
    from earlywarning.memory import without_huge_pages

    with without_huge_pages():
        built = build(config)
        return _with_ancillary(built.tables, config), built.ground_truth


def generate_la(config: SyntheticConfig, out: Path, fmt: str = "parquet",
                progress: ProgressCallback | None = None) -> GenerationSummary:
    """Generate a synthetic LA and write it to ``out`` (replaced atomically).

    Writes one file per table (``<table>.parquet`` or ``.csv``), the
    ``ground_truth/`` folder (``child_month.parquet``, ``family.parquet``,
    ``defects.parquet``: the log of injected defects) and ``generation.json``
    (config, seed, row counts, annual funnel and calibration checks, the
    hazard's fitted intercepts and the measured unobserved share). Same config
    and seed give byte-identical files. The largest partner tables are written
    (with their defects) as soon as they are built, so memory stays bounded.

    Parameters
    ----------
    config : SyntheticConfig
    out : Path
        Output folder.
    fmt : {"parquet", "csv"}
        File format of the tables (ground truth is always Parquet).
    progress : callable, optional
        ``progress(stage, done, total)`` for progress bars.

    Returns
    -------
    GenerationSummary
    """
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    from earlywarning.data.schema import TABLES
    from earlywarning.data.synthetic._ancillary import ANCILLARY_CHANGES, ANCILLARY_READS
    from earlywarning.data.synthetic._build import build, gt_arrow
    from earlywarning.data.synthetic._defects import inject_defects_parts
    from earlywarning.data.synthetic._worker import OrderedWorker
    from earlywarning.data.synthetic._write import (
        LARGE_LA_CHILDREN,
        GroundTruthWriter,
        PartWriter,
        atomic_dir,
        keep_freed_memory_small,
        slim,
        writable,
        write_and_free,
        write_json,
    )
    from earlywarning.memory import without_huge_pages

    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format {fmt!r}: use 'parquet' or 'csv'")
    out = Path(out)
    timings: dict[str, float] = {}
    order = {name: k for k, name in enumerate(TABLES)}
    counts: dict[str, int] = {}
    emitted: set[str] = set()
    logs: list[tuple[tuple[int, int], pd.DataFrame]] = []
    with (without_huge_pages(), atomic_dir(out) as tmp,
          ThreadPoolExecutor(max_workers=2) as pool,
          ThreadPoolExecutor(max_workers=1) as side, ExitStack() as stop_on_exit):
        (tmp / "ground_truth").mkdir()
        writer = GroundTruthWriter(tmp / "ground_truth" / "child_month.parquet")
        pending = []
        streams: dict[str, PartWriter] = {}
        # on an error, before the folder is removed, no thread keeps writing into it (in the
        # reverse order: the ground truth's source, the defects, then the writers); each
        # call is a no-op once its jobs were waited for
        stop_on_exit.callback(writer.abort)
        stop_on_exit.callback(lambda: [s.abort() for s in streams.values()])
        # defects and Arrow conversion run on one worker, in emission order (so the
        # defect log and the parts of a table keep their order), while tables are built
        dirty = OrderedWorker(
            max_queued=int(np.clip(DIRTY_QUEUE_CHILD_JOBS // config.children, 2, 32)))
        stop_on_exit.callback(dirty.cancel)

        def sink_factory(idx, pop):  # noqa: ANN001, ANN202
            writer.convert = lambda c: gt_arrow(idx, c, c["day"])
            return lambda day, cols: writer.write({**cols, "day": day})

        def corrupt_and_write(name: str, box: list, part: tuple[int, bool] | None) -> None:
            df = box.pop()
            key = [config.seed, 21, order.get(name, 99), *(() if part is None else part[:1])]
            parts, log = inject_defects_parts(name, df, config.defects.rate,
                                              np.random.default_rng(key),
                                              list(config.defects.kinds), config.end_date)
            del df
            n = sum(len(p) for p in parts)
            logs.append(((order.get(name, 99), 0 if part is None else part[0]), log))
            # converted here, so the dirty frames are freed before the write is queued
            data = writable(name, parts, fmt)
            del parts
            if part is None:
                counts[name] = n
                pending.append(pool.submit(write_and_free, name, [data], tmp, fmt))
                return
            counts[name] = counts.get(name, 0) + n
            streams.setdefault(name, PartWriter(name, tmp, fmt)).write(data)
            if part[1]:
                pending.append(pool.submit(streams.pop(name).close))

        def emit(name: str, df: pd.DataFrame, part: tuple[int, bool] | None = None,
                 ) -> pd.DataFrame:
            """Corrupt and queue ``df`` for writing; ``part=(k, last)`` for a table in parts."""
            emitted.add(name)
            dirty.submit(corrupt_and_write, name, [df], part)
            return df

        def emit_and_slim(name: str, df: pd.DataFrame,
                          part: tuple[int, bool] | None = None) -> pd.DataFrame:
            emit(name, df, part)
            return slim(name, df, config.end_date)

        built = build(config, gt_sink=sink_factory, stage=progress, emit=emit_and_slim)
        stop_on_exit.callback(built.stop_ground_truth)
        timings.update(built.timings)
        t = time.perf_counter()
        # tables the ancillary step reads but does not change are written now, in full
        for name in sorted(set(built.tables) & ANCILLARY_READS - ANCILLARY_CHANGES - emitted):
            emit(name, built.tables[name])
        # the report reads no ancillary table or column: measured on a thread of its own,
        # from the tables as built (a copy of the dict: the ones here are slimmed next),
        # while the ancillary step runs; for a large LA only while the ancillary context
        # is built, so that the report's memory peak does not add to the builders'
        calib_job = side.submit(calibration_report, dict(built.tables))
        large = config.children >= LARGE_LA_CHILDREN
        for name in sorted(set(built.tables) - ANCILLARY_READS - emitted):
            built.tables[name] = emit_and_slim(name, built.tables[name])
        keep_freed_memory_small("tables")
        timings["calibration"] = time.perf_counter() - t
        t = time.perf_counter()
        tables = _with_ancillary(built.tables, config, emit=emit_and_slim,
                                 context_ready=calib_job.result if large else None)
        built.tables = {}  # the ancillary step copied what it changed: drop the originals
        keep_freed_memory_small("tables")
        timings["ancillary"] = time.perf_counter() - t
        t = time.perf_counter()
        rest = sorted(n for n in tables if n not in emitted)
        for name in rest:
            emit(name, tables.pop(name))
        dirty.wait()
        calib = calib_job.result()
        for i, f in enumerate(pending):
            f.result()
            if progress is not None:
                progress("write", i + 1, len(pending))
        built.wait_ground_truth()
        writer.close()
        write_table_gt(built.ground_truth["family"], tmp / "ground_truth" / "family.parquet")
        # the log in table order (tables are emitted in an order set by how they are built)
        logs.sort(key=lambda kv: kv[0])
        log = pd.concat([lg for _, lg in logs], ignore_index=True) if logs else pd.DataFrame()
        write_table_gt(log, tmp / "ground_truth" / "defects.parquet")
        counts = {n: counts[n] for n in sorted(counts)}
        write_json(tmp / "generation.json", {
            "config": config.model_dump(mode="json"), "seed": config.seed, "format": fmt,
            "row_counts": counts, "ground_truth_rows": writer.rows, "defects_injected": len(log),
            "hazard_model": built.calibration, "funnel_counts": _funnel_counts(calib),
            "calibration": calib.replace({np.nan: None}).to_dict(orient="records"),
        })
        timings["write"] = time.perf_counter() - t
    return GenerationSummary(out=out, row_counts=counts, ground_truth_rows=writer.rows,
                             defects=len(log), calibration=calib, model=built.calibration,
                             timings=timings)


def _funnel_counts(calib: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Annual counts (year ending 31 March) from the per-10,000 rates of the report."""
    yearly = calib[calib["year"] != "all"]
    children = yearly[yearly["measure"] == "children"].set_index("year")["value"]
    out: dict[str, dict[str, int]] = {}
    for _, r in yearly[yearly["measure"].str.endswith("_per_10k")].iterrows():
        name = r["measure"].removesuffix("_per_10k")
        out.setdefault(r["year"], {})[name] = int(round(r["value"] * children[r["year"]] / 1e4))
    return out


def write_table_gt(df: pd.DataFrame, path: Path) -> None:
    """Write a ground-truth DataFrame deterministically (no pandas metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from earlywarning.data.synthetic._write import PARQUET_OPTIONS

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, use_dictionary=True, **PARQUET_OPTIONS)
