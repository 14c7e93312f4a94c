"""Benchmark: generating the synthetic LA (time, peak memory, agency event rows).

Each size runs ``generate_la`` in a fresh subprocess (so peak RSS is that
run's own, measured with ``psutil`` polling the child) and writes Parquet
under ``bench/_work/generate/``.

- quick: 20,000 children x 10 years (smoke run);
- full: the 60,000-child default (target <= 10 s), then 1,000,000 children x
  10 years (targets <= 120 s, <= 8 GB peak, >= 30 M agency event rows). The
  1M run writes ground truth every 3rd month (``ground_truth_every_months``),
  which the issue allows to keep the oracle table affordable; the default is monthly.

Baseline: the 60k run's seconds per child, scaled linearly to 1M children.
Details also give the child's CPU seconds (user + system, all threads; and each
apart, with its page faults) and the machine's load average, since wall time on a
shared machine says little alone: on this project's virtual machine, system time
(the kernel providing fresh pages, see ``run.PROBE_REFERENCE``) ranged from a
fifth to two thirds of the 1M run's CPU time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "generate"

_CHILD = """
import json, sys, time
from pathlib import Path
from earlywarning.data.synthetic import SyntheticConfig, generate_la
cfg = SyntheticConfig.model_validate(json.loads(sys.argv[1]))
t = time.perf_counter()
s = generate_la(cfg, Path(sys.argv[2]))
import os, resource
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "timings": s.timings,
                  "cpu_seconds": ru.ru_utime + ru.ru_stime, "user_seconds": ru.ru_utime,
                  "system_seconds": ru.ru_stime, "minor_page_faults": ru.ru_minflt,
                  "load_average": os.getloadavg()[0],
                  "event_rows": s.agency_event_rows, "rows": sum(s.row_counts.values()),
                  "ground_truth_rows": s.ground_truth_rows}))
"""


def _run(config: dict, name: str) -> dict:
    out = WORK / name
    shutil.rmtree(out, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(config), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"generate {name} failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    result["peak_gb"] = peak / 1e9
    shutil.rmtree(out, ignore_errors=True)
    return result


def run(quick: bool) -> list[dict]:
    """Return the benchmark figures (see module docstring)."""
    figures: list[dict] = []
    small_n = 20_000 if quick else 60_000
    small = _run({"children": small_n}, f"la_{small_n}")
    per_child = small["seconds"] / small_n
    figures.append({
        "name": f"generate {small_n:,} children x 10 years", "value": round(small["seconds"], 2),
        "unit": "s", "baseline": None, "baseline_label": "",
        "target": "<= 10 s (60k default)",
        "passed": small["seconds"] <= 10 if not quick else None,
        "details": {**small, "seconds_per_1000_children": 1000 * per_child},
    })
    if quick:
        return figures
    big = _run({"children": 1_000_000, "ground_truth_every_months": 3}, "la_1m")
    figures += [
        {"name": "generate 1,000,000 children x 10 years", "value": round(big["seconds"], 1),
         "unit": "s", "baseline": round(per_child * 1_000_000, 1),
         "baseline_label": "60k run's seconds per child x 1M", "target": "<= 120 s",
         "passed": big["seconds"] <= 120, "details": big},
        {"name": "generate 1M: peak memory", "value": round(big["peak_gb"], 2), "unit": "GB",
         "baseline": round(small["peak_gb"], 2), "baseline_label": "60k run",
         "target": "<= 8 GB", "passed": big["peak_gb"] <= 8, "details": {}},
        {"name": "generate 1M: agency event rows", "value": big["event_rows"], "unit": "rows",
         "baseline": small["event_rows"], "baseline_label": "60k run", "target": ">= 30 M",
         "passed": big["event_rows"] >= 30_000_000, "details": {}},
    ]
    return figures


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
