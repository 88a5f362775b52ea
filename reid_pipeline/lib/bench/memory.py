"""Sample the resident memory and CPU time of this process and its children while a benchmark runs.

Detection decodes and detects in a worker process (``footage.isolate_files``), so the figure that matters is
the whole process tree's: the sum of the resident set sizes of this process and every descendant, sampled on
a background thread. Samples carry wall-clock times, so each stage's peak can be read off its time span.
CPU seconds are sampled too: on a shared machine wall time depends on the neighbours, CPU time much less.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

import psutil


@dataclass(frozen=True)
class RssSample:
    at: float  # time.time(), the clock Dagster's event log uses
    rss_bytes: int
    cpu_s: float  # user + system seconds of the living tree so far


def tree_usage(process: psutil.Process) -> tuple[int, float]:
    """Resident bytes of ``process`` and all its living descendants, and the CPU seconds of the whole tree so
    far: a descendant that has exited and been waited for still counts (in its parent's children times), so
    a worker process that ends mid-run does not take its CPU seconds with it."""
    rss, cpu = 0, 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            with member.oneshot():
                rss += member.memory_info().rss
                times = member.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        cpu += times.user + times.system + times.children_user + times.children_system
    return rss, cpu


@dataclass
class RssSampler:
    """A context manager that samples the process tree's RSS every ``interval_s`` seconds."""

    interval_s: float = 0.25
    samples: list[RssSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        process = psutil.Process()

        def sample() -> None:
            while True:
                self.samples.append(RssSample(time.time(), *tree_usage(process)))
                if self._stop.wait(self.interval_s):
                    return

        self._thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak_between(self, start: float, end: float) -> int:
        """Largest sample taken in ``[start, end]``; the nearest sample before ``start`` when none was."""
        inside = [s.rss_bytes for s in self.samples if start <= s.at <= end]
        if inside:
            return max(inside)
        before = [s for s in self.samples if s.at <= start]
        return before[-1].rss_bytes if before else 0

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the tree spent from ``start`` to ``end``, to the sampling interval."""

        def at(moment: float) -> float:
            before = [s.cpu_s for s in self.samples if s.at <= moment]
            return before[-1] if before else 0.0

        return max(0.0, at(end) - at(start))

    @property
    def peak(self) -> int:
        return max((s.rss_bytes for s in self.samples), default=0)
