"""Embed what matters: each tracklet's best crops, pooled into one quality-weighted tracklet vector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.embedding.stream import CROP_COLUMNS, embed_stream
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.storage.schemas import embeddings_schema


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
    """One row per embedded best crop plus one pooled row per tracklet, in ``embeddings_schema``, as one table.

    For a table already in memory (tests, evaluation); the asset streams a camera-day from Parquet through
    the same :func:`embed_stream`, so both give the same rows.
    """
    parts: list[pa.Table] = []
    chosen = best_crops(crops).select(CROP_COLUMNS)
    run = embed_stream([chosen], embedder, batch_size, workers, parts.append, on_shrink=on_shrink)
    table = pa.concat_tables(parts) if parts else embeddings_schema(embedder.dims).empty_table()
    return TrackletEmbeddings(table, run.crops_embedded, run.tracklets, run.batch_size, run.shrinks, run.errors)


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
