"""What the site's footage says without labels: crops of one tracklet are one entity (positives), and two
tracklets seen at the same moment on one camera are two entities (negatives). The tracklet-association
idea of Li, Zhu and Gong (TAUDL, ECCV 2018; UTAL, TPAMI 2019).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.sparse import csr_array, sparray


@dataclass(frozen=True)
class TrackletSpan:
    """Where and when a tracklet was seen."""

    tracklet_id: str
    camera_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class TrainingCrops:
    """Crop vectors with their tracklet, and which tracklets are known to be different entities."""

    vectors: np.ndarray  # (N, dims) backbone vectors of crops, unit length
    tracklet: np.ndarray  # (N,) index into tracklet_ids
    tracklet_ids: tuple[str, ...]
    different: sparray  # (T, T) bool, sparse: seen at once on one camera

    def __post_init__(self) -> None:
        count, tracklets = len(self.vectors), len(self.tracklet_ids)
        if self.vectors.ndim != 2 or self.tracklet.shape != (count,):
            raise ValueError(
                f"vectors must be (N, dims) and tracklet (N,), got {self.vectors.shape}, {self.tracklet.shape}"
            )
        if self.different.shape != (tracklets, tracklets):
            raise ValueError(f"different must be ({tracklets}, {tracklets}), got {self.different.shape}")

    @property
    def negative_pairs(self) -> int:
        return int(self.different.nnz) // 2


def co_occurring(spans: Sequence[TrackletSpan]) -> sparray:
    """(T, T) bool, sparse: tracklets on one camera whose time spans overlap (the tracker saw both at once).

    Sparse because a tracklet overlaps only its few neighbours in time: a week of 4-hour days has some 40 000
    tracklets, whose dense matrix would take 1.6 GB.
    """
    rows: list[int] = []
    cols: list[int] = []
    by_camera: dict[str, list[int]] = defaultdict(list)
    for index, span in enumerate(spans):
        by_camera[span.camera_id].append(index)
    for indices in by_camera.values():
        ordered = sorted(indices, key=lambda i: spans[i].start)
        # Sweep in start order: each tracklet overlaps the earlier ones that have not ended before it starts.
        for position, i in enumerate(ordered):
            for j in ordered[position + 1 :]:
                if spans[j].start > spans[i].end:
                    break
                rows += [i, j]
                cols += [j, i]
    size = len(spans)
    return csr_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(size, size), dtype=bool)


def training_crops(
    crop_vectors: np.ndarray, crop_tracklets: Sequence[str], spans: Sequence[TrackletSpan]
) -> TrainingCrops:
    """Training data from crop vectors and the spans of their tracklets (crops of unknown tracklets are dropped).

    Cameras are told apart by ``camera_id``; give spans of different days distinct times (they have).
    """
    index = {span.tracklet_id: i for i, span in enumerate(spans)}
    keep = [i for i, t in enumerate(crop_tracklets) if t in index]
    vectors = (
        np.asarray(crop_vectors, dtype=np.float32)[keep] if keep else np.zeros((0, crop_vectors.shape[1]), np.float32)
    )
    tracklet = np.array([index[crop_tracklets[i]] for i in keep], dtype=np.int64)
    return TrainingCrops(vectors, tracklet, tuple(s.tracklet_id for s in spans), co_occurring(spans))
