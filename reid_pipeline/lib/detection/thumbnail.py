"""A thumbnail of a camera-day's detections: its busiest frame with every box drawn, as a small JPEG.

Shown with the ``detections`` materialization in the Dagster UI, so a person browsing partitions sees what
the detector found without opening the tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.footage.sampling import read_frames, read_image
from reid_pipeline.lib.storage.schemas import Row

COLOURS = {"person": (60, 200, 60), "vehicle": (40, 160, 255), "animal": (230, 120, 40)}  # BGR


def busiest_frame(detections: pa.Table) -> list[Row]:
    """The rows of the frame with the most detections (the first such frame on a tie); none for no rows."""
    if not detections.num_rows:
        return []
    per_frame = detections.group_by(["file_id", "frame_index"], use_threads=False).aggregate(
        [("detection_id", "count")]
    )
    top = per_frame.slice(int(pc.index(per_frame["detection_id_count"], pc.max(per_frame["detection_id_count"]))), 1)
    file_id, frame_index = top["file_id"][0], top["frame_index"][0]
    mask = pc.and_(pc.equal(detections["file_id"], file_id), pc.equal(detections["frame_index"], frame_index))
    return detections.filter(mask).to_pylist()


def detection_thumbnail(
    detections: Sequence[Mapping[str, Any]],
    manifest: Sequence[Mapping[str, Any]],
    raw_root: Path,
    max_side: int = 480,
    quality: int = 70,
) -> bytes | None:
    """JPEG of the frame with the most detections, boxes drawn, longest side at most ``max_side``.

    ``None`` when there is nothing to show (no detections, or the file no longer decodes).
    """
    if not detections:
        return None
    (file_id, frame_index), _count = Counter(
        (str(d["file_id"]), int(d["frame_index"])) for d in detections
    ).most_common(1)[0]
    boxes = [d for d in detections if str(d["file_id"]) == file_id and int(d["frame_index"]) == frame_index]
    kind = next((str(m["kind"]) for m in manifest if str(m["file_id"]) == file_id), "video")
    path = raw_root / str(boxes[0]["path"])
    try:
        frame = read_image(path) if kind == "image" else next(iter(read_frames(path, [frame_index])), None)
    except (OSError, ValueError):
        return None
    if frame is None:
        return None
    image = frame.image
    shrink = min(1.0, max_side / max(image.shape[:2]))
    if shrink < 1.0:
        image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    image = image.copy()
    # Boxes are drawn after scaling, so a line stays 2 px wide in the thumbnail.
    for d in boxes:
        x1, y1, x2, y2 = (round(float(v) * frame.scale * shrink) for v in d["bbox"])
        cv2.rectangle(image, (x1, y1), (x2, y2), COLOURS.get(str(d["entity_type"]), (255, 255, 255)), 2)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return jpeg.tobytes() if ok else None
