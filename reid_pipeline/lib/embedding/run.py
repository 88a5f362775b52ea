"""Embed what matters: each tracklet's best crops, pooled into one quality-weighted tracklet vector."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.embedding.pipelined import embed_jpegs
from reid_pipeline.lib.embedding.types import Embedder, pool_vectors
from reid_pipeline.lib.storage.schemas import Row, embeddings_schema


@dataclass
class TrackletEmbeddings:
    table: pa.Table
    crops_embedded: int
    tracklets: int
    batch_size: int
    shrinks: int
    errors: list[str] = field(default_factory=list)


def best_crops(crops: pa.Table) -> pa.Table:
    """The crops marked best of their tracklet, ordered by tracklet then rank (a stable embedding order)."""
    chosen = crops.filter(pc.fill_null(crops.column("is_best"), False))
    return chosen.sort_by([("tracklet_id", "ascending"), ("best_rank", "ascending")])


def embed_tracklets(
    crops: pa.Table,
    embedder: Embedder,
    batch_size: int,
    workers: int,
    on_shrink: Callable[[int, int], None] | None = None,
) -> TrackletEmbeddings:
    """One row per embedded best crop plus one pooled row per tracklet, in ``embeddings_schema``."""
    chosen = best_crops(crops)
    meta = chosen.drop_columns(["jpeg"]).to_pylist()
    result = embed_jpegs(
        embedder,
        chosen.column("jpeg").to_pylist(),
        [str(row["crop_id"]) for row in meta],
        batch_size,
        workers,
        on_shrink,
    )
    dims = embedder.dims
    rows: list[Row] = []
    members: dict[str, list[tuple[Row, np.ndarray]]] = defaultdict(list)
    for index, vector in zip(result.kept, result.vectors, strict=True):
        crop = meta[index]
        rows.append(_row(crop, "crop", str(crop["crop_id"]), crop["crop_id"], crop["quality"], 1, vector, embedder))
        members[str(crop["tracklet_id"])].append((crop, vector))
    for tracklet_id, group in members.items():
        qualities = np.array([float(crop["quality"]) for crop, _ in group])
        pooled = pool_vectors(np.stack([vector for _, vector in group]), qualities)
        first = min((crop for crop, _ in group), key=lambda crop: crop["timestamp"])
        rows.append(_row(first, "tracklet", tracklet_id, None, float(qualities.sum()), len(group), pooled, embedder))
    table = (
        pa.Table.from_pylist(rows, schema=embeddings_schema(dims)) if rows else embeddings_schema(dims).empty_table()
    )
    return TrackletEmbeddings(table, len(result.kept), len(members), result.batch_size, result.shrinks, result.errors)


def _row(
    crop: Row,
    kind: str,
    embedding_id: str,
    crop_id: object,
    quality: float,
    n_crops: int,
    vector: np.ndarray,
    embedder: Embedder,
) -> Row:
    return {
        "embedding_id": embedding_id,
        "kind": kind,
        "date": crop["date"],
        "camera_id": crop["camera_id"],
        "tracklet_id": crop["tracklet_id"],
        "crop_id": crop_id,
        "entity_type": crop["entity_type"],
        "timestamp": crop["timestamp"],
        "quality": quality,
        "n_crops": n_crops,
        "vector": vector.astype(np.float32),
        "backend": embedder.backend,
        "model": embedder.model_name,
        "dims": embedder.dims,
    }


def tracklet_vectors(embeddings: pa.Table) -> dict[str, np.ndarray]:
    """Pooled vector per tracklet id, from an ``embeddings`` table."""
    pooled = embeddings.filter(pc.equal(embeddings.column("kind"), "tracklet"))
    ids = pooled.column("tracklet_id").to_pylist()
    vectors = vectors_of(pooled)
    return {str(tracklet_id): vectors[i] for i, tracklet_id in enumerate(ids)}


def vectors_of(table: pa.Table, column: str = "vector") -> np.ndarray:
    """A fixed-size-list column as an (N, dims) float32 matrix, without a Python loop."""
    chunked = table.column(column).combine_chunks()
    if len(chunked) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    width = chunked.type.list_size
    return chunked.flatten().to_numpy(zero_copy_only=False).reshape(-1, width).astype(np.float32)
