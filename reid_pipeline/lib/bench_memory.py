"""Sample the resident memory of this process and its children while a benchmark runs.

Detection decodes and detects in a worker process (``footage.isolate_files``), so the figure that matters is
the whole process tree's: the sum of the resident set sizes of this process and every descendant, sampled on
a background thread. Samples carry wall-clock times, so each stage's peak can be read off its time span.
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


def tree_rss_bytes(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and all its descendants; ones that exit meanwhile count as 0."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


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
                self.samples.append(RssSample(time.time(), tree_rss_bytes(process)))
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

    @property
    def peak(self) -> int:
        return max((s.rss_bytes for s in self.samples), default=0)
