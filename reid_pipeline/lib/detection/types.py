"""The typed objects that flow out of every detector and tracker."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Tracked:
    """One box with its track id (unique within one tracker run, i.e. one file)."""

    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int
    track_id: int


class Detector(Protocol):
    """Finds people, vehicles and animals in a batch of BGR frames."""

    backend: str
    model_name: str

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        """One ``Detections`` per frame, in order."""
        ...
