"""Multi-object tracking with ultralytics' ByteTrack / BoT-SORT, fed by any detector.

Detection and tracking are separate steps so that frames can be detected in batches (the tracker
itself must see frames in order) and so the offline detectors get the same tracker as YOLO.

Boxes are associated on a buffered copy (each side pushed out by ``match_buffer`` times the box's
width or height; Yang et al., "Hard to Track Objects with Irregular Motions and Similar Appearances?
Make It Easier by Buffering the Matching Space", WACV 2023). At a few frames per second a walker's
tight box no longer overlaps its previous position, so plain IoU starts a new track at every step;
the buffered boxes still overlap. The boxes reported are always the detector's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reid_pipeline.lib.detection.types import Detections, Tracked
from reid_pipeline.settings import DetectionSettings


@dataclass(frozen=True)
class TrackingSpec:
    """Which tracker, and how long (seconds, whatever the sample rate) it keeps a lost track."""

    name: str = "bytetrack"
    buffer_s: float = 3.0
    match_buffer: float = 0.0

    @classmethod
    def from_settings(cls, spec: DetectionSettings) -> TrackingSpec:
        return cls(spec.tracker, spec.track_buffer_s, spec.track_match_buffer)


def buffered(xyxy: np.ndarray, scale: float) -> np.ndarray:
    """Boxes grown on every side by ``scale`` times their width (left, right) and height (top, bottom)."""
    if scale <= 0 or len(xyxy) == 0:
        return xyxy
    size = xyxy[:, 2:] - xyxy[:, :2]
    grow = np.concatenate([size, size], axis=1) * scale
    return xyxy + grow * np.array([-1, -1, 1, 1], dtype=xyxy.dtype)


class _TrackerInput:
    """The results-like view ultralytics trackers read: ``conf``, ``cls``, ``xywh``, boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = xyxy.astype(np.float32)
        self.conf = conf.astype(np.float32)
        self.cls = cls.astype(np.float32)

    @property
    def xywh(self) -> np.ndarray:
        centre = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        size = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return np.concatenate([centre, size], axis=1)

    def __getitem__(self, mask: Any) -> _TrackerInput:
        return _TrackerInput(self.xyxy[mask], self.conf[mask], self.cls[mask])

    def __len__(self) -> int:
        return len(self.conf)


class Tracker:
    """Associates per-frame detections into tracks; build a new one for every file."""

    def __init__(
        self, name: str, sample_fps: float, buffer_s: float = 3.0, min_score: float = 0.1, match_buffer: float = 0.0
    ) -> None:
        from ultralytics.trackers.track import TRACKER_MAP
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        if name not in ("bytetrack", "botsort"):
            raise ValueError(f"unknown tracker {name!r}: use 'bytetrack' or 'botsort'")
        cfg = IterableSimpleNamespace(**YAML.load(check_yaml(f"{name}.yaml")))
        # The tracker counts frames it was given; we give it sampled frames, so buffers are in those.
        cfg.track_buffer = max(1, round(buffer_s * sample_fps))
        # Low-confidence detectors (HOG, small models) need the tracker's thresholds to follow the detector's.
        cfg.track_low_thresh = min(cfg.track_low_thresh, min_score)
        cfg.track_high_thresh = min(cfg.track_high_thresh, max(min_score, 0.1))
        cfg.new_track_thresh = min(cfg.new_track_thresh, max(min_score, 0.1))
        if name == "botsort":
            cfg.with_reid = False
            cfg.gmc_method = "none"  # fixed cameras: global motion compensation costs time and buys nothing
        self._tracker: Any = TRACKER_MAP[name](args=cfg)
        self.match_buffer = match_buffer

    def update(self, detections: Detections, image: np.ndarray) -> list[Tracked]:
        """Tracks confirmed in this frame, each tied back to its detection's box, score and class."""
        boxes = buffered(detections.xyxy, self.match_buffer)
        rows = self._tracker.update(_TrackerInput(boxes, detections.scores, detections.class_ids), image)
        tracked = []
        for row in rows:
            # Report the detector's own box (idx points back to it), not the Kalman-smoothed one.
            idx = int(row[-1])
            x1, y1, x2, y2 = (float(v) for v in detections.xyxy[idx])
            tracked.append(
                Tracked(
                    (x1, y1, x2, y2),
                    float(detections.scores[idx]),
                    int(detections.class_ids[idx]),
                    int(row[4]),
                )
            )
        return tracked
