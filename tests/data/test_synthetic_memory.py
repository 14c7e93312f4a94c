"""The generator's memory settings are scoped: what it changes for the process is undone after."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest
from earlywarning.data.synthetic._write import LARGE_LA_CHILDREN, reuse_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings: Linux only")
def test_small_la_allocates_arrow_memory_from_glibc_and_restores_the_pool():
    before = pa.default_memory_pool().backend_name
    with reuse_freed_memory(60_000) as made:
        assert made
        assert pa.default_memory_pool().backend_name == "system"
        kept = pa.array(range(100_000))  # allocated from the system pool
    assert pa.default_memory_pool().backend_name == before
    assert kept[99_999].as_py() == 99_999  # buffers outlive the setting


def test_large_la_keeps_the_default_pool():
    before = pa.default_memory_pool().backend_name
    with reuse_freed_memory(LARGE_LA_CHILDREN) as made:
        assert not made
        assert pa.default_memory_pool().backend_name == before


def test_pool_is_restored_when_generation_fails():
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError, match="stage failed"), reuse_freed_memory(1_000):
        raise RuntimeError("stage failed")
    assert pa.default_memory_pool().backend_name == before


def _anon_huge_kb() -> int:
    """Anonymous memory this process holds in transparent huge pages (kB; Linux)."""
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")
def test_without_huge_pages_gives_fresh_arrays_small_pages_and_restores_the_setting():
    import ctypes

    import numpy as np
    from earlywarning.data.synthetic._write import (
        PR_GET_THP_DISABLE,
        without_huge_pages,
    )

    libc = ctypes.CDLL("libc.so.6")
    before = libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)
    with without_huge_pages() as made:
        assert made
        assert libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1
        held = _anon_huge_kb()
        fresh = np.ones(64 * 2**20 // 8)  # numpy asks for huge pages for this one
        assert _anon_huge_kb() <= held  # written in 4 KB pages only
        del fresh
    assert libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")
def test_huge_pages_setting_is_restored_when_generation_fails():
    import ctypes

    from earlywarning.data.synthetic._write import PR_GET_THP_DISABLE, without_huge_pages

    libc = ctypes.CDLL("libc.so.6")
    before = libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)
    with pytest.raises(RuntimeError, match="stage failed"), without_huge_pages():
        raise RuntimeError("stage failed")
    assert libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == before
