"""A generation that fails stops its helper threads and leaves no output behind.

The generator runs work on several threads (the latent noise drawn ahead, the
ground truth and child events of each month, the defects and writing of tables).
When any part fails, the error reaches the caller and nothing keeps running or
writing afterwards.
"""

from __future__ import annotations

import threading
import time

import pytest
from earlywarning.data.synthetic import SyntheticConfig, generate_la
from earlywarning.data.synthetic._build import _stream
from earlywarning.data.synthetic._population import build_population
from earlywarning.data.synthetic._simulate import simulate
from earlywarning.data.synthetic._timeline import Timeline


def _threads_settle(before: int, timeout: float = 5.0) -> int:
    """The live thread count once it has come back to ``before`` (or after ``timeout``)."""
    end = time.monotonic() + timeout
    while threading.active_count() > before and time.monotonic() < end:
        time.sleep(0.02)
    return threading.active_count()


def test_a_failing_ground_truth_sink_stops_the_simulation_and_its_threads():
    cfg = SyntheticConfig(children=1500, years=2, seed=3, burn_in_years=1)
    tl = Timeline.from_config(cfg)
    pop = build_population(cfg, tl, _stream(cfg.seed, 1))
    months: list[int] = []

    def sink(day: int, cols: dict) -> None:
        months.append(day)
        if len(months) == 3:
            raise OSError("disk full")

    before = threading.active_count()
    with pytest.raises(OSError, match="disk full"):
        simulate(cfg, pop, tl, _stream(cfg.seed, 4), gt_sink=sink)
    assert _threads_settle(before) == before
    written = len(months)
    time.sleep(0.2)
    assert len(months) == written == 3  # no month reached the sink after the error


def test_a_failing_table_builder_leaves_no_folder_and_no_thread(tmp_path, monkeypatch):
    import earlywarning.data.synthetic._build as build_module

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise MemoryError("out of memory in the CSC tables")

    monkeypatch.setattr(build_module, "_social_care", broken)
    out = tmp_path / "la"
    before = threading.active_count()
    with pytest.raises(MemoryError, match="CSC tables"):
        generate_la(SyntheticConfig(children=1500, years=2, seed=3, burn_in_years=1), out)
    assert _threads_settle(before) == before
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # nor its temporary folder
