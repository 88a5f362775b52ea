"""``eval retrieval``: score an embedder (or precomputed vectors) on a Market-1501 style query/gallery split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from reid_pipeline.lib.embedding.pipelined import embed_jpegs
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.evaluation.market import ReidImage, parse_name, read_split
from reid_pipeline.lib.evaluation.rerank import rerank
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


def score(
    queries: list[ReidImage],
    q_vectors: np.ndarray,
    gallery: list[ReidImage],
    g_vectors: np.ndarray,
    with_rerank: bool = False,
) -> RetrievalScores:
    """mAP/CMC from unit vectors, by cosine distance or k-reciprocal re-ranked distance."""
    distances = cosine_distances(q_vectors, g_vectors)
    if with_rerank:
        distances = rerank(distances, cosine_distances(q_vectors, q_vectors), cosine_distances(g_vectors, g_vectors))
    return evaluate(distances, *_labels(queries), *_labels(gallery), ranks=CURVE_RANKS)


def retrieval_from_folders(
    embedder: Embedder, query_dir: Path, gallery_dir: Path, batch_size: int, workers: int, with_rerank: bool = False
) -> RetrievalScores:
    queries, gallery = read_split(query_dir), read_split(gallery_dir)
    q_vectors = _embed(embedder, queries, batch_size, workers)
    g_vectors = _embed(embedder, gallery, batch_size, workers)
    return score(queries, q_vectors, gallery, g_vectors, with_rerank)


def retrieval_from_vectors(path: Path, with_rerank: bool = False) -> RetrievalScores:
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
    return score(queries, q_vectors, gallery, g_vectors, with_rerank)
