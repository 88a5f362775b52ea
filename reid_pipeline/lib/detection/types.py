"""The typed objects that flow out of every detector and tracker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame: ``xyxy`` pixels (N, 4), ``scores`` (N,), COCO ``class_ids`` (N,)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be shape (N, 4), got {self.xyxy.shape}")
        n = self.xyxy.shape[0]
        for name in ("scores", "class_ids"):
            shape = getattr(self, name).shape
            if shape != (n,):
                raise ValueError(f"{name} must be shape ({n},), got {shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def subset(self, keep: np.ndarray) -> Detections:
        """The boxes where the boolean mask ``keep`` is true."""
        return Detections(self.xyxy[keep], self.scores[keep], self.class_ids[keep])


def keep_above(found: Detections, min_scores: Mapping[str, float], entity_type_of: Mapping[int, str]) -> Detections:
    """Boxes whose score reaches their entity type's threshold; types without one are dropped."""
    limits = np.array([min_scores.get(entity_type_of.get(int(c), ""), np.inf) for c in found.class_ids])
    return found.subset(found.scores >= limits) if len(found) else found


@dataclass(frozen=True)
class Tracked:
    """One box with its track id (unique within one tracker run, i.e. one file).

    ``signature`` is a colour description of the box, kept so track fragments can be stitched later
    without holding on to the frame.
    """

    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int
    track_id: int
    signature: np.ndarray | None = field(default=None, compare=False, repr=False)


def suppress_overlaps(found: Detections, entity_type_of: Mapping[int, str], iou: float = 0.7) -> Detections:
    """One box per object: of boxes of one entity type overlapping more than ``iou``, keep the best.

    Per-class detectors report a van as both 'car' and 'truck' with nearly the same box; the
    tracker would make two tracklets of it.
    """
    if len(found) < 2:
        return found
    import cv2

    types = sorted(set(entity_type_of.values()))
    groups = [types.index(entity_type_of[int(c)]) if int(c) in entity_type_of else -1 for c in found.class_ids]
    xywh = np.concatenate([found.xyxy[:, :2], found.xyxy[:, 2:] - found.xyxy[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), found.scores.tolist(), groups, 0.0, iou)
    keep = np.zeros(len(found), dtype=bool)
    keep[np.asarray(kept, dtype=np.int64).reshape(-1)] = True
    return found.subset(keep)


class Detector(Protocol):
    """Finds people, vehicles and animals in a batch of BGR frames."""

    backend: str
    model_name: str
    min_score: float  # the lowest score it reports: the tracker's thresholds follow it
    min_frame_side: int  # frames with a shorter side are never passed to it (native code can crash on them)

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        """One ``Detections`` per frame, in order."""
        ...
