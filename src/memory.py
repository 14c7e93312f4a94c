"""How the process takes memory from the kernel (Linux): ordinary pages, not huge ones.

NumPy asks the kernel for 2 MB transparent huge pages for every array of 4 MB or
more. Each first write to such memory then faults in, and zeroes, a whole 2 MB
page, after the kernel has found (or compacted) 2 MB of contiguous memory. On this
project's virtual machine that cost 5-16 s per GB written at times, against
0.4-0.8 s in 4 KB pages (``bench/run.py``'s host probe), and every stage here
allocates and frees large arrays all the time. The command line therefore runs
each command with huge pages switched off (:func:`without_huge_pages`), and the
synthetic LA generator does so itself when called from Python.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["c_library", "without_huge_pages"]

PR_SET_THP_DISABLE, PR_GET_THP_DISABLE = 41, 42
"""Linux's ``prctl`` options for transparent huge pages (``linux/prctl.h``)."""


def c_library(*functions: str):  # noqa: ANN201
    """Return the C library (``libc.so.6``, through ``ctypes``) if it has all of ``functions``.

    None off Linux, where no such library loads, or where one of the functions
    is missing (a C library other than glibc), so callers fall back to doing nothing.
    """
    import ctypes

    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if all(hasattr(libc, f) for f in functions) else None


@contextmanager
def without_huge_pages() -> Iterator[bool]:
    """While the block runs, give the process ordinary 4 KB pages, never 2 MB ones (Linux).

    Measured in alternating runs with everything else equal: the 1M-child
    synthetic LA in 99 s instead of 139 s (system time 36 s instead of
    103-106 s, peak memory 7.1-7.2 GB either way), the 60,000-child one in
    5.8-6.4 s instead of 7.0-8.4 s; ``earlywarning demo --no-serve`` in
    112-121 s instead of 140-147 s with the generator already on small pages.

    The setting (``prctl(PR_SET_THP_DISABLE)``) is process-wide and inherited
    by child processes; the previous one is restored on exit. Elsewhere, or
    where the kernel refuses, nothing is changed.

    Yields
    ------
    bool
        Whether huge pages were switched off.
    """
    libc = c_library("prctl")
    previous = libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) if libc is not None else -1
    if previous < 0 or libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0:
        yield False
        return
    try:
        yield True
    finally:
        libc.prctl(PR_SET_THP_DISABLE, previous, 0, 0, 0)
