"""What may reach a detector: one check for every backend, before any native code sees a frame.

Native detectors can crash rather than fail on inputs they were not built for: OpenCV's HOG
corrupts the heap on a frame smaller than its 64x128 window (a 96x64 clip killed whole runs).
Each detector declares ``min_frame_side``; frames with a shorter side are skipped here, counted,
and explained once per file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from reid_pipeline.lib.detection.types import Detector, Tracked
from reid_pipeline.lib.footage.sampling import Frame, SamplingStats


def large_enough(frames: Iterator[Frame], detector: Detector, stats: SamplingStats, name: str) -> Iterator[Frame]:
    """``frames`` the detector can take; the others are counted in ``stats.too_small``, with a reason."""
    least = max(1, int(detector.min_frame_side))
    explained = False
    for frame in frames:
        height, width = frame.image.shape[:2]
        if min(width, height) >= least:
            yield frame
            continue
        stats.too_small += 1
        if not explained:
            explained = True
            stats.errors.append(
                f"{name}: frames of {width}x{height} px are smaller than the {detector.backend} detector takes "
                f"(at least {least} px a side) and were skipped; record at a higher resolution, or choose a "
                "detector with a smaller minimum (detection.profile)."
            )


def in_file_pixels(tracked: list[Tracked], frame: Frame) -> list[Tracked]:
    """Boxes found on a frame decoded smaller than the file (a large still), in the file's own pixels."""
    if frame.scale == 1.0:
        return tracked
    f = 1.0 / frame.scale
    return [replace(t, xyxy=(t.xyxy[0] * f, t.xyxy[1] * f, t.xyxy[2] * f, t.xyxy[3] * f)) for t in tracked]
