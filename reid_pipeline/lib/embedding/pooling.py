"""Tracklet vectors pooled while crop vectors stream past: memory per tracklet, not per crop.

Holds, per tracklet, the running quality-weighted sum of its crop vectors (float64, as ``pool_vectors``
sums) and the earliest crop's fields. The result equals ``pool_vectors`` over all its crops at once, up to
the order of the additions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.embedding.types import Embedder, l2_normalise
from reid_pipeline.lib.storage.schemas import embeddings_schema

FIRST_CROP_FIELDS = ("date", "camera_id", "entity_type", "timestamp")  # a pooled row's fields, from its first crop


@dataclass
class RunningPool:
    """One pooled vector as crops stream past: what ``pool_vectors`` computes over them all at once."""

    total: np.ndarray  # sum of quality x vector; the plain sum while every quality so far is 0
    weight: float = 0.0  # sum of qualities
    count: int = 0

    def add(self, vector: np.ndarray, quality: float) -> None:
        if quality < 0:
            raise ValueError(f"crop quality {quality} is negative; qualities weight the pooled vector")
        if self.weight == 0 and quality > 0:
            # pool_vectors weighs all crops equally only when every quality is 0; the crops seen so far all had
            # 0, so their weighted contribution is 0 and the plain sum kept for that case is dropped.
            self.total[:] = 0.0
        if self.weight > 0 or quality > 0:
            self.total += quality * vector
        else:
            self.total += vector
        self.weight += quality
        self.count += 1

    def vector(self) -> np.ndarray:
        mean = self.total / (self.weight if self.weight > 0 else self.count)
        return l2_normalise(mean[None, :])[0]


def pooled_by_key(keys: list[str], vectors: np.ndarray, qualities: list[float], into: dict[str, RunningPool]) -> None:
    """Fold ``vectors`` (one per key, weighted by quality) into the running pools of their keys."""
    for i, key in enumerate(keys):
        running = into.get(key)
        if running is None:
            running = into[key] = RunningPool(np.zeros(vectors.shape[1], dtype=np.float64))
        running.add(vectors[i].astype(np.float64), float(qualities[i]))


@dataclass
class _Running(RunningPool):
    first_key: tuple[datetime, int] = (datetime.min, 0)  # (timestamp, best_rank) of the earliest crop
    first: dict[str, object] = field(default_factory=dict)  # that crop's FIRST_CROP_FIELDS
    done: np.ndarray | None = None  # the float32 vector, once every crop is in (the float64 sums are gone)

    def finish(self) -> None:
        self.done = super().vector().astype(np.float32)
        self.total = np.zeros(0)

    def add(self, vector: np.ndarray, quality: float) -> None:
        if self.done is not None:
            raise ValueError("a crop arrived for a tracklet whose crops were all pooled: the crops partition changed")
        super().add(vector, quality)

    def vector(self) -> np.ndarray:
        return self.done if self.done is not None else super().vector()


class TrackletPool:
    """Running per-tracklet pooling of crop vectors (see the module docstring)."""

    def __init__(self, dims: int, crops_per_tracklet: Mapping[str, int] | None = None) -> None:
        """``crops_per_tracklet``, when known, lets a tracklet whose crops are all in keep its float32 vector
        instead of float64 sums (half the memory of a long day's pooled vectors); fewer crops than announced
        (one that failed to embed) only leave the sums in place until the end.
        """
        self.dims = dims
        self._tracklets: dict[str, _Running] = {}
        self._expected = crops_per_tracklet or {}

    def __len__(self) -> int:
        return len(self._tracklets)

    def add(self, crops: pa.Table, vectors: np.ndarray) -> None:
        """Fold in ``vectors`` (one per row of ``crops``: tracklet_id, quality, best_rank and FIRST_CROP_FIELDS)."""
        ids = crops.column("tracklet_id").to_pylist()
        qualities = crops.column("quality").to_pylist()
        ranks = crops.column("best_rank").to_pylist()
        fields = {name: crops.column(name).to_pylist() for name in FIRST_CROP_FIELDS}
        for i, tracklet_id in enumerate(ids):
            key = (fields["timestamp"][i], ranks[i] or 0)
            running = self._tracklets.get(str(tracklet_id))
            if running is None:
                first = {name: values[i] for name, values in fields.items()}
                running = _Running(np.zeros(self.dims, dtype=np.float64), first_key=key, first=first)
                self._tracklets[str(tracklet_id)] = running
            elif key < running.first_key:
                running.first_key = key
                running.first = {name: values[i] for name, values in fields.items()}
            running.add(vectors[i].astype(np.float64), float(qualities[i]))
            if running.count == self._expected.get(str(tracklet_id)):
                running.finish()

    def tables(self, embedder: Embedder, rows: int = 1024) -> Iterator[pa.Table]:
        """``kind='tracklet'`` rows, one per tracklet, ordered by tracklet id, in ``embeddings_schema``; ``rows``
        at a time, so a day's pooled vectors are not copied into one table on top of the running sums.
        """
        ids = sorted(self._tracklets)
        for start in range(0, len(ids), rows):
            yield self._table(ids[start : start + rows], embedder)

    def _table(self, ids: list[str], embedder: Embedder) -> pa.Table:
        pooled = [self._tracklets[tracklet_id] for tracklet_id in ids]
        vectors = np.stack([running.vector() for running in pooled]).astype(np.float32)
        columns: dict[str, object] = {
            "embedding_id": ids,
            "kind": ["tracklet"] * len(ids),
            **{name: [running.first[name] for running in pooled] for name in ("date", "camera_id")},
            "tracklet_id": ids,
            "crop_id": [None] * len(ids),
            "entity_type": [running.first["entity_type"] for running in pooled],
            "timestamp": [running.first["timestamp"] for running in pooled],
            "quality": [running.weight for running in pooled],
            "n_crops": [running.count for running in pooled],
        }
        return _with_model_columns(columns, vectors, embedder, embeddings_schema(self.dims))


def crop_rows(crops: pa.Table, vectors: np.ndarray, embedder: Embedder) -> pa.Table:
    """One ``kind='crop'`` row per row of ``crops`` (its embedded best crops, JPEG dropped) and its vector."""
    schema = embeddings_schema(embedder.dims)
    columns: dict[str, object] = {
        "embedding_id": crops.column("crop_id"),
        "kind": pa.array(["crop"] * crops.num_rows, pa.string()),
        **{name: crops.column(name) for name in ("date", "camera_id", "tracklet_id", "crop_id", "entity_type")},
        "timestamp": crops.column("timestamp"),
        "quality": crops.column("quality"),
        "n_crops": pa.array([1] * crops.num_rows, pa.int32()),
    }
    return _with_model_columns(columns, vectors, embedder, schema)


def _with_model_columns(
    columns: dict[str, object], vectors: np.ndarray, embedder: Embedder, schema: pa.Schema
) -> pa.Table:
    """``columns`` plus the vector and the model's name and width, as a table of ``schema``."""
    rows = len(vectors)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    columns = {
        **columns,
        "vector": pa.FixedSizeListArray.from_arrays(flat, embedder.dims),
        "backend": pa.array([embedder.backend] * rows, pa.string()),
        "model": pa.array([embedder.model_name] * rows, pa.string()),
        "dims": pa.array([embedder.dims] * rows, pa.int32()),
    }
    arrays = [_typed(columns[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _typed(values: object, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.cast(kind)
    return pa.array(values, kind)
