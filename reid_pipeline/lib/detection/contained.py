"""Decode and detect one file at a time, optionally in a worker process, and report on each file.

In a worker (see ``lib/footage/isolation.py``) a native crash on one file (a decoder or detector
segfault) fails that file: it yields no detections, its report carries the reason, and the next
file starts a fresh worker. Results of a file are passed on only once the whole file succeeded, so
a crashed file never leaves half its tracks behind. Pixels stay in the worker; only frame
positions and boxes come back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from reid_pipeline.lib.detection.factory import build_detector
from reid_pipeline.lib.detection.types import Detector, Tracked
from reid_pipeline.lib.footage.isolation import Session, WorkerDied
from reid_pipeline.lib.footage.sampling import Frame, SamplingStats
from reid_pipeline.lib.runtime.offline import configure_model_env
from reid_pipeline.settings import DetectionSettings

NO_PIXELS = np.zeros((0, 0, 3), np.uint8)


class FileDetector(Protocol):
    """``detect_file`` with everything but the file, the detector and the stats bound."""

    def __call__(
        self, path: Path, kind: str, *, detector: Detector, stats: SamplingStats
    ) -> Iterator[tuple[Frame, list[Tracked]]]: ...


@dataclass(frozen=True)
class DetectorRecipe:
    """How to build the run's detector in another process (picklable, unlike a loaded model)."""

    spec: DetectionSettings
    profile: str
    model_config_dir: Path
    offline: bool

    def __call__(self) -> Detector:
        configure_model_env(self.model_config_dir, offline=self.offline)
        return build_detector(self.spec, self.profile)


@dataclass
class FileReport:
    """What detection did with one file: its frame counts, and why it failed if it did."""

    stats: SamplingStats = field(default_factory=SamplingStats)
    error: str | None = None


@dataclass(frozen=True)
class _Job:
    path: Path
    kind: str


def _open(recipe: Callable[[], Detector], per_file: FileDetector) -> tuple[Detector, FileDetector]:
    return recipe(), per_file


def _detect(state: tuple[Detector, FileDetector], job: _Job) -> Iterator[Any]:
    """In the worker: (index, offset, scale, boxes) per detected frame, then the file's stats."""
    detector, per_file = state
    stats = SamplingStats()
    for frame, tracked in per_file(job.path, job.kind, detector=detector, stats=stats):
        yield frame.index, frame.offset_s, frame.scale, tracked
    yield stats


def crash_reason(relative: str, died: WorkerDied) -> str:
    return (
        f"{relative}: decoding or detecting it crashed the worker process ({died.reason}); the file is corrupt "
        "or trips a bug in a native library: re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or remove "
        "it. Its detections are left out; the rest of the camera-day was processed."
    )


class FileDetection:
    """Runs ``per_file`` on each file, in this process or (with a ``recipe``) in a worker process."""

    def __init__(
        self,
        per_file: FileDetector,
        detector: Detector,
        recipe: Callable[[], Detector] | None,
        reports: dict[str, FileReport],
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.per_file = per_file
        self.detector = detector
        self.reports = reports
        self.log = log
        self.session = Session(partial(_open, recipe, per_file), _detect) if recipe is not None else None

    def frames(
        self, raw_root: Path, relative: str, kind: str, stats: SamplingStats
    ) -> Iterator[tuple[Frame, list[Tracked]]]:
        """Detected frames of one file with their tracked boxes; counts go to ``stats`` and its report."""
        report = self.reports[relative] = FileReport()
        path = raw_root / relative
        if self.session is None:
            try:
                yield from self.per_file(path, kind, detector=self.detector, stats=report.stats)
            finally:
                stats.add(report.stats)
            return
        found: list[tuple[int, float, float, list[Tracked]]] = []
        try:
            for item in self.session.run(_Job(path, kind)):
                if isinstance(item, SamplingStats):
                    report.stats = item
                else:
                    found.append(item)
        except WorkerDied as died:
            report.error = crash_reason(relative, died)
            self.log(report.error)
            return
        stats.add(report.stats)
        for index, offset, scale, tracked in found:
            yield Frame(index, offset, NO_PIXELS, scale), tracked

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
