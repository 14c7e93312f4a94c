"""How the generator sets up the process: two malloc arenas for a large LA, one BLAS thread.

The arena setting is process-wide and lasting, so its cases run in fresh interpreters.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# a worker thread allocates and frees a month's worth of 20 MB arrays, as the generator's
# ground-truth and child-event threads do at 1M children; prints (applied, page faults)
PROBE = textwrap.dedent("""
    import resource, sys, threading
    import numpy as np
    from earlywarning.data.synthetic._write import keep_freed_memory_small, limit_malloc_arenas

    applied = limit_malloc_arenas(int(sys.argv[1]))
    keep_freed_memory_small("simulate")

    def work(out):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(40):
            a = np.ones(5_000_000, np.float32)
            b = a * 2
            del a, b
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

    out = []
    t = threading.Thread(target=work, args=(out,))
    t.start()
    t.join()
    print(applied, out[0])
""")


def _probe(children: int) -> tuple[bool, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(children)], capture_output=True,
                          text=True, check=True, timeout=120)
    applied, faults = done.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc arenas")
def test_few_arenas_are_set_only_for_a_large_la_and_stop_worker_threads_refaulting():
    small_applied, small_faults = _probe(60_000)
    large_applied, large_faults = _probe(1_000_000)
    assert not small_applied
    assert large_applied
    # without it, each 20 MB array of the thread's own arena is unmapped when freed and
    # faulted in again; with it, the freed memory is reused
    assert large_faults * 5 < small_faults, (large_faults, small_faults)


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
               default=0)


def test_the_simulation_runs_on_one_blas_thread_and_gives_the_others_back():
    from earlywarning.data.synthetic import SyntheticConfig
    from earlywarning.data.synthetic._build import build

    before = _blas_threads()
    if before <= 1:
        pytest.skip("BLAS has a single thread here already")
    during: list[int] = []

    def stage(name: str, done: float, total: float) -> None:
        if name == "simulate":
            during.append(_blas_threads())

    build(SyntheticConfig(children=800, years=1, seed=3, burn_in_years=1), stage=stage)
    assert during and set(during) == {1}
    assert _blas_threads() == before
