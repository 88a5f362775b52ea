"""Summarise detections and crops into one row per tracklet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import pyarrow as pa

from reid_pipeline.lib.storage.rows import TableRow
from reid_pipeline.lib.storage.schemas import TRACKLETS, Row

# The detection columns a tracklet's summary reads.
TRACKLET_DETECTION_COLUMNS = [
    "tracklet_id",
    "date",
    "camera_id",
    "track_id",
    "entity_type",
    "file_id",
    "timestamp",
    "score",
]


@dataclass(frozen=True)
class TrackletRow(TableRow):
    """One row of ``tracklets``: a tracked entity on one camera, the unit later stages embed and match."""

    SCHEMA: ClassVar[pa.Schema] = TRACKLETS

    tracklet_id: str
    date: str
    camera_id: str
    track_id: int
    entity_type: str
    file_id: str
    start_time: datetime
    end_time: datetime
    n_detections: int
    mean_score: float
    best_quality: float
    best_crop_ids: list[str]


def summarise_tracklets(detections: list[Row], crops: list[Row]) -> list[TrackletRow]:
    """Tracklet rows: time span, size, mean score and the ids of its best crops (best first)."""
    best: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for crop in crops:
        if crop["is_best"]:
            best[str(crop["tracklet_id"])].append(
                (int(crop["best_rank"]), str(crop["crop_id"]), float(crop["quality"]))
            )
    groups: dict[str, list[Row]] = defaultdict(list)
    for det in detections:
        groups[str(det["tracklet_id"])].append(det)
    rows = []
    for tid in sorted(groups):
        members = groups[tid]
        times = [m["timestamp"] for m in members]
        ranked = sorted(best.get(tid, []))
        first = members[0]
        rows.append(
            TrackletRow(
                tracklet_id=tid,
                date=first["date"],
                camera_id=first["camera_id"],
                track_id=first["track_id"],
                entity_type=_majority(m["entity_type"] for m in members),
                file_id=first["file_id"],
                start_time=min(times),
                end_time=max(times),
                n_detections=len(members),
                mean_score=sum(float(m["score"]) for m in members) / len(members),
                best_quality=ranked[0][2] if ranked else 0.0,
                best_crop_ids=[crop_id for _, crop_id, _ in ranked],
            )
        )
    return rows


def _majority(values: Iterable[object]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[str(value)] += 1
    return max(sorted(counts), key=lambda v: counts[v])
