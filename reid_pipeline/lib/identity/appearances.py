"""A day's appearances: one row per tracklet of every camera, joined from the Parquet tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.adaptation.site import NO_ADAPTER, SiteAdaptation
from reid_pipeline.lib.embedding.pooling import RunningPool, pooled_by_key
from reid_pipeline.lib.embedding.run import tracklet_vectors, vectors_of
from reid_pipeline.lib.embedding.stream import value_counts
from reid_pipeline.lib.footage.sampling import batched
from reid_pipeline.lib.identity.scoring import encode_attributes, flat_attributes
from reid_pipeline.lib.identity.tables import appearances_schema
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.lib.storage.schemas import Row

THUMBNAIL_HEIGHT = 96
ADAPT_BATCH_ROWS = 1024  # crop vectors adapted at once: their float32 copies are a few MB


@dataclass
class DayAppearances:
    table: pa.Table | None  # None: no camera had a tracklet with a vector and a crop
    found: int  # rows before ``keep`` left any out
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
    store: ParquetStore, part: dict[str, str], adaptation: SiteAdaptation, rows: int = ADAPT_BATCH_ROWS
) -> dict[str, np.ndarray]:
    """Per tracklet, its crops' vectors adapted to the site and pooled by crop quality (as the backbone's are).

    The crop rows are read, adapted and pooled ``rows`` at a time: a 4-hour day's 24 000 crop vectors, and
    their adapted copies, are never held together (about 250 MB at 1 280 dims). Running float64 sums are
    kept only for tracklets whose crops have not all gone by yet.
    """
    kinds = store.read("embeddings", part, columns=["kind", "tracklet_id"])
    crops_left = value_counts(kinds.filter(pc.equal(kinds.column("kind"), "crop")).column("tracklet_id"))
    del kinds
    pools: dict[str, RunningPool] = {}
    vectors: dict[str, np.ndarray] = {}
    for batch in store.batches("embeddings", part, ADAPTED_COLUMNS, rows):
        crops = batch.filter(pc.equal(batch.column("kind"), "crop"))
        if crops.num_rows == 0:
            continue
        adapted = adaptation.apply(vectors_of(pa.table(crops)), [part["camera"]] * crops.num_rows)
        tracklets = [str(t) for t in crops.column("tracklet_id").to_pylist()]
        pooled_by_key(tracklets, adapted, crops.column("quality").to_pylist(), pools)
        # A tracklet whose last crop has gone by keeps its float32 vector, not its float64 sums: only the
        # tracklets under way hold sums (crops come in time order).
        for tracklet, count in value_counts(pa.array(tracklets)).items():
            crops_left[tracklet] -= count
            if crops_left[tracklet] == 0:
                vectors[tracklet] = pools.pop(tracklet).vector().astype(np.float32)
    vectors.update({tracklet: running.vector().astype(np.float32) for tracklet, running in pools.items()})
    return vectors


def day_appearances(
    store: ParquetStore,
    date: str,
    adaptation: SiteAdaptation | None = None,
    keep: Callable[[list[Row]], list[Row]] = lambda rows: rows,
) -> DayAppearances:
    """Every tracklet of ``date`` that has a pooled vector, from every camera with embeddings that day, as
    one Arrow table in ``appearances_schema`` (rows ``keep`` leaves out are not in it).

    With ``adaptation``, vectors are the site-adapted ones and rows carry its ``adapter_id``; else the
    backbone's, with ``adapter_id = "none"``. Rows become Arrow ``ROWS_PER_CHUNK`` at a time: a day of row
    dicts, each with its vector and thumbnail, is never held.
    """
    cameras = store.cameras("embeddings", date)
    chunks: list[pa.Table] = []
    dims = found = skipped = 0
    for camera in cameras:
        part = {"date": date, "camera": camera}
        width, rows, missing = _camera_appearances(store, part, adaptation)
        dims = dims or width
        for chunk in batched(rows, ROWS_PER_CHUNK):
            found += len(chunk)
            kept = keep(chunk)
            if kept:
                chunks.append(pa.Table.from_pylist(kept, schema=appearances_schema(width)))
        skipped += missing()
    table = pa.concat_tables(chunks) if chunks else None
    return DayAppearances(table, found, dims, cameras, skipped)


ROWS_PER_CHUNK = 512


# What an appearance takes of each table: no crop's other columns, no description's vector.
EMBEDDING_COLUMNS = ["tracklet_id", "kind", "quality", "backend", "model", "vector"]
ADAPTED_COLUMNS = ["tracklet_id", "kind", "quality", "vector"]  # of the crop rows, when adapting
CROP_COLUMNS = ["crop_id", "tracklet_id", "best_rank", "quality", "jpeg"]
TRACKLET_COLUMNS = ["tracklet_id", "entity_type", "start_time", "end_time", "n_detections"]


def _camera_appearances(
    store: ParquetStore, part: dict[str, str], adaptation: SiteAdaptation | None
) -> tuple[int, Iterator[Row], Callable[[], int]]:
    """One camera's appearances of the day: their vectors' width, the rows one at a time, and (once the rows
    are read) how many tracklets had no vector or crop."""
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
    del pooled
    described = _descriptions(store, part)
    best_crop = _best_crops(store, part)
    skipped = [0]

    def rows() -> Iterator[Row]:
        for tracklet in store.read("tracklets", part, columns=TRACKLET_COLUMNS).to_pylist():
            tracklet_id = tracklet["tracklet_id"]
            if tracklet_id not in vectors or tracklet_id not in best_crop:
                skipped[0] += 1
                continue
            description = described.get(tracklet_id, {})
            crop_id, quality, small = best_crop[tracklet_id]
            yield {
                **tracklet,
                "date": part["date"],
                "camera_id": part["camera"],
                "best_crop_id": crop_id,
                "quality": quality,
                "summary": description.get("summary"),
                "attributes": description.get("attributes"),
                "flat_attributes": encode_attributes(flat_attributes(description)) if description else None,
                "thumbnail": small,
                "backend": models[tracklet_id][0],
                "model": models[tracklet_id][1],
                "adapter_id": adaptation.adapter_id if adaptation else NO_ADAPTER,
                "vector": vectors.pop(tracklet_id),  # its row holds it from here on
            }

    return width, rows(), lambda: skipped[0]


def _best_crops(store: ParquetStore, part: dict[str, str]) -> dict[str, tuple[str, float, bytes]]:
    """Per tracklet, its best crop's id, quality and thumbnail, the crops read a row group at a time (a 4-hour
    day's best JPEGs are 100 MB; their thumbnails a fraction of that)."""
    best: dict[str, tuple[str, float, bytes]] = {}
    for batch in store.batches("crops", part, CROP_COLUMNS):
        for row in batch.filter(pc.equal(batch.column("best_rank"), 1)).to_pylist():
            best[row["tracklet_id"]] = (row["crop_id"], float(row["quality"]), thumbnail(row["jpeg"]))
    return best


def _descriptions(store: ParquetStore, part: dict[str, str]) -> dict[str, Row]:
    """The camera-day's attribute rows by tracklet, without the vector each was described from."""
    if not store.exists("attributes", part):
        return {}
    columns = [name for name in store.schema("attributes", part).names if name != "appearance"]
    return {row["tracklet_id"]: row for row in store.read("attributes", part, columns=columns).to_pylist()}
