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
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reid_pipeline.lib.footage.sampling import Frame, read_frames, read_image
from reid_pipeline.lib.storage.parquet import row_group_batches
from reid_pipeline.lib.storage.schemas import CROPS, Row
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


def _frames_for(path: Path, kind: str, indices: set[int]) -> Iterator[Frame]:
    """The wanted frames one at a time, in order: a camera-day's crops never hold more than one frame."""
    if kind == "image":
        yield read_image(path)
        return
    yield from read_frames(path, indices)


# The detection columns cutting reads (the rest of a day's detections is not loaded).
CROP_DETECTION_COLUMNS = ["detection_id", "date", "camera_id", "file_id", "path", "frame_index", "timestamp"]
CROP_DETECTION_COLUMNS += ["bbox", "score", "entity_type", "tracklet_id"]
CHUNK_ROWS = 2048  # crop rows held as Python objects before they become Arrow (memory per chunk, not per day)
UNMARKED = pa.schema([f for f in CROPS if f.name not in ("is_best", "best_rank")])
_MARK_COLUMNS = pa.schema([UNMARKED.field("crop_id"), UNMARKED.field("tracklet_id"), UNMARKED.field("quality")])


@dataclass
class CropSummary:
    """What a camera-day's crops came to, counted while they were written (for the asset's metadata)."""

    crops: int = 0
    best: int = 0
    too_small_or_blank: int = 0
    jpeg_bytes: int = 0
    tracklets_with_best: int = 0
    head: pa.Table | None = None  # the first rows written, for a preview

    def add(self, batch: pa.Table) -> None:
        self.crops += batch.num_rows
        self.best += pc.sum(batch.column("is_best")).as_py() or 0
        self.too_small_or_blank += pc.sum(pc.equal(batch.column("quality"), 0)).as_py() or 0
        self.jpeg_bytes += pc.sum(pc.binary_length(batch.column("jpeg"))).as_py() or 0
        self.tracklets_with_best += pc.sum(pc.equal(batch.column("best_rank"), 1)).as_py() or 0
        if self.head is None and batch.num_rows:
            self.head = batch.slice(0, 10)


def write_crops(
    detections: pa.Table,
    manifest: list[Row],
    raw_root: Path,
    settings: CropSettings,
    sink: Callable[[pa.Table], None],
    log: Callable[[str], None] = lambda _msg: None,
) -> CropSummary:
    """Cut one crop per detection (JPEG bytes and quality, the ``CROPS`` schema), mark the best K per tracklet,
    and hand them to ``sink`` a chunk at a time.

    The best crops of a tracklet are known only once all its crops are scored, and a tracklet spans the
    day. So the crops are cut once, a file, a frame and a chunk at a time, into a local spill file while only
    their ids and qualities stay in memory; then the spill is read back a chunk at a time, marked, and
    passed on. Memory holds one decoded frame and one chunk of JPEGs, however long the day.
    """
    summary = CropSummary()
    with tempfile.TemporaryDirectory(prefix="reid-crops-") as folder:
        spill = Path(folder) / "unmarked.parquet"
        marks: list[pa.Table] = []  # ids, tracklets and qualities only: 3 Arrow columns, not a dict per crop
        with pq.ParquetWriter(spill, UNMARKED) as writer:
            for batch in _unmarked_batches(detections, manifest, raw_root, settings, log):
                writer.write_batch(batch)
                marks.append(pa.Table.from_batches([batch.select(["crop_id", "tracklet_id", "quality"])]))
        ranks = best_ranks(pa.concat_tables(marks) if marks else _MARK_COLUMNS.empty_table(), settings.best_k)
        at = UNMARKED.get_field_index("jpeg")
        done = 0
        for batch in row_group_batches(pq.ParquetFile(spill), CHUNK_ROWS):
            rank = ranks.slice(done, batch.num_rows)
            done += batch.num_rows
            table = pa.Table.from_batches([batch], schema=UNMARKED)
            table = table.add_column(at, CROPS.field("best_rank"), rank)
            table = table.add_column(at, CROPS.field("is_best"), pc.is_valid(rank))
            if not settings.store_all:
                table = table.filter(table.column("is_best"))
            summary.add(table)
            sink(table)
    return summary


def crop_table(
    detections: pa.Table,
    manifest: list[Row],
    raw_root: Path,
    settings: CropSettings,
    log: Callable[[str], None] = lambda _msg: None,
) -> pa.Table:
    """:func:`write_crops` collected into one table (for callers that want the crops in memory)."""
    parts: list[pa.Table] = []
    write_crops(detections, manifest, raw_root, settings, parts.append, log)
    return pa.concat_tables(parts) if parts else CROPS.empty_table()


