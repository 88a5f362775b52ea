"""A day's appearances: one row per tracklet of every camera, joined from the Parquet tables."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.adaptation.site import NO_ADAPTER, SiteAdaptation
from reid_pipeline.lib.embedding.pooling import RunningPool, pooled_by_key
from reid_pipeline.lib.embedding.run import tracklet_vectors, vectors_of
from reid_pipeline.lib.identity.scoring import encode_attributes, flat_attributes
from reid_pipeline.lib.storage.parquet import ROW_GROUP_ROWS, ParquetStore
from reid_pipeline.lib.storage.schemas import Row

THUMBNAIL_HEIGHT = 96


@dataclass
class DayAppearances:
    rows: list[Row]
    dims: int
    cameras: list[str]
    skipped_without_vector: int


def thumbnail(jpeg: bytes, height: int = THUMBNAIL_HEIGHT) -> bytes:
    """A small JPEG of a crop for reports and the UI (the full crop stays in the crops table)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return b""
    scale = height / max(1, image.shape[0])
    if scale < 1:
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else b""


def adapted_tracklet_vectors(
    store: ParquetStore, part: dict[str, str], adaptation: SiteAdaptation, rows: int = ROW_GROUP_ROWS
) -> dict[str, np.ndarray]:
    """Per tracklet, its crops' vectors adapted to the site and pooled by crop quality (as the backbone's are).

    The crop rows are read, adapted and pooled a row group at a time: a 4-hour day's 24 000 crop vectors, and
    their adapted copies, are never held together (about 250 MB at 1 280 dims).
    """
    pools: dict[str, RunningPool] = {}
    for batch in store.batches("embeddings", part, ADAPTED_COLUMNS, rows):
        crops = batch.filter(pc.equal(batch.column("kind"), "crop"))
        if crops.num_rows == 0:
            continue
        adapted = adaptation.apply(vectors_of(pa.table(crops)), [part["camera"]] * crops.num_rows)
        tracklets = [str(t) for t in crops.column("tracklet_id").to_pylist()]
        pooled_by_key(tracklets, adapted, crops.column("quality").to_pylist(), pools)
    return {tracklet: running.vector() for tracklet, running in pools.items()}


def day_appearances(store: ParquetStore, date: str, adaptation: SiteAdaptation | None = None) -> DayAppearances:
    """Every tracklet of ``date`` that has a pooled vector, from every camera with embeddings that day.

    With ``adaptation``, vectors are the site-adapted ones and rows carry its ``adapter_id``; else the
    backbone's, with ``adapter_id = "none"``. Vectors stay NumPy arrays (Arrow takes them as they are): as
    Python lists of floats a day's vectors took about eight times the memory.
    """
    cameras = store.cameras("embeddings", date)
    rows: list[Row] = []
    dims = 0
    skipped = 0
    for camera in cameras:
        found, width, missing = _camera_appearances(store, {"date": date, "camera": camera}, adaptation)
        rows += found
        dims = dims or width
        skipped += missing
    return DayAppearances(rows, dims, cameras, skipped)


# What an appearance takes of each table: no crop's other columns, no description's vector.
EMBEDDING_COLUMNS = ["tracklet_id", "kind", "quality", "backend", "model", "vector"]
ADAPTED_COLUMNS = ["tracklet_id", "kind", "quality", "vector"]  # of the crop rows, when adapting
CROP_COLUMNS = ["crop_id", "tracklet_id", "best_rank", "quality", "jpeg"]
TRACKLET_COLUMNS = ["tracklet_id", "entity_type", "start_time", "end_time", "n_detections"]


def _camera_appearances(
    store: ParquetStore, part: dict[str, str], adaptation: SiteAdaptation | None
) -> tuple[list[Row], int, int]:
    """One camera's appearances of the day, their vectors' width and how many tracklets had no vector or crop."""
    # The pooled rows name each tracklet's model; adapting pools the crops' vectors anew, so it reads those
    # (only them: a second copy of a 4-hour day's vectors is 150 MB) and the pooled rows without vectors.
    tracklet_rows: list[tuple[str, str, object]] = [("kind", "=", "tracklet")]
    columns = EMBEDDING_COLUMNS if adaptation is None else [c for c in EMBEDDING_COLUMNS if c != "vector"]
    pooled = store.read("embeddings", part, columns=columns, filters=tracklet_rows)
    if adaptation is None:
        width = pooled.schema.field("vector").type.list_size
        vectors = tracklet_vectors(pooled)
    else:
        width = (
            adaptation.head.out_dims
            if adaptation.head
            else store.schema("embeddings", part).field("vector").type.list_size
        )
        vectors = adapted_tracklet_vectors(store, part, adaptation)
    models = {
        row["tracklet_id"]: (row["backend"], row["model"])
        for row in pooled.select(["tracklet_id", "backend", "model"]).to_pylist()
    }
    described = _descriptions(store, part)
    best = store.read("crops", part, columns=CROP_COLUMNS, filters=[("best_rank", "=", 1)])
    best_crop = {row["tracklet_id"]: row for row in best.to_pylist()}
    rows: list[Row] = []
    skipped = 0
    for tracklet in store.read("tracklets", part, columns=TRACKLET_COLUMNS).to_pylist():
        tracklet_id = tracklet["tracklet_id"]
        if tracklet_id not in vectors or tracklet_id not in best_crop:
            skipped += 1
            continue
        description = described.get(tracklet_id, {})
        crop = best_crop[tracklet_id]
        rows.append(
            {
                **tracklet,
                "date": part["date"],
                "camera_id": part["camera"],
                "best_crop_id": crop["crop_id"],
                "quality": float(crop["quality"]),
                "summary": description.get("summary"),
                "attributes": description.get("attributes"),
                "flat_attributes": encode_attributes(flat_attributes(description)) if description else None,
                "thumbnail": thumbnail(crop["jpeg"]),
                "backend": models[tracklet_id][0],
                "model": models[tracklet_id][1],
                "adapter_id": adaptation.adapter_id if adaptation else NO_ADAPTER,
                "vector": vectors[tracklet_id],
            }
        )
    return rows, width, skipped


def _descriptions(store: ParquetStore, part: dict[str, str]) -> dict[str, Row]:
    """The camera-day's attribute rows by tracklet, without the vector each was described from."""
    if not store.exists("attributes", part):
        return {}
    columns = [name for name in store.schema("attributes", part).names if name != "appearance"]
    return {row["tracklet_id"]: row for row in store.read("attributes", part, columns=columns).to_pylist()}
