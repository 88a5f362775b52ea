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
import sys
from functools import cache


@cache
def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    """glibc's ``malloc_trim``, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_memory() -> None:
    """Collect garbage, then return the freed pages of Arrow's pool (when Arrow is loaded: a detection worker
    never imports it) and of the C heap to the system."""
    gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
