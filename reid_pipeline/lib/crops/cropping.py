"""Cut detections out of their frames, score how useful each crop is, mark the best K per tracklet.

Quality (0..1) multiplies four factors, each explainable on its own:

- size: 0 below ``min_size`` px, rising linearly to 1 at twice that, where a box's size is the square
  root of its area (a tight box around a person is three times taller than wide: its short side alone
  would rank a walker below a square blob);
- sharpness: ``1 - exp(-var(Laplacian) / 100)`` on the crop scaled to 128 px high;
- truncation: x0.5 when the box touches the frame border (part of the body is outside);
- detector score: its square root, so confident boxes win ties without dominating.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from reid_pipeline.lib.footage.sampling import Frame, read_frames, read_image
from reid_pipeline.lib.storage.schemas import Row
from reid_pipeline.settings import CropSettings

BORDER_PX = 2
SHARPNESS_HEIGHT = 128


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian at a fixed height, so big and small crops are comparable."""
    height, width = crop.shape[:2]
    scale = SHARPNESS_HEIGHT / max(1, height)
    resized = cv2.resize(crop, (max(1, round(width * scale)), SHARPNESS_HEIGHT), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def crop_quality(width: int, height: int, sharp: float, truncated: bool, score: float, min_size: int) -> float:
    side = math.sqrt(width * height)
    if side < min_size:
        return 0.0
    size = min(1.0, side / (2 * min_size))
    sharp_factor = 1.0 - math.exp(-sharp / 100.0)
    return size * sharp_factor * (0.5 if truncated else 1.0) * math.sqrt(max(0.0, min(1.0, score)))


def pixel_box(bbox: list[float], width: int, height: int) -> tuple[int, int, int, int]:
    """Integer box clipped to the frame; always at least 1x1."""
    x1 = min(max(0, math.floor(bbox[0])), width - 1)
    y1 = min(max(0, math.floor(bbox[1])), height - 1)
    x2 = max(x1 + 1, min(width, math.ceil(bbox[2])))
    y2 = max(y1 + 1, min(height, math.ceil(bbox[3])))
    return x1, y1, x2, y2


def _frames_for(path: Path, kind: str, indices: set[int]) -> dict[int, Frame]:
    if kind == "image":
        return {0: read_image(path)}
    return {frame.index: frame for frame in read_frames(path, indices)}


def cut_crops(
    detections: list[Row],
    manifest: list[Row],
    raw_root: Path,
    settings: CropSettings,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[Row]:
    """One crop row per detection (JPEG bytes and quality), best K per tracklet marked."""
    kinds = {str(row["file_id"]): str(row["kind"]) for row in manifest}
    by_file: dict[str, list[Row]] = defaultdict(list)
    for det in detections:
        by_file[str(det["file_id"])].append(det)
    crops: list[Row] = []
    encode = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality]
    for file_id, dets in by_file.items():
        path = raw_root / str(dets[0]["path"])
        frames = _frames_for(path, kinds.get(file_id, "video"), {int(d["frame_index"]) for d in dets})
        missing = 0
        for det in dets:
            frame = frames.get(int(det["frame_index"]))
            if frame is None:  # the file changed or broke since detection ran
                missing += 1
                continue
            frame_h, frame_w = frame.image.shape[:2]
            # Boxes are in the file's pixels; a large still is read smaller (frame.scale < 1).
            bbox = [float(v) * frame.scale for v in det["bbox"]]
            x1, y1, x2, y2 = pixel_box(bbox, frame_w, frame_h)
            pixels = frame.image[y1:y2, x1:x2]
            ok, jpeg = cv2.imencode(".jpg", pixels, encode)
            if not ok:
                missing += 1
                continue
            truncated = x1 <= BORDER_PX or y1 <= BORDER_PX or x2 >= frame_w - BORDER_PX or y2 >= frame_h - BORDER_PX
            sharp = sharpness(pixels)
            score = float(det["score"])
            crops.append(
                {
                    "crop_id": det["detection_id"],
                    "date": det["date"],
                    "camera_id": det["camera_id"],
                    "tracklet_id": det["tracklet_id"],
                    "entity_type": det["entity_type"],
                    "timestamp": det["timestamp"],
                    "width": x2 - x1,
                    "height": y2 - y1,
                    "sharpness": sharp,
                    "truncated": truncated,
                    "score": score,
                    "quality": crop_quality(x2 - x1, y2 - y1, sharp, truncated, score, settings.min_size),
                    "jpeg": jpeg.tobytes(),
                }
            )
        if missing:
            log(f"{path}: {missing} detections had no frame to crop from; re-run detections for this partition")
    mark_best(crops, settings.best_k)
    if not settings.store_all:
        crops = [crop for crop in crops if crop["is_best"]]
    return crops


def mark_best(crops: list[Row], best_k: int) -> None:
    """Set ``is_best``/``best_rank`` on the ``best_k`` highest-quality usable crops of each tracklet."""
    by_tracklet: dict[str, list[Row]] = defaultdict(list)
    for crop in crops:
        crop["is_best"], crop["best_rank"] = False, None
        by_tracklet[str(crop["tracklet_id"])].append(crop)
    for members in by_tracklet.values():
        usable = [c for c in members if float(c["quality"]) > 0]
        usable.sort(key=lambda c: (-float(c["quality"]), str(c["crop_id"])))
        for rank, crop in enumerate(usable[:best_k], start=1):
            crop["is_best"], crop["best_rank"] = True, rank
