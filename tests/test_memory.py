"""Huge pages are switched off while a command or a generation runs, and the setting restored."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from earlywarning.memory import PR_GET_THP_DISABLE, c_library, without_huge_pages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")


def _huge_pages_off() -> int:
    return c_library("prctl").prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)


def _anon_huge_kb() -> int:
    """Anonymous memory this process holds in transparent huge pages (kB)."""
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))


def test_fresh_arrays_get_small_pages_inside_and_the_setting_is_restored():
    before = _huge_pages_off()
    with without_huge_pages() as made:
        assert made
        assert _huge_pages_off() == 1
        held = _anon_huge_kb()
        fresh = np.ones(64 * 2**20 // 8)  # NumPy asks for huge pages for an array this large
        assert _anon_huge_kb() <= held  # written in 4 KB pages only
        del fresh
    assert _huge_pages_off() == before


def test_the_setting_is_restored_when_the_block_fails():
    before = _huge_pages_off()
    with pytest.raises(RuntimeError, match="stage failed"), without_huge_pages():
        raise RuntimeError("stage failed")
    assert _huge_pages_off() == before


def test_every_command_runs_without_huge_pages(monkeypatch):
    import earlywarning.data.schema as schema
    from earlywarning.cli import app
    from typer.testing import CliRunner

    seen = []

    def dictionary() -> str:
        seen.append(_huge_pages_off())
        return "# data dictionary"

    monkeypatch.setattr(schema, "data_dictionary_markdown", dictionary)
    before = _huge_pages_off()
    result = CliRunner().invoke(app, ["schema", "--markdown"])
    assert result.exit_code == 0, result.output
    assert "# data dictionary" in result.output
    assert seen == [1]
    assert _huge_pages_off() == before


def test_the_generator_runs_without_huge_pages_when_called_from_python(tmp_path):
    from earlywarning.data.synthetic import SyntheticConfig, generate_la

    seen = set()
    before = _huge_pages_off()
    generate_la(SyntheticConfig(children=300, years=1, seed=5, burn_in_years=1), tmp_path / "la",
                progress=lambda stage, done, total: seen.add(_huge_pages_off()))
    assert seen == {1}
    assert _huge_pages_off() == before
