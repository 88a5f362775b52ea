"""A day's appearances: one row per tracklet of every camera, joined from the Parquet tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.adaptation.site import NO_ADAPTER, SiteAdaptation
from reid_pipeline.lib.embedding.run import tracklet_vectors, vectors_of
from reid_pipeline.lib.embedding.types import pool_vectors
from reid_pipeline.lib.identity.scoring import encode_attributes, flat_attributes
from reid_pipeline.lib.storage.parquet import ParquetStore
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


def adapted_tracklet_vectors(embeddings: pa.Table, adaptation: SiteAdaptation, camera: str) -> dict[str, np.ndarray]:
    """Per tracklet, its crops' vectors adapted to the site and pooled by crop quality (as the backbone's are)."""
    crops = embeddings.filter(pc.equal(embeddings.column("kind"), "crop"))
    if crops.num_rows == 0:
        return {}
    adapted = adaptation.apply(vectors_of(crops), [camera] * crops.num_rows)
    qualities = np.asarray(crops.column("quality").to_pylist(), dtype=np.float32)
    members: dict[str, list[int]] = defaultdict(list)
    for index, tracklet in enumerate(crops.column("tracklet_id").to_pylist()):
        members[str(tracklet)].append(index)
    return {t: pool_vectors(adapted[rows], qualities[rows]) for t, rows in members.items()}


def day_appearances(store: ParquetStore, date: str, adaptation: SiteAdaptation | None = None) -> DayAppearances:
    """Every tracklet of ``date`` that has a pooled vector, from every camera with embeddings that day.

    With ``adaptation``, vectors are the site-adapted ones and rows carry its ``adapter_id``; else the
    backbone's, with ``adapter_id = "none"``.
    """
    cameras = store.cameras("embeddings", date)
    rows: list[Row] = []
    dims = 0
    skipped = 0
    for camera in cameras:
        part = {"date": date, "camera": camera}
        embeddings = store.read("embeddings", part)
        if adaptation is None:
            dims = dims or embeddings.schema.field("vector").type.list_size
            vectors = tracklet_vectors(embeddings)
        else:
            vectors = adapted_tracklet_vectors(embeddings, adaptation, camera)
            dims = dims or (
                adaptation.head.out_dims if adaptation.head else embeddings.schema.field("vector").type.list_size
            )
        provenance = embeddings.select(["tracklet_id", "backend", "model"]).to_pylist()
        models = {row["tracklet_id"]: (row["backend"], row["model"]) for row in provenance}
        described = (
            {row["tracklet_id"]: row for row in store.read("attributes", part).to_pylist()}
            if store.exists("attributes", part)
            else {}
        )
        crops = store.read("crops", part, columns=["crop_id", "tracklet_id", "best_rank", "quality", "jpeg"])
        best = crops.filter(pc.equal(pc.fill_null(crops.column("best_rank"), 0), 1)).to_pylist()
        best_crop = {row["tracklet_id"]: row for row in best}
        for tracklet in store.read("tracklets", part).to_pylist():
            tracklet_id = tracklet["tracklet_id"]
            if tracklet_id not in vectors or tracklet_id not in best_crop:
                skipped += 1
                continue
            description = described.get(tracklet_id, {})
            crop = best_crop[tracklet_id]
            rows.append(
                {
                    "tracklet_id": tracklet_id,
                    "date": date,
                    "camera_id": camera,
                    "entity_type": tracklet["entity_type"],
                    "start_time": tracklet["start_time"],
                    "end_time": tracklet["end_time"],
                    "n_detections": tracklet["n_detections"],
                    "best_crop_id": crop["crop_id"],
                    "quality": float(crop["quality"]),
                    "summary": description.get("summary"),
                    "attributes": description.get("attributes"),
                    "flat_attributes": encode_attributes(flat_attributes(description)) if description else None,
                    "thumbnail": thumbnail(crop["jpeg"]),
                    "backend": models[tracklet_id][0],
                    "model": models[tracklet_id][1],
                    "adapter_id": adaptation.adapter_id if adaptation else NO_ADAPTER,
                    "vector": vectors[tracklet_id].tolist(),
                }
            )
    return DayAppearances(rows, dims, cameras, skipped)
