"""Load and validate the synthetic LA; baseline: DuckDB's plain copy of the same files.

Target (issue 3): load and validate the 1,000,000-child, 10-year synthetic LA in
<= 120 s on 2 cores. Quick mode uses 20,000 children. On a shared machine the wall time
depends on the other load, so CPU seconds (process total, all threads) and the load
average are reported beside it.

The LA is generated once per size under ``bench/_work/load/`` (reused when its
``generation.json`` is there). Both timings run in fresh subprocesses on the same
files, one after the other, with the same DuckDB thread count:

- *value*: ``earlywarning.data.load.load(..., quarantine=True)``: every rule of
  schema.py, quarantine, load report, fingerprint, atomic publish;
- *baseline*: ``CREATE TABLE t AS SELECT * FROM read_parquet(...)`` for every table
  into a fresh DuckDB file, no validation: the floor any DuckDB loader pays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "load"
REPO = HERE.parent
YEARS = 10
SEED = 1
THREADS = 2
TARGET_S = 120.0


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _la(children: int) -> Path:
    out = WORK / f"la_{children}_y{YEARS}_s{SEED}"
    shared = HERE / "_work" / "generate" / "la_1m"  # bench_generate's 1M LA, if kept
    if children == 1_000_000 and not out.exists() and (shared / "generation.json").exists():
        return shared
    if not (out / "generation.json").exists():
        subprocess.run([_python(), "-m", "earlywarning.cli", "generate", "--children",
                        str(children), "--years", str(YEARS), "--seed", str(SEED), str(out)],
                       check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return out


_LOAD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from _peak import peak_rss_gb
from earlywarning.data.load import load
t = time.perf_counter()
r = load(sys.argv[1], sys.argv[2], quarantine=True, threads=int(sys.argv[3]))
s = time.perf_counter() - t
print(json.dumps({"seconds": s, "published": r.published,
                  "read": sum(x.rows_read or 0 for x in r.report.tables),
                  "rejected": sum(x.rows_rejected for x in r.report.tables),
                  "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                  "peak_rss_mb": peak_rss_gb() * 1024}))
"""

_COPY = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from _peak import peak_rss_gb
from pathlib import Path
import duckdb
from earlywarning.data.schema import TABLES
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute(f"SET threads = {int(sys.argv[3])}")
con.execute("SET enable_progress_bar = false")
for name in TABLES:
    path = Path(sys.argv[1]) / f"{name}.parquet"
    if path.exists():
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")
con.execute("CHECKPOINT")
con.close()
s = time.perf_counter() - t
print(json.dumps({"seconds": s,
                  "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                  "peak_rss_mb": peak_rss_gb() * 1024}))
"""


def _timed(script: str, la: Path, target: Path) -> dict:
    for leftover in target.parent.glob(target.name + "*"):
        leftover.unlink()
    out = subprocess.run([_python(), "-c", script, str(la), str(target), str(THREADS), str(HERE)],
                         check=True, cwd=REPO, capture_output=True, text=True)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def run(quick: bool) -> list[dict]:
    """Time the loader and the plain-copy baseline on the same synthetic LA."""
    children = 20_000 if quick else 1_000_000
    started = time.perf_counter()
    la = _la(children)
    generate_s = time.perf_counter() - started
    loaded = _timed(_LOAD, la, WORK / f"warehouse_{children}.duckdb")
    copied = _timed(_COPY, la, WORK / f"copy_{children}.duckdb")
    for path in WORK.glob(f"*_{children}.duckdb*"):
        path.unlink()
    for path in WORK.glob("load_report.*"):
        path.unlink()
    rows = loaded["read"]
    return [{
        "name": f"load + validate {children:,}-child LA",
        "value": loaded["seconds"],
        "unit": "s",
        "baseline": copied["seconds"],
        "baseline_label": "DuckDB plain CREATE TABLE AS copy of the same Parquet, no validation",
        "target": f"<= {TARGET_S:.0f} s for 1,000,000 children",
        "passed": None if quick else loaded["seconds"] <= TARGET_S,
        "details": {
            "children": children, "years": YEARS, "rows_read": rows,
            "rows_rejected": loaded["rejected"], "published": loaded["published"],
            "rows_per_second": rows / loaded["seconds"],
            "validation_overhead": loaded["seconds"] / copied["seconds"],
            "cpu_s": loaded["cpu_s"], "baseline_cpu_s": copied["cpu_s"],
            "wall_lower_bound_on_idle_cores_s": loaded["cpu_s"] / THREADS,
            "load_average_1min": os.getloadavg()[0],
            "peak_rss_mb": loaded["peak_rss_mb"], "baseline_peak_rss_mb": copied["peak_rss_mb"],
            "threads": THREADS, "cpus": os.cpu_count(),
            "generated_or_reused_s": generate_s,
        },
    }]
