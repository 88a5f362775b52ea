"""Explicit Arrow schemas of every Parquet table the pipeline writes.

Times are UTC microseconds. Ids are strings built from content (file hash, frame, box index), so a
re-run over the same footage reproduces them exactly.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from reid_pipeline.lib.attributes.vocabulary import FLAT_FIELDS

TIMESTAMP = pa.timestamp("us", tz="UTC")

FOOTAGE_MANIFEST = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # video | image | other (never read)
        pa.field("start_time", TIMESTAMP),
        pa.field("time_source", pa.string()),  # container | filename | exif | mtime
        pa.field("duration_s", pa.float64()),
        pa.field("fps", pa.float64()),
        pa.field("frame_count", pa.int64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("error", pa.string()),  # why the file is not read (status error or skipped): the file and the fix
        pa.field("status", pa.string(), nullable=False),  # ok | error | skipped
    ]
)

# One row per manifest file: what became of it by the end of detection (so every file is accounted for).
FOOTAGE_OUTCOMES = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # video | image | other
        pa.field("status", pa.string(), nullable=False),  # ok | error | skipped
        pa.field("reason", pa.string()),  # why not ok; for ok files, what was left out (frames too small, a break)
        pa.field("frames_decoded", pa.int64(), nullable=False),
        pa.field("frames_sampled", pa.int64(), nullable=False),
        pa.field("frames_motion_skipped", pa.int64(), nullable=False),
        pa.field("frames_too_small", pa.int64(), nullable=False),
        pa.field("frames_detected", pa.int64(), nullable=False),
        pa.field("detections", pa.int64(), nullable=False),
        pa.field("tracklets", pa.int64(), nullable=False),
    ]
)

BBOX = pa.list_(pa.float32(), 4)

DETECTIONS = pa.schema(
    [
        pa.field("detection_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("frame_index", pa.int64(), nullable=False),
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("bbox", BBOX, nullable=False),  # x1, y1, x2, y2 in pixels
        pa.field("score", pa.float32(), nullable=False),
        pa.field("class_name", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("track_id", pa.int64(), nullable=False),  # unique within the camera-day
        pa.field("tracklet_id", pa.string(), nullable=False),  # unique everywhere: date/camera/track
        pa.field("backend", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
    ]
)

CROPS = pa.schema(
    [
        pa.field("crop_id", pa.string(), nullable=False),  # equals the detection_id it was cut from
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("tracklet_id", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("sharpness", pa.float32(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("quality", pa.float32(), nullable=False),
        pa.field("is_best", pa.bool_(), nullable=False),
        pa.field("best_rank", pa.int32()),  # 1 = best crop of its tracklet; null when not among the best K
        pa.field("jpeg", pa.binary(), nullable=False),
    ]
)

TRACKLETS = pa.schema(
    [
        pa.field("tracklet_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("track_id", pa.int64(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("start_time", TIMESTAMP, nullable=False),
        pa.field("end_time", TIMESTAMP, nullable=False),
        pa.field("n_detections", pa.int64(), nullable=False),
        pa.field("mean_score", pa.float32(), nullable=False),
        pa.field("best_quality", pa.float32(), nullable=False),
        pa.field("best_crop_ids", pa.list_(pa.string()), nullable=False),
    ]
)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A zero-row table with ``schema``: what a stage writes when its input had nothing in it."""
    return schema.empty_table()


def table_from_rows(rows: list[dict[str, object]], schema: pa.Schema) -> pa.Table:
    """Build a table from row dicts, validating every value against ``schema``."""
    if not rows:
        return empty_table(schema)
    return pa.Table.from_pylist(rows, schema=schema)


Row = dict[str, Any]
"""One table row as plain Python values, keyed by column name."""


def embeddings_schema(dims: int) -> pa.Schema:
    """Vectors of the best crops (``kind='crop'``) and one pooled vector per tracklet (``kind='tracklet'``).

    ``vector`` is a fixed-size list, so DuckDB sees ``FLOAT[dims]`` and LanceDB takes it as is.
    """
    return pa.schema(
        [
            pa.field("embedding_id", pa.string(), nullable=False),  # crop_id, or tracklet_id for pooled rows
            pa.field("kind", pa.string(), nullable=False),  # crop | tracklet
            pa.field("date", pa.string(), nullable=False),
            pa.field("camera_id", pa.string(), nullable=False),
            pa.field("tracklet_id", pa.string(), nullable=False),
            pa.field("crop_id", pa.string()),  # null on pooled rows
            pa.field("entity_type", pa.string(), nullable=False),
            pa.field("timestamp", TIMESTAMP, nullable=False),  # crop time; first crop's time on pooled rows
            pa.field("quality", pa.float32(), nullable=False),  # crop quality; the pooled crops' sum
            pa.field("n_crops", pa.int32(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dims), nullable=False),
            pa.field("backend", pa.string(), nullable=False),  # embedder family, e.g. open_clip, imagenet-cnn
            pa.field("model", pa.string(), nullable=False),  # the model within it, e.g. ViT-B-16/openai
            pa.field("dims", pa.int32(), nullable=False),
        ]
    )


ATTRIBUTES = pa.schema(
    [
        pa.field("tracklet_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("crop_id", pa.string(), nullable=False),  # the best crop that was described
        pa.field("attributes", pa.string(), nullable=False),  # JSON: the full validated description
        pa.field("summary", pa.string(), nullable=False),  # human-readable, e.g. "red jacket, black backpack"
        # Flattened common fields (null where the entity type has no such field or it is unknown).
        *(pa.field(name, pa.string()) for name in FLAT_FIELDS),  # ``color``: vehicle / animal body colour
        pa.field("field_confidence", pa.map_(pa.string(), pa.float32())),  # per field, 0..1
        pa.field("confidence", pa.float32(), nullable=False),  # mean over known fields; 0 when all unknown
        pa.field("status", pa.string(), nullable=False),  # ok | repaired | unknown
        pa.field("raw_text", pa.string()),  # what a language model wrote, kept when it had to be repaired or dropped
        pa.field("backend", pa.string(), nullable=False),  # vlm | clip-zero-shot | pixel-colours
        pa.field("model", pa.string(), nullable=False),
        pa.field("appearance", pa.list_(pa.float32())),  # tracklet vector the description was made from
        pa.field("described_at_run", pa.string(), nullable=False),  # run that wrote it (reused rows keep theirs)
    ]
)
