"""The generator's memory settings are scoped: a small LA's allocator choice is undone after."""

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

