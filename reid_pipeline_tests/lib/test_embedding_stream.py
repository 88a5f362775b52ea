"""Streamed embeddings: the same rows as embedding a camera-day's crops at once, a batch at a time."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch
from PIL import Image

from reid_pipeline.lib.embedding.checks import EmbeddingChecks, check_embeddings
from reid_pipeline.lib.embedding.pooling import TrackletPool
from reid_pipeline.lib.embedding.run import embed_tracklets, vectors_of
from reid_pipeline.lib.embedding.stream import CROP_COLUMNS, best_crop_counts, embed_stream
from reid_pipeline.lib.embedding.types import l2_normalise
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.lib.storage.schemas import CROPS, embeddings_schema

PARTITION = {"date": "2024-05-01", "camera": "gate"}
DIMS = 24


class ThumbnailEmbedder:
    """A fast deterministic embedder: an 8x4 thumbnail through a fixed random projection, normalised."""

    backend, model_name, device, cpu_batch_size, text_encoder = "test", "thumbnail", "cpu", 4, None

    def __init__(self, fail_after: int | None = None) -> None:
        self.matrix = torch.from_numpy(np.random.default_rng(1).standard_normal((96, DIMS)).astype(np.float32))
        self.fail_after = fail_after  # batches before forward raises, to interrupt a stream
        self.batches = 0

    @property
    def dims(self) -> int:
        return DIMS

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image.convert("RGB").resize((4, 8)), dtype=np.float32).ravel() / 255.0)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        self.batches += 1
        if self.fail_after is not None and self.batches > self.fail_after:
            raise RuntimeError("device lost")
        return l2_normalise((batch.reshape(len(batch), -1) @ self.matrix).numpy())


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (40, 20, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def day_of_crops(tracklets: int = 9) -> pa.Table:
    """Best crops of ``tracklets`` tracklets in a shuffled order, so each tracklet spans several small batches
    and its earliest crop is not always read first; plus a crop not among the best, a JPEG that does not
    decode, and a tracklet whose best crops all score 0 (its crops then count equally).
    """
    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    rows = []
    for t in range(tracklets):
        for rank in range(1, 4):
            quality = 0.0 if t == 4 else 0.1 + 0.2 * rank + 0.01 * t
            at = start + timedelta(seconds=t + 7 * ((rank * (t + 2)) % 5))
            rows.append(_crop(f"c{t}-{rank}", f"2024-05-01/gate/{t:06d}", at, quality, rank, jpeg(10 * t + rank)))
    rows.append(_crop("not-best", "2024-05-01/gate/000000", start, 0.9, None, jpeg(99)))
    rows.append(_crop("broken", "2024-05-01/gate/000001", start + timedelta(seconds=5), 0.8, 4, b"not a jpeg"))
    order = np.random.default_rng(3).permutation(len(rows))
    return pa.Table.from_pylist([rows[i] for i in order], schema=CROPS)


def _crop(crop_id: str, tracklet_id: str, at: datetime, quality: float, rank: int | None, data: bytes) -> dict:
    return {
        **{"crop_id": crop_id, "date": "2024-05-01", "camera_id": "gate", "tracklet_id": tracklet_id},
        **{"entity_type": "person", "timestamp": at, "width": 20, "height": 40, "sharpness": 50.0},
        **{"truncated": False, "score": 0.9, "quality": quality, "is_best": rank is not None, "best_rank": rank},
        "jpeg": data,
    }


def streamed(
    store: ParquetStore, embedder: ThumbnailEmbedder, rows: int, counted: bool = False
) -> tuple[pa.Table, EmbeddingChecks, object]:
    """Stream the partition's crops ``rows`` at a time into its embeddings partition; the written table.
    ``counted``: the best crops per tracklet are announced, so finished tracklets drop their running sums."""
    checks = EmbeddingChecks(DIMS, DIMS)
    with store.stream("embeddings", PARTITION, embeddings_schema(DIMS)) as write:

        def sink(table: pa.Table) -> None:
            checks.add(table)
            write(table)

        batches = store.batches("crops", PARTITION, CROP_COLUMNS, rows)
        counts = best_crop_counts(store.read("crops", PARTITION)) if counted else None
        summary = embed_stream(batches, embedder, 2, 1, sink, checks.expect, crops_per_tracklet=counts)
    return store.read("embeddings", PARTITION), checks, summary


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by([("kind", "ascending"), ("embedding_id", "ascending")])


@pytest.mark.parametrize("counted", [False, True], ids=["sums-to-the-end", "finished-tracklets-let-go"])
@pytest.mark.parametrize("rows", [1, 4, 1000])
def test_streamed_rows_equal_embedding_the_day_at_once(tmp_path: Path, rows: int, counted: bool) -> None:
    crops = day_of_crops()
    store = ParquetStore(str(tmp_path))
    store.write("crops", PARTITION, crops)
    at_once = embed_tracklets(crops, ThumbnailEmbedder(), 2, 1)
    table, checks, summary = streamed(store, ThumbnailEmbedder(), rows, counted)

    expected, got = by_id(at_once.table), by_id(table)
    assert got.schema == expected.schema
    assert got.drop_columns(["vector"]).to_pylist() == expected.drop_columns(["vector"]).to_pylist()
    np.testing.assert_allclose(vectors_of(got), vectors_of(expected), atol=1e-6)
    assert (summary.crops_embedded, summary.tracklets) == (at_once.crops_embedded, at_once.tracklets) == (27, 9)
    assert summary.errors == at_once.errors and len(summary.errors) == 1
    # Crop rows first, in the crops' order, then the pooled rows ordered by tracklet id.
    kinds = table.column("kind").to_pylist()
    assert kinds == ["crop"] * 27 + ["tracklet"] * 9
    pooled_ids = table.filter(pc.equal(table.column("kind"), "tracklet")).column("tracklet_id").to_pylist()
    assert pooled_ids == sorted(pooled_ids)

    # Counted a batch at a time, the checks say what they say of the whole table (the broken crop is missing).
    selected = crops.filter(crops.column("is_best")).column("crop_id").to_pylist()
    whole = {o.name: (o.passed, o.metadata) for o in check_embeddings(at_once.table, selected, DIMS)}
    assert {o.name: (o.passed, o.metadata) for o in checks.outcomes()} == whole
    passed, metadata = whole["one_vector_per_selected_crop"]
    assert not passed and metadata["first_missing"] == "broken"


def test_incremental_checks_catch_bad_vectors_and_duplicates() -> None:
    table = embed_tracklets(day_of_crops(3), ThumbnailEmbedder(), 2, 1).table
    vectors = vectors_of(table)
    vectors[0] *= 2
    vectors[1, 0] = np.nan
    at = table.schema.get_field_index("vector")
    broken = table.set_column(at, "vector", pa.FixedSizeListArray.from_arrays(vectors.ravel(), DIMS))
    checks = EmbeddingChecks(DIMS, DIMS)
    checks.expect(table.filter(pc.equal(table.column("kind"), "crop")).column("crop_id").to_pylist())
    checks.add(broken.slice(0, 2))
    checks.add(broken.slice(2))
    checks.add(broken.slice(0, 1))  # a crop written twice
    outcomes = {o.name: o for o in checks.outcomes()}
    # The stretched vector twice (written twice) and the NaN one (its NaN counts as 0, so it is short too).
    assert outcomes["unit_norm"].metadata["off_unit_norm"] == 3
    assert outcomes["no_nan"].metadata["rows_with_nan"] == 1
    assert outcomes["one_vector_per_selected_crop"].metadata["duplicates"] == 1
    assert outcomes["dims_match_model"].passed
    assert not EmbeddingChecks(DIMS + 1, DIMS).outcomes()[3].passed


def test_a_stream_that_fails_midway_leaves_the_old_partition_whole(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    store.write("crops", PARTITION, day_of_crops())
    old, _, _ = streamed(store, ThumbnailEmbedder(), 4)
    with pytest.raises(RuntimeError, match="device lost"):
        streamed(store, ThumbnailEmbedder(fail_after=3), 4)
    assert store.read("embeddings", PARTITION).equals(old)
    assert [p.name for p in (tmp_path / "parquet" / "embeddings").rglob("*") if p.is_file()] == ["part-0.parquet"]


def test_pooled_rows_come_in_chunks_that_add_up_to_one_table() -> None:
    crops = day_of_crops()
    usable = pc.and_(crops.column("is_best"), pc.not_equal(crops.column("crop_id"), "broken"))
    chosen = crops.filter(usable)
    embedder = ThumbnailEmbedder()
    vectors = l2_normalise(np.random.default_rng(0).standard_normal((chosen.num_rows, DIMS)))
    pool = TrackletPool(DIMS)
    pool.add(chosen, vectors)
    chunks = list(pool.tables(embedder, rows=2))
    assert [chunk.num_rows for chunk in chunks] == [2, 2, 2, 2, 1]
    assert pa.concat_tables(chunks).equals(pa.concat_tables(pool.tables(embedder, rows=1000)))


def test_a_crop_for_a_tracklet_already_pooled_is_refused() -> None:
    """Announced counts are trusted to free the sums; a crop past its tracklet's count means the crops
    partition changed under the run, and the pooled vector would be wrong."""
    crops = day_of_crops(2).filter(pc.field("tracklet_id") == "2024-05-01/gate/000000")
    crops = crops.filter(pc.field("is_best"))
    pool = TrackletPool(DIMS, {"2024-05-01/gate/000000": 1})
    vectors = np.eye(DIMS, dtype=np.float32)[: crops.num_rows]
    with pytest.raises(ValueError, match="crops partition changed"):
        pool.add(crops, vectors)
