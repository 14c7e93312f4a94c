"""Run every benchmark in ``bench/`` and print each figure beside its baseline.

Each ``bench/bench_*.py`` module defines ``run(quick: bool) -> list[dict]``
returning figures ``{name, value, unit, baseline, baseline_label, target,
passed, details}``. Results are written to ``bench/results.json``.

Usage: ``python bench/run.py [--quick] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
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
                    "cpus": __import__("os").cpu_count()},
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    console.print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
