"""Benchmark: naive every-frame detection vs the pipeline's sampled, motion-gated, batched detection.

Both arms run the same detector and tracker over the same stretch of the same video; the figure
that matters is source frames covered per wall-clock second (how fast footage gets processed).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from reid_pipeline.lib.detection.run import detect_file
from reid_pipeline.lib.detection.tracking import TrackingSpec
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.footage.sampling import SamplingStats, iter_video_frames
from reid_pipeline.settings import FootageSettings


@dataclass(frozen=True)
class DetectArm:
    name: str
    source_frames: int
    detected_frames: int
    boxes: int
    tracks: int
    seconds: float

    @property
    def source_fps(self) -> float:
        return self.source_frames / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "source_fps": round(self.source_fps, 2)}


def run_arm(
    name: str,
    video: Path,
    detector: Detector,
    tracker: TrackingSpec,
    sampling: FootageSettings,
    overlap: bool,
    seconds: float | None,
) -> DetectArm:
    stats = SamplingStats()
    boxes, tracks = 0, set[int]()
    started = time.perf_counter()
    for _frame, tracked in detect_file(video, "video", detector, tracker, sampling, stats, overlap, seconds):
        boxes += len(tracked)
        tracks.update(t.track_id for t in tracked)
    elapsed = time.perf_counter() - started
    return DetectArm(name, stats.decoded, stats.detected, boxes, len(tracks), elapsed)


def bench_detect(
    video: Path, detector: Detector, tracker: TrackingSpec, pipeline: FootageSettings, seconds: float | None
) -> dict[str, object]:
    """Both arms on the first ``seconds`` of ``video``; returns figures and the speed-up ratio."""
    first = next(iter_video_frames(video, None))
    detector.detect([first.image])  # lazy models load (and warm up) outside the timed region
    native_fps = _video_fps(video)
    naive_settings = pipeline.model_copy(update={"sample_fps": native_fps, "motion_gating": False, "batch_size": 1})
    naive = run_arm("naive: every frame, one at a time", video, detector, tracker, naive_settings, False, seconds)
    fast = run_arm(
        f"pipeline: {pipeline.sample_fps:g} fps sampling, motion gating, batch {pipeline.batch_size}",
        video,
        detector,
        tracker,
        pipeline,
        True,
        seconds,
    )
    return {
        "video": str(video),
        "backend": f"{detector.backend}:{detector.model_name}",
        "naive": naive.as_dict(),
        "pipeline": fast.as_dict(),
        "speedup": round(fast.source_fps / naive.source_fps, 2) if naive.source_fps else None,
    }


def _video_fps(video: Path) -> float:
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or 25)
