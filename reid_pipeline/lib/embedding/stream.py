"""Embed a camera-day's best crops a batch at a time: memory holds one batch of JPEGs and one pooled
vector per tracklet, however many hours of crops the day has.

Rows, in ``embeddings_schema``: each embedded best crop's row, in the crops' file order, then one pooled row
per tracklet (the quality-weighted mean of its crops' vectors), ordered by tracklet id, once every crop is seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.embedding.pipelined import embed_jpegs
from reid_pipeline.lib.embedding.pooling import TrackletPool, crop_rows
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.runtime.memory import trim_heap

# What embedding reads of the crops: no box, size or sharpness.
CROP_COLUMNS = ["crop_id", "date", "camera_id", "tracklet_id", "entity_type", "timestamp", "quality"]
CROP_COLUMNS += ["is_best", "best_rank", "jpeg"]
# Crops read and embedded at once. A quarter of a Parquet row group: on a 28 800-crop day, batches of 4 096
# peaked about 140 MB higher than batches of 1 024 (their vectors, JPEG lists and output rows at once).
CROP_BATCH_ROWS = 1024


@dataclass
class StreamedEmbeddings:
    """What a streamed run came to, for the asset's metadata (the rows themselves went to the sink)."""

    crops_embedded: int = 0
    tracklets: int = 0
    batch_size: int = 0
    shrinks: int = 0
    errors: list[str] = field(default_factory=list)
    head: pa.Table | None = None  # the first rows written, without their vectors, for a preview


def embed_stream(
    batches: Iterable[pa.RecordBatch | pa.Table],
    embedder: Embedder,
    batch_size: int,
    workers: int,
    sink: Callable[[pa.Table], None],
    on_selected: Callable[[list[str]], None] = lambda _ids: None,
    on_shrink: Callable[[int, int], None] | None = None,
    crops_per_tracklet: Mapping[str, int] | None = None,
) -> StreamedEmbeddings:
    """Embed the best crops (``is_best``) of ``batches`` (CROP_COLUMNS of ``CROPS``) and hand ``sink`` their
    rows, then the pooled tracklet rows, in ``embeddings_schema``.

    ``on_selected`` hears each batch's best crop ids before they are embedded (what the checks expect).
    ``crops_per_tracklet`` (best crops per tracklet, :func:`best_crop_counts`) lets finished tracklets hold
    less while the rest stream past.
    """
    pool = TrackletPool(embedder.dims, crops_per_tracklet)
    summary = StreamedEmbeddings(batch_size=batch_size)
    for batch in batches:
        chosen = _best(batch)
        if not chosen.num_rows:
            continue
        names = [str(crop_id) for crop_id in chosen.column("crop_id").to_pylist()]
        on_selected(names)
        result = embed_jpegs(embedder, chosen.column("jpeg").to_pylist(), names, summary.batch_size, workers, on_shrink)
        # An out-of-memory back-off carries over to the next batch rather than being paid for again.
        summary.batch_size, summary.shrinks = result.batch_size, summary.shrinks + result.shrinks
        summary.errors += result.errors
        embedded = chosen.drop_columns(["jpeg"]).take(pa.array(result.kept, pa.int64()))
        pool.add(embedded, result.vectors)
        _emit(crop_rows(embedded, result.vectors, embedder), sink, summary)
        summary.crops_embedded += embedded.num_rows
        trim_heap()  # the decode threads' freed crop tensors, before the next batch fragments them further
    summary.tracklets = len(pool)
    for pooled in pool.tables(embedder):
        _emit(pooled, sink, summary)
    return summary


def best_crop_counts(crops: pa.Table) -> dict[str, int]:
    """Best crops per tracklet, from a crops table's ``tracklet_id`` and ``is_best`` columns."""
    return value_counts(crops.filter(pc.fill_null(crops.column("is_best"), False)).column("tracklet_id"))


def value_counts(values: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """How often each value occurs, counted in Arrow."""
    counted = pc.value_counts(values)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


def _best(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return table.filter(pc.fill_null(table.column("is_best"), False))


def _emit(rows: pa.Table, sink: Callable[[pa.Table], None], summary: StreamedEmbeddings) -> None:
    if not rows.num_rows:
        return
    if summary.head is None:
        summary.head = rows.slice(0, 10).drop_columns(["vector"])  # a preview shows no vector anyway
    sink(rows)
