"""Peak memory of the current process, for benchmarks that run in a child process."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_gb() -> float:
    """Return this process's peak resident memory in GB (1024**3 bytes).

    Reads ``VmHWM`` from ``/proc/self/status``: the high-water mark of this
    process's own memory since it started. ``getrusage``'s ``ru_maxrss`` is not
    used where ``/proc`` exists, because Linux carries the parent's resident
    size at fork across ``exec``: a child started by a large ``bench/run.py``
    would report at least the parent's memory, not its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
