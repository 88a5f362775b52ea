"""Detect and track entities through one camera-day of footage.

Files are processed in start-time order; the tracker restarts with every file (a cut in the
footage is a cut in the track). Track fragments of the whole camera-day, across files too, are then
stitched where motion and colour agree, and track ids renumbered to be unique within the camera-day.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.detection.classes import CLASS_NAMES, ENTITY_TYPE_OF
from reid_pipeline.lib.detection.contained import FileDetection, FileReport
from reid_pipeline.lib.detection.guard import in_file_pixels, large_enough
from reid_pipeline.lib.detection.stitching import (
    SIGNATURE_DIMS,
    StitchSpec,
    add_signature,
    build_fragments,
    colour_signature,
    stitch,
)
from reid_pipeline.lib.detection.tracking import Tracker, TrackingSpec
from reid_pipeline.lib.detection.types import Detector, Tracked
from reid_pipeline.lib.footage.sampling import (
    Frame,
    MotionGate,
    SamplingStats,
    batched,
    iter_video_frames,
    prefetch,
    read_image,
)
from reid_pipeline.lib.storage.schemas import DETECTIONS, Row, empty_table, table_from_rows
from reid_pipeline.settings import FootageSettings


@dataclass
class DetectionRun:
    """The ``detections`` table plus what it cost.

    Kept as Arrow, built a file at a time: a camera-day of row dicts (4 hours of footage, 180 000 boxes) held
    300 MB that Python's allocator never gave back to the later steps of an in-process run.
    """

    table: pa.Table = field(default_factory=lambda: empty_table(DETECTIONS))
    stats: SamplingStats = field(default_factory=SamplingStats)
    files: int = 0
    seconds: float = 0.0
    reports: dict[str, FileReport] = field(default_factory=dict)  # by manifest path: per-file stats, crash


ROWS_PER_PART = 4096  # detection rows held as dicts before they become Arrow


def tracklet_id(day: str, camera_id: str, track_id: int) -> str:
    """Globally unique tracklet id; readable, and sortable within a camera-day."""
    return f"{day}/{camera_id}/{track_id:06d}"


def admitted_frames(frames: Iterator[Frame], sampling: FootageSettings, stats: SamplingStats) -> Iterator[Frame]:
    """Frames that pass the motion gate (all of them when gating is off)."""
    if not sampling.motion_gating:
        yield from frames
        return
    gate = MotionGate(sampling.motion_threshold, sampling.keyframe_interval_s)
    for frame in frames:
        if gate.admit(frame):
            yield frame
        else:
            stats.motion_skipped += 1


def detect_file(
    path: Path,
    kind: str,
    detector: Detector,
    tracking: TrackingSpec,
    sampling: FootageSettings,
    stats: SamplingStats,
    overlap_decode: bool = True,
    until_s: float | None = None,
) -> Iterator[tuple[Frame, list[Tracked]]]:
    """Each detected frame of one file with its tracked boxes (sorted by track id, colour signature set).

    A fresh tracker per file: a cut in the footage is a cut in every track.
    """
    tracker = Tracker(
        tracking.name,
        sampling.sample_fps,
        buffer_s=tracking.buffer_s,
        min_score=detector.min_score,
        match_buffer=tracking.match_buffer,
    )
    if kind == "video":
        frames = admitted_frames(iter_video_frames(path, sampling.sample_fps, stats, until_s), sampling, stats)
    else:
        stats.decoded += 1
        stats.sampled += 1
        frames = iter([read_image(path)])
    frames = large_enough(frames, detector, stats, path.name)
    batches = batched(frames, sampling.batch_size)
    for batch in prefetch(batches) if overlap_decode else batches:
        for frame, found in zip(batch, detector.detect([f.image for f in batch]), strict=True):
            tracked = sorted(tracker.update(found, frame.image), key=lambda t: t.track_id)
            yield (
                frame,
                in_file_pixels([replace(t, signature=colour_signature(frame.image, t.xyxy)) for t in tracked], frame),
            )


def detect_camera_day(
    manifest: list[Row],
    raw_root: Path,
    detector: Detector,
    tracking: TrackingSpec,
    sampling: FootageSettings,
    log: Callable[[str], None] = lambda _msg: None,
    stitching: StitchSpec | None = None,
    recipe: Callable[[], Detector] | None = None,
) -> DetectionRun:
    """Detections with camera-day track ids for every readable file of ``manifest``, fragments stitched.

    With a ``recipe`` (a picklable way to build ``detector``) and ``sampling.isolate_files``, each
    file is decoded and detected in a worker process: a native crash fails that file only (its
    ``run.reports`` entry says why) and the rest of the camera-day goes on.
    """
    run = DetectionRun()
    started = time.perf_counter()
    next_track = 1
    parts: list[pa.Table] = []
    # A running colour sum per track, not a signature per detection (180 000 of them in a 4-hour day).
    signatures: dict[int, np.ndarray] = {}
    detected = 0
    usable = [row for row in manifest if row["error"] is None]
    per_file = partial(detect_file, tracking=tracking, sampling=sampling)
    files = FileDetection(per_file, detector, recipe if sampling.isolate_files else None, run.reports, log)
    try:
        for number, row in enumerate(usable, start=1):
            local_to_day: dict[int, int] = {}
            rows: list[Row] = []
            for frame, tracked in files.frames(raw_root, str(row["path"]), str(row["kind"]), run.stats):
                for k, box in enumerate(tracked):
                    if box.track_id not in local_to_day:
                        local_to_day[box.track_id] = next_track
                        next_track += 1
                    rows.append(_detection_row(row, frame, k, box, local_to_day[box.track_id], detector))
                    signature = box.signature if box.signature is not None else np.zeros(SIGNATURE_DIMS, np.float32)
                    add_signature(signatures, local_to_day[box.track_id], signature)
                if len(rows) >= ROWS_PER_PART:  # a chunk of dicts at a time, not a whole (long) file's
                    detected += len(rows)
                    parts.append(table_from_rows(rows, DETECTIONS))
                    rows = []
            detected += len(rows)
            parts.append(table_from_rows(rows, DETECTIONS))
            run.files += 1
            log(f"file {number}/{len(usable)} {row['path']}: {len(local_to_day)} tracks; {detected} detections so far")
    finally:
        files.close()  # the worker process goes even when a file fails past containment
    run.table = pa.concat_tables(parts) if parts else empty_table(DETECTIONS)
    if stitching is not None and run.table.num_rows:
        before = next_track - 1
        run.table = renumbered(run.table, signatures, stitching)
        log(f"stitched {before} track fragments into {len(pc.unique(run.table['track_id']))} tracklets")
    run.seconds = time.perf_counter() - started
    return run


def _detection_row(file: Row, frame: Frame, k: int, box: Tracked, day_track: int, detector: Detector) -> Row:
    """One row of ``detections``: box ``k`` of ``frame`` in the manifest row ``file``, under its camera-day track."""
    day, camera, file_id = str(file["date"]), str(file["camera_id"]), str(file["file_id"])
    return {
        "detection_id": f"{file_id}-{frame.index:07d}-{k:03d}",
        "date": day,
        "camera_id": camera,
        "file_id": file_id,
        "path": file["path"],
        "frame_index": frame.index,
        "timestamp": file["start_time"] + timedelta(seconds=frame.offset_s),
        "bbox": list(box.xyxy),
        "score": box.score,
        "class_name": CLASS_NAMES.get(box.class_id, str(box.class_id)),
        "entity_type": ENTITY_TYPE_OF.get(box.class_id, "person"),
        "track_id": day_track,
        "tracklet_id": tracklet_id(day, camera, day_track),
        "backend": detector.backend,
        "model": detector.model_name,
    }


def stitched_track_ids(
    track_ids: Sequence[int] | np.ndarray,
    entity_types: Sequence[str],
    offsets_s: Sequence[float] | np.ndarray,
    boxes: Sequence[Sequence[float]] | np.ndarray,
    signature_sums: Mapping[int, np.ndarray],
    spec: StitchSpec,
) -> list[int]:
    """Each detection's track id after stitching: fragments joined, numbered 1, 2, ... by first sighting."""
    root = stitch(build_fragments(track_ids, entity_types, offsets_s, boxes, signature_sums), spec)
    number = {head: i + 1 for i, head in enumerate(sorted(set(root.values())))}
    return [number[root[int(track)]] for track in track_ids]


