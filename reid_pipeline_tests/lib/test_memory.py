"""glibc heaps: threads share one after ``share_one_heap``, and an operator's MALLOC_ARENA_MAX is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reid_pipeline.lib.runtime import memory

# Four threads allocate while all are alive, then glibc's malloc_stats lists the heaps ("Arena N:") on stderr.
_COUNT_HEAPS = """
import ctypes, sys, threading
from reid_pipeline.lib.runtime.memory import _glibc, share_one_heap
if sys.argv[1] == "share":
    assert share_one_heap()
libc = _glibc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
together = threading.Barrier(4)

def allocate():
    blocks = [libc.malloc(64 << 10) for _ in range(16)]
    together.wait()
    for block in blocks:
        libc.free(block)

threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()
"""

needs_glibc = pytest.mark.skipif(memory._glibc() is None, reason="glibc's allocator only")


def _heaps(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", _COUNT_HEAPS, mode], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@needs_glibc
def test_threads_share_one_heap_once_asked() -> None:
    assert _heaps("default") > 1, "without the limit each allocating thread gets a heap of its own"
    assert _heaps("share") == 1


@needs_glibc
def test_an_arena_limit_set_in_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not memory.share_one_heap()
