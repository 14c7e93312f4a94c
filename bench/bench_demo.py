"""Benchmark: the whole demo, ``earlywarning demo --no-serve``, on the default 60,000-child LA.

Target (the models issue): ``make demo`` end to end, after install, in at most
4 minutes. The benchmark times the command behind ``make demo`` without the
final ``serve`` (which runs until stopped): generate and load the synthetic LA,
features, training and evaluation against the pass bar, ablation, fairness
audit, scoring with reasons and the app's database.

It runs in a folder of its own, ``bench/_work/demo`` (a copy of
``pipelines/``, its own ``data/``, ``runs/`` and MLflow store), so a user's own
demo, its registered models and the app's decisions are left alone. That run
is also what ``bench_explain`` (explanation fidelity) and ``bench_models``
(PR-AUC against the oracle and the rule) read: see :func:`demo_root`.

No baseline: the figure is compared with its target; ``details`` give the CPU
seconds of the run, so a slow hour can be told apart from slow code, and each
stage's seconds as the demo prints them.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work" / "demo"
TARGET_SECONDS = 240


def demo_root() -> Path | None:
    """Return the folder holding the latest finished demo (relative paths start there).

    This benchmark's own folder if it has a finished run, else the repository
    (a user's ``make demo``), else None.
    """
    for root in (WORK, REPO):
        features = root / "data" / "features" / "demo" / "manifest.json"
        runs = root / "runs" / "demo"
        if features.is_file() and runs.is_dir() and any(runs.glob("*/model.joblib")):
            return root
    return None


def _command() -> list[str]:
    cli = Path(sys.executable).with_name("earlywarning")
    if cli.exists():
        return [str(cli)]
    return [sys.executable, "-m", "earlywarning.cli"]


def run(quick: bool) -> list[dict]:
    """Time ``earlywarning demo --no-serve`` in a fresh folder (skipped with ``quick``)."""
    if quick:
        print("demo: skipped in a quick run (it takes minutes)")
        return []
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    shutil.copytree(REPO / "pipelines", WORK / "pipelines")
    # the run's own tracking store and app settings: nothing of the user's is read or changed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EW_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{WORK / 'mlflow.db'}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([*_command(), "demo", "pipelines/demo.yaml", "--no-serve"],
                          cwd=WORK, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"earlywarning demo failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stages = {m[1]: float(m[2]) for m in re.finditer(r"^(\S.*?) took ([\d.]+) s$",
                                                      proc.stdout, flags=re.M)}
    print(f"earlywarning demo --no-serve: {seconds:.0f} s ({cpu:.0f} CPU-s)")
    for stage, took in stages.items():
        print(f"  {stage}: {took:.1f} s")
    return [{
        "name": "earlywarning demo --no-serve (60k LA, end to end, after install)",
        "value": round(seconds, 1), "unit": "s", "baseline": None, "baseline_label": "",
        "target": f"<= {TARGET_SECONDS} s (4 minutes)", "passed": seconds <= TARGET_SECONDS,
        "details": {"cpu_seconds": round(cpu, 1), "stage_seconds": stages, "folder": str(WORK)},
    }]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(figure)
