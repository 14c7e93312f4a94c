"""Run every benchmark in ``bench/`` and print each figure beside its baseline.

Each ``bench/bench_*.py`` module defines ``run(quick: bool) -> list[dict]``
returning figures ``{name, value, unit, baseline, baseline_label, target,
passed, details}``. Results are written to ``bench/results.json``.

Before each module a short host-speed probe runs (a pure-Python loop and a
NumPy draw of normal variates, both fixed work). This machine's speed varies
over the day, so a wall-clock figure means little without it: the probe is
printed beside each module's timing and kept in every figure's details.

Usage: ``python bench/run.py [--quick] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


PROBE_LOOP = 10_000_000
PROBE_DRAWS = 20
PROBE_FRESH_BYTES = 256 * 2**20
PROBE_REFERENCE = {"python_loop_s": 0.37, "numpy_normals_ms": 9.7, "fresh_memory_s_per_gb": 0.17,
                   "fresh_small_pages_s_per_gb": 0.39}
"""The probe on this project's 2-core machine in one of its usual (fast) spells.
In its slow spells (when the 1 M generator missed 120 s) the normals took 1.7x as
long, and a similar Python loop (20 M steps at module level, not this probe's)
1.1-1.45x. Fresh memory matters most. NumPy asks for 2 MB transparent huge pages
for large arrays, and on this virtual machine writing 1 GB of fresh memory in
them took 0.17 s just after the same memory was used but 5-16 s at other times
(2026-12-07/08): each huge page needs 2 MB of contiguous memory found, or
compacted, first. In ordinary 4 KB pages the same write took 0.39 s at the same
times (2026-12-08). The generator and every command have used 4 KB pages only
since then (``earlywarning.memory.without_huge_pages``): before, the 1M run spent
more time in the kernel (up to 182 s) than in Python and NumPy (102 s)."""


def host_probe() -> dict[str, float]:
    """Time fixed work: a Python loop, 1 M float32 normals (NumPy) and writing fresh memory.

    Returns seconds for the loop and milliseconds per draw, the best of two tries each,
    so a single interruption does not count, and seconds per GB for the first write
    of :data:`PROBE_FRESH_BYTES` of newly allocated memory (one try each: a second
    would reuse warm pages), as NumPy allocates it (in huge pages where the kernel
    allows them) and in 4 KB pages, as the generator does.
    """
    import numpy as np
    from earlywarning.memory import without_huge_pages

    loops = []
    for _ in range(2):
        t, total = time.perf_counter(), 0
        for i in range(PROBE_LOOP):
            total += i
        loops.append(time.perf_counter() - t)
    rng = np.random.default_rng(0)
    buf = np.empty(1_000_000, np.float32)
    draws = []
    for _ in range(2):
        t = time.perf_counter()
        for _ in range(PROBE_DRAWS):
            rng.standard_normal(dtype=np.float32, out=buf)
        draws.append((time.perf_counter() - t) / PROBE_DRAWS * 1e3)
    fresh_s = []
    for small in (False, True):
        with without_huge_pages() if small else nullcontext():
            t = time.perf_counter()
            fresh = np.ones(PROBE_FRESH_BYTES // 8, np.float64)
            fresh_s.append(time.perf_counter() - t)
            del fresh
    per_gb = [round(s * 2**30 / PROBE_FRESH_BYTES, 2) for s in fresh_s]
    return {"python_loop_s": round(min(loops), 3), "numpy_normals_ms": round(min(draws), 2),
            "fresh_memory_s_per_gb": per_gb[0], "fresh_small_pages_s_per_gb": per_gb[1]}


def _probe_text(probe: dict[str, float]) -> str:
    ref = PROBE_REFERENCE
    return (f"host probe: Python loop {probe['python_loop_s']:.2f} s "
            f"({probe['python_loop_s'] / ref['python_loop_s']:.2f}x the reference), "
            f"NumPy normals {probe['numpy_normals_ms']:.1f} ms "
            f"({probe['numpy_normals_ms'] / ref['numpy_normals_ms']:.2f}x), "
            f"fresh memory {probe['fresh_memory_s_per_gb']:.2f} s/GB "
            f"({probe['fresh_memory_s_per_gb'] / ref['fresh_memory_s_per_gb']:.1f}x), "
            f"in 4 KB pages {probe['fresh_small_pages_s_per_gb']:.2f} s/GB "
            f"({probe['fresh_small_pages_s_per_gb'] / ref['fresh_small_pages_s_per_gb']:.1f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args(argv)
    console = Console()
    modules = sorted(HERE.glob("bench_*.py"))
    if args.only:
        modules = [m for m in modules if m.stem == f"bench_{args.only}"]
    results = []
    for path in modules:
        console.rule(f"[bold]{path.stem}")
        probe = host_probe()
        console.print(_probe_text(probe))
        started = time.perf_counter()
        try:
            figures = _load(path).run(quick=args.quick)
        except Exception as exc:  # a failing benchmark is reported, others still run
            console.print(f"[red]{path.stem} failed: {exc!r}")
            figures = [{"name": path.stem, "value": None, "unit": "", "baseline": None,
                        "baseline_label": "", "target": "", "passed": False,
                        "details": {"error": repr(exc)}}]
        for f in figures:
            f.setdefault("module", path.stem)
            f.setdefault("details", {})["host_probe"] = probe
        results.extend(figures)
        console.print(f"{path.stem} took {time.perf_counter() - started:.1f} s")
    table = Table(title="earlywarning benchmarks" + (" (quick)" if args.quick else ""))
    for col in ("figure", "value", "baseline (same run)", "target", "result"):
        table.add_column(col)
    for f in results:
        value = "-" if f["value"] is None else f"{f['value']:.3g} {f['unit']}"
        base = "-" if f.get("baseline") is None else (
            f"{f['baseline']:.3g} {f['unit']} ({f.get('baseline_label', '')})")
        verdict = {True: "[green]met", False: "[red]missed", None: "-"}[f.get("passed")]
        table.add_row(f["name"], value, base, f.get("target", ""), verdict)
    console.print(table)
    payload = {
        "quick": args.quick,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count(),
                    "host_probe_reference": PROBE_REFERENCE},
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    console.print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
