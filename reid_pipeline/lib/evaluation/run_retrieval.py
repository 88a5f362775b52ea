"""``eval retrieval``: score an embedder (or precomputed vectors) on a Market-1501 style query/gallery split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from reid_pipeline.lib.embedding.run import embed_jpegs
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.evaluation.market import ReidImage, parse_name, read_split
from reid_pipeline.lib.evaluation.retrieval import CURVE_RANKS, RetrievalScores, cosine_distances, evaluate


def _embed(embedder: Embedder, images: list[ReidImage], batch_size: int, workers: int) -> np.ndarray:
    result = embed_jpegs(
        embedder, [image.path.read_bytes() for image in images], [str(i.path) for i in images], batch_size, workers
    )
    if result.errors:
        raise ValueError(f"{len(result.errors)} images could not be read, first: {result.errors[0]}")
    return result.vectors


def _labels(images: list[ReidImage]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([i.pid for i in images]), np.array([i.camera for i in images])


def retrieval_from_folders(
    embedder: Embedder, query_dir: Path, gallery_dir: Path, batch_size: int, workers: int
) -> RetrievalScores:
    queries, gallery = read_split(query_dir), read_split(gallery_dir)
    q_vectors = _embed(embedder, queries, batch_size, workers)
    g_vectors = _embed(embedder, gallery, batch_size, workers)
    return evaluate(cosine_distances(q_vectors, g_vectors), *_labels(queries), *_labels(gallery), ranks=CURVE_RANKS)


def retrieval_from_vectors(path: Path) -> RetrievalScores:
    """Precomputed vectors: a Parquet file with ``name`` (Market-1501 file name), ``split`` and ``vector``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass a Parquet file of name, split, vector")
    table = pq.read_table(path)
    missing = {"name", "split", "vector"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}: expected name, split (query|gallery), vector")
    rows = table.to_pylist()
    sides = {}
    for split in ("query", "gallery"):
        chosen = [r for r in rows if r["split"] == split]
        if not chosen:
            raise ValueError(f"{path} has no rows with split = {split!r}")
        images = [parse_name(Path(r["name"])) for r in chosen]
        vectors = np.asarray([r["vector"] for r in chosen], dtype=np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sides[split] = (images, vectors)
    (queries, q_vectors), (gallery, g_vectors) = sides["query"], sides["gallery"]
    return evaluate(cosine_distances(q_vectors, g_vectors), *_labels(queries), *_labels(gallery), ranks=CURVE_RANKS)
