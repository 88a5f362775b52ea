"""Tracked person crops straight from a video, for benchmarks and measurements (no Dagster, no tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from reid_pipeline.lib.crops.cropping import pixel_box
from reid_pipeline.lib.detection.run import detect_file
from reid_pipeline.lib.detection.tracking import TrackingSpec
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.footage.sampling import SamplingStats
from reid_pipeline.settings import FootageSettings


@dataclass(frozen=True)
class SampleCrop:
    track_id: int
    time_s: float
    jpeg: bytes

    @property
    def name(self) -> str:
        return f"track {self.track_id} at {self.time_s:.1f}s"


def tracked_crops(
    video: Path,
    detector: Detector,
    tracker: TrackingSpec,
    sampling: FootageSettings,
    seconds: float | None,
    min_size: int = 32,
) -> list[SampleCrop]:
    """JPEG crops of every tracked box at least ``min_size`` pixels in size (square root of its area)."""
    crops = []
    for frame, tracked in detect_file(video, "video", detector, tracker, sampling, SamplingStats(), True, seconds):
        height, width = frame.image.shape[:2]
        for box in tracked:
            x1, y1, x2, y2 = pixel_box(list(box.xyxy), width, height)
            if ((x2 - x1) * (y2 - y1)) ** 0.5 < min_size:
                continue
            ok, encoded = cv2.imencode(".jpg", frame.image[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, 90])
            if ok:
                crops.append(SampleCrop(box.track_id, frame.offset_s, encoded.tobytes()))
    return crops