def _unmarked_batches(
    detections: pa.Table,
    manifest: list[Row],
    raw_root: Path,
    settings: CropSettings,
    log: Callable[[str], None],
) -> Iterator[pa.RecordBatch]:
    """The crops of a camera-day's detections, file by file, in batches of ``CHUNK_ROWS``, not yet marked."""
    kinds = {str(row["file_id"]): str(row["kind"]) for row in manifest}
    encode = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality]
    pending: list[Row] = []
    file_ids = detections.column("file_id")
    for file_id in pc.unique(file_ids).to_pylist():  # files in the order detection met them
        dets = detections.filter(pc.equal(file_ids, file_id))
        path = raw_root / str(dets.column("path")[0].as_py())
        cut = 0
        for crop in _file_crops(dets, path, kinds.get(str(file_id), "video"), encode, settings.min_size):
            pending.append(crop)
            cut += 1
            if len(pending) == CHUNK_ROWS:
                yield pa.RecordBatch.from_pylist(pending, schema=UNMARKED)
                pending = []
        if dets.num_rows > cut:  # frames gone since detection ran, or a crop that could not be encoded
            missing = dets.num_rows - cut
            log(f"{path}: {missing} detections had no frame to crop from; re-run detections for this partition")
    if pending:
        yield pa.RecordBatch.from_pylist(pending, schema=UNMARKED)


def cut_crops(
    detections: list[Row],
    manifest: list[Row],
    raw_root: Path,
    settings: CropSettings,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[Row]:
    """:func:`crop_table` for detection rows, as rows."""
    if not detections:
        return []
    return crop_table(pa.Table.from_pylist(detections), manifest, raw_root, settings, log).to_pylist()


def _file_crops(dets: pa.Table, path: Path, kind: str, encode: list[int], min_size: int) -> Iterator[Row]:
    """The crops of one file's detections, decoding only the frames they are on, one frame at a time; only
    the frame being cut has its detections as Python rows (a long file's are many)."""
    dets = dets.take(pc.sort_indices(dets, [("frame_index", "ascending")]))  # stable: a frame's boxes keep order
    frames = dets.column("frame_index").to_numpy()
    wanted = np.unique(frames)
    starts = np.searchsorted(frames, wanted, side="left")
    ends = np.searchsorted(frames, wanted, side="right")
    span = {int(f): (int(a), int(b)) for f, a, b in zip(wanted, starts, ends, strict=True)}
    for frame in _frames_for(path, kind, set(span)):
        if frame.index not in span:
            continue
        first, end = span.pop(frame.index)
        for det in dets.slice(first, end - first).to_pylist():
            crop = _crop_row(det, frame, encode, min_size)
            if crop is not None:
                yield crop


def _crop_row(det: Row, frame: Frame, encode: list[int], min_size: int) -> Row | None:
    """The crop of one detection on its frame, scored; None when its pixels cannot be encoded."""
    frame_h, frame_w = frame.image.shape[:2]
    # Boxes are in the file's pixels; a large still is read smaller (frame.scale < 1).
    bbox = [float(v) * frame.scale for v in det["bbox"]]
    x1, y1, x2, y2 = pixel_box(bbox, frame_w, frame_h)
    pixels = frame.image[y1:y2, x1:x2]
    ok, jpeg = cv2.imencode(".jpg", pixels, encode)
    if not ok:
        return None
    truncated = x1 <= BORDER_PX or y1 <= BORDER_PX or x2 >= frame_w - BORDER_PX or y2 >= frame_h - BORDER_PX
    sharp = sharpness(pixels)
    score = float(det["score"])
    return {
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
        "quality": crop_quality(x2 - x1, y2 - y1, sharp, truncated, score, min_size),
        "jpeg": jpeg.tobytes(),
    }


def best_ranks(marks: pa.Table, best_k: int) -> pa.Array:
    """Each crop's rank among its tracklet's usable crops (quality > 0), best first, ties by ``crop_id``, for the
    ``best_k`` best of each tracklet; null for every other crop. ``marks`` holds ``crop_id``, ``tracklet_id`` and
    ``quality``; the ranks come back in its row order.

    Sorted and counted in Arrow and NumPy: a 4-hour day's 180 000 crops as Python dicts cost about 100 MB.
    """
    rows = marks.num_rows
    order = pc.sort_indices(
        marks, [("tracklet_id", "ascending"), ("quality", "descending"), ("crop_id", "ascending")]
    ).to_numpy()
    tracklets = marks.column("tracklet_id").take(order)
    usable = pc.greater(marks.column("quality").take(order), 0).to_numpy(zero_copy_only=False)
    starts = np.ones(rows, dtype=bool)  # where a new tracklet begins in sorted order
    if rows > 1:
        starts[1:] = pc.not_equal(tracklets.slice(1), tracklets.slice(0, rows - 1)).to_numpy(zero_copy_only=False)
    # Usable crops sort before unusable ones within a tracklet (quality descending), so a usable crop's rank is
    # its position after its tracklet's first row.
    position = np.arange(rows)
    first = np.maximum.accumulate(np.where(starts, position, 0))
    rank = position - first + 1
    keep = usable & (rank <= best_k)
    in_row_order = np.zeros(rows, dtype=np.int32)
    in_row_order[order] = np.where(keep, rank, 0)
    return pa.array(in_row_order, pa.int32(), mask=in_row_order == 0)


def mark_best(crops: list[Row], best_k: int) -> None:
    """Set ``is_best``/``best_rank`` on the ``best_k`` highest-quality usable crops of each tracklet (rows in
    place; :func:`best_ranks` for Arrow columns).
    """
    ranks = best_ranks(pa.Table.from_pylist(crops, schema=_MARK_COLUMNS), best_k).to_pylist()
    for crop, rank in zip(crops, ranks, strict=True):
        crop["is_best"], crop["best_rank"] = rank is not None, rank
