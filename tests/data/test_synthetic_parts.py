"""Tables written in parts (the school attendance table at scale, the ground truth month by
month) read back as one table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from earlywarning.data.synthetic import SyntheticConfig, _schools, generate_la
from earlywarning.data.synthetic._schools import _term_parts


def test_term_parts_cover_every_row_once_and_never_split_a_term():
    ends = np.repeat(np.arange(10), [5, 0, 7, 1, 9, 3, 3, 0, 12, 2])
    for size in (1, 4, 10, 100):
        parts = _term_parts(ends, size)
        assert parts[0][0] == 0 and parts[-1][1] == len(ends)
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
        assert all(ends[lo - 1] != ends[lo] for lo, _ in parts[1:])
    assert _term_parts(np.array([], dtype=np.int64), 10) == [(0, 0)]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_attendance_in_parts_is_one_ordered_table(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(_schools, "ATTENDANCE_PART_ROWS", 700)
    cfg = SyntheticConfig(children=1500, years=2, seed=4, burn_in_years=1)
    out = generate_la(cfg, tmp_path / "la", fmt=fmt).out
    path = out / f"ext_school_attendance.{fmt}"
    df = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    meta = json.loads((out / "generation.json").read_text())
    assert len(df) == meta["row_counts"]["ext_school_attendance"] > 3 * 700
    log = pd.read_parquet(out / "ground_truth" / "defects.parquet")
    touched = set(log.loc[log["table"] == "ext_school_attendance", "key"])
    clean = df[~df["atte_attendance_id"].isin(touched)]
    assert clean["atte_attendance_id"].is_unique
    assert clean["atte_attendance_id"].str.fullmatch(r"AT\d{9}").all()
    # parts follow each other in term order: the clean rows are in date order throughout
    assert pd.to_datetime(clean["atte_term_end_date"]).is_monotonic_increasing


def test_ancillary_tables_need_only_the_first_event_of_tables_it_does_not_read():
    from earlywarning.data.synthetic._ancillary import (
        ANCILLARY_READS,
        ANCILLARY_TABLES,
        add_ancillary_tables,
    )
    from earlywarning.data.synthetic._build import build
    from earlywarning.data.synthetic._write import slim

    cfg = SyntheticConfig(children=1200, years=2, seed=8, burn_in_years=1)
    core = build(cfg).tables
    slimmed = {n: df if n in ANCILLARY_READS else slim(n, df, cfg.end_date)
               for n, df in core.items()}
    assert any(len(slimmed[n]) < len(core[n]) for n in core)
    full = add_ancillary_tables(core, cfg, np.random.default_rng(3))
    lean = add_ancillary_tables(slimmed, cfg, np.random.default_rng(3))
    for name in ANCILLARY_TABLES:
        pd.testing.assert_frame_equal(full[name], lean[name], obj=name)


def test_ancillary_step_changes_no_core_table_outside_ancillary_changes():
    """Tables it only reads may be written before it runs (``generate_la`` does)."""
    from earlywarning.data.synthetic._ancillary import ANCILLARY_CHANGES, add_ancillary_tables
    from earlywarning.data.synthetic._build import build

    cfg = SyntheticConfig(children=1200, years=2, seed=8, burn_in_years=1)
    core = build(cfg).tables
    before = {n: df.copy() for n, df in core.items()}
    out = add_ancillary_tables(core, cfg, np.random.default_rng(3))
    changed = set()
    for name, df in before.items():
        pd.testing.assert_frame_equal(core[name], df, obj=name)  # inputs left alone
        if not out[name].equals(df):
            changed.add(name)
    assert changed and changed <= ANCILLARY_CHANGES

def test_ground_truth_writer_stores_floats_uncompressed_and_reads_back_exactly(tmp_path):
    """Probabilities barely compress: they are written plain, the other columns with zstd."""
    from earlywarning.data.synthetic._write import GroundTruthWriter

    rng = np.random.default_rng(0)
    months = [{"person_id": np.array([f"P{k:07d}" for k in range(300)], dtype=object),
               "month": np.full(300, 19_000 + 30 * m, "datetime64[D]").astype(np.int64),
               "p_true": rng.random(300, dtype=np.float32)} for m in range(3)]
    writer = GroundTruthWriter(tmp_path / "gt.parquet")
    for cols in months:
        writer.write(cols)
    writer.close()
    f = pq.ParquetFile(tmp_path / "gt.parquet")
    codecs = {f.metadata.row_group(0).column(i).path_in_schema:
              f.metadata.row_group(0).column(i).compression for i in range(3)}
    assert codecs == {"person_id": "ZSTD", "month": "ZSTD", "p_true": "UNCOMPRESSED"}
    back = f.read()
    assert back.num_rows == 900 and f.metadata.num_row_groups == 3
    np.testing.assert_array_equal(back["p_true"].to_numpy(),
                                  np.concatenate([m["p_true"] for m in months]))
