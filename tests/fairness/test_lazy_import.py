"""The approval gate loads without the scientific stack (the app and CLI start fast)."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def test_the_approval_gate_does_not_load_fairlearn():
    mods = _modules_after("from earlywarning.fairness import ApprovalError, require_champion")
    assert "earlywarning.fairness._approval" in mods
    assert "fairlearn" not in mods


def test_every_public_name_still_resolves():
    mods = _modules_after("import earlywarning.fairness as f\n"
                          "assert all(getattr(f, n) is not None for n in f.__all__)")
    assert "fairlearn" in mods