def renumbered(table: pa.Table, signature_sums: Mapping[int, np.ndarray], spec: StitchSpec) -> pa.Table:
    """``table`` (``DETECTIONS``) with stitched fragments joined under one track id and tracklet id, given each
    track's summed colour signature (:func:`~reid_pipeline.lib.detection.stitching.summed_signatures`).
    """
    micros = table.column("timestamp").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    offsets = (micros - micros.min()) / 1e6
    boxes = table.column("bbox").combine_chunks().flatten().to_numpy().reshape(-1, 4)
    tracks = table.column("track_id").to_numpy()
    new_ids = pa.array(
        stitched_track_ids(tracks, table.column("entity_type").to_pylist(), offsets, boxes, signature_sums, spec),
        table.schema.field("track_id").type,
    )
    # date/camera/track, as tracklet_id() spells it, in Arrow: no Python string per detection.
    ids = pc.binary_join_element_wise(
        table.column("date"),
        table.column("camera_id"),
        pc.utf8_lpad(new_ids.cast(pa.string()), 6, "0"),
        "/",
    )
    for name, values in (("track_id", new_ids), ("tracklet_id", ids)):
        field_ = table.schema.field(name)
        table = table.set_column(table.schema.get_field_index(name), field_, values.cast(field_.type))
    return table
