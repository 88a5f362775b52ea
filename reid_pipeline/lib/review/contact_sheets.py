"""Contact sheets: every tracklet of a camera-day as one row of its crops, for checking by eye.

Each row starts with a label panel (tracklet, camera, times, global entity) followed by the
tracklet's crops in time order, each numbered, so a reviewer can name identities per tracklet and
spot a tracker identity switch (two people in one row) by crop number. Drawn with OpenCV's built-in
Hershey fonts: nothing to fetch, identical on every machine.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

ROW_HEIGHT = 150
LABEL_WIDTH = 250
MAX_CROPS_PER_ROW = 20
LABEL_COLUMNS = ("tracklet_id", "date", "camera_id", "start_time", "crops", "entity_id", "label", "split_at_crop")


@dataclass(frozen=True)
class SheetRow:
    tracklet_id: str
    camera_id: str
    start: str
    end: str
    entity_id: str
    crops: list[bytes]


def rows_from_crops(crops: pa.Table, entity_of: Mapping[str, str]) -> list[SheetRow]:
    """One row per tracklet, crops in time order, rows ordered by entity then start time."""
    grouped: dict[str, list[dict[str, object]]] = defaultdict(list)
    for crop in crops.select(["tracklet_id", "camera_id", "timestamp", "jpeg"]).to_pylist():
        grouped[str(crop["tracklet_id"])].append(crop)
    rows = []
    for tracklet, members in grouped.items():
        members.sort(key=lambda c: c["timestamp"])  # type: ignore[arg-type, return-value]
        first, last = members[0]["timestamp"], members[-1]["timestamp"]
        rows.append(
            SheetRow(
                tracklet_id=tracklet,
                camera_id=str(members[0]["camera_id"]),
                start=f"{first:%H:%M:%S}",
                end=f"{last:%H:%M:%S}",
                entity_id=entity_of.get(tracklet, "-"),
                crops=[c["jpeg"] for c in members],  # type: ignore[misc]
            )
        )
    return sorted(rows, key=lambda r: (r.entity_id, r.start, r.tracklet_id))


def _evenly(items: list[bytes], limit: int) -> list[tuple[int, bytes]]:
    """At most ``limit`` items spread over the whole list, with their 1-based positions."""
    if len(items) <= limit:
        return list(enumerate(items, start=1))
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [(int(i) + 1, items[int(i)]) for i in picks]


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.45) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)


def _row_image(row: SheetRow) -> np.ndarray:
    tiles = [_label_panel(row)]
    for number, jpeg in _evenly(row.crops, MAX_CROPS_PER_ROW):
        bgr = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:  # an unreadable crop shows as a grey tile rather than hiding the row
            bgr = np.full((ROW_HEIGHT, ROW_HEIGHT // 2, 3), 128, dtype=np.uint8)
        scale = (ROW_HEIGHT - 16) / bgr.shape[0]
        crop = cv2.resize(bgr, (max(1, round(bgr.shape[1] * scale)), ROW_HEIGHT - 16))
        tile = np.full((ROW_HEIGHT, crop.shape[1] + 6, 3), 255, dtype=np.uint8)
        tile[16:, 3 : 3 + crop.shape[1]] = crop
        _text(tile, str(number), 3, 12, 0.4)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


def _label_panel(row: SheetRow) -> np.ndarray:
    panel = np.full((ROW_HEIGHT, LABEL_WIDTH, 3), 235, dtype=np.uint8)
    _text(panel, row.tracklet_id[-24:], 6, 20)
    _text(panel, f"{row.camera_id}  {row.start}-{row.end}", 6, 44)
    _text(panel, f"{len(row.crops)} crops", 6, 68)
    _text(panel, f"entity {row.entity_id}", 6, 92)
    return panel


def render_sheet(rows: list[SheetRow], path: Path) -> Path:
    """Stack the rows (padded to one width) into a PNG at ``path``."""
    if not rows:
        raise ValueError(f"nothing to put on {path}: the partition has no crops")
    images = [_row_image(row) for row in rows]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(i, ((0, 2), (0, width - i.shape[1]), (0, 0)), constant_values=200) for i in images]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.concatenate(padded, axis=0)):
        raise OSError(f"could not write {path}: check the folder is writable")
    return path


def write_label_template(rows: list[SheetRow], date: str, path: Path) -> Path:
    """A CSV with one line per tracklet for the reviewer to fill in (``label``, optional ``split_at_crop``).

    Existing labels in ``path`` are kept, so exporting again after a re-run never erases work.
    """
    kept: dict[str, dict[str, str]] = {}
    if path.exists():
        with path.open(newline="") as handle:
            kept = {line["tracklet_id"]: line for line in csv.DictReader(handle)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        for row in rows:
            previous = kept.get(row.tracklet_id, {})
            writer.writerow(
                {
                    "tracklet_id": row.tracklet_id,
                    "date": date,
                    "camera_id": row.camera_id,
                    "start_time": row.start,
                    "crops": len(row.crops),
                    "entity_id": row.entity_id,
                    "label": previous.get("label", ""),
                    "split_at_crop": previous.get("split_at_crop", ""),
                }
            )
    return path
