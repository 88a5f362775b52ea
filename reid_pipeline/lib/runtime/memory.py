"""Give memory a finished step freed back to the operating system.

A run executed in one process (``reid-pipeline run``, tests, the benchmark) goes on to its next step with
what the last one freed still mapped: Python's and glibc's allocators keep freed pages for reuse, and so does
Arrow's pool. Each step's peak then sits on top of the previous steps' leftovers. Measured after a 1-hour
camera-day's steps: 100 to 130 MB of resident memory handed back per step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from functools import cache


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``malloc_trim``), else None (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "malloc_trim") else None


M_ARENA_MAX = -8  # mallopt's parameter number for the most heaps ("arenas"), from glibc's <malloc.h>


def share_one_heap() -> bool:
    """Have threads that need a heap from now on share glibc's main one instead of making up to 8 per core.

    Decode threads build crop tensors that the main thread frees after batching them; with a heap per
    thread the freed holes stay mapped in the decoders' heaps. Embedding the 1-hour bench day alone in a
    fresh process peaked at 2.38 GB at batch 16 against 1.22 GB at batch 1; calling this as definitions are
    built, 1.90 GB; with :func:`trim_heap` after each batch of crops as well, 1.65 GB (``MALLOC_ARENA_MAX=1``
    from process start: 1.52 GB). Speed did not change measurably. Heaps made before the call (threads of
    imported libraries) stay in use, so call it early. An operator's ``MALLOC_ARENA_MAX`` is left alone.
    True when the limit is in force.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, 1) == 1)


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; a no-op elsewhere).

    Cheap next to :func:`release_memory` (no garbage collection): worth calling after each batch of work
    whose buffers were freed by another thread than the one that made them.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def release_memory() -> None:
    """Collect garbage, then return the freed pages of Arrow's pool (when Arrow is loaded: a detection worker
    never imports it) and of the C heap to the system."""
    gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim_heap()


GROWTH_WORTH_RELEASING = 64 << 20  # bytes of resident growth since the last release that make one worthwhile
_resident_after_release = [0]


def resident_bytes() -> int:
    """This process's resident set size, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_memory_if_grown() -> bool:
    """:func:`release_memory` when the process grew by ``GROWTH_WORTH_RELEASING`` since the last release (or
    /proc cannot tell); True when it released. A full garbage collection costs about 0.3 s in a process with
    Dagster and torch loaded, which small steps (asset checks) would pay for nothing."""
    now = resident_bytes()
    if now and now - _resident_after_release[0] < GROWTH_WORTH_RELEASING:
        return False
    release_memory()
    _resident_after_release[0] = resident_bytes()
    return True
