"""Nearest neighbours among one day's vectors, in memory (faiss): the candidate pairs of daily clustering.

A day's appearances are already in memory when they are clustered, so their neighbours are found there
rather than with one LanceDB query each: a million LanceDB queries cost about 1.3 ms each on two cores
(over 20 minutes), a batched in-memory search a few minutes. Up to ``EXACT_MAX_ROWS`` vectors the
search is exact; above, an inverted file (IVF, flat vectors, no compression) probes the
``IVF_PROBES`` cells nearest each query, so similarities it returns are exact inner products and only
the rare neighbour outside those cells can be missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_MAX_ROWS = 20_000
IVF_ROWS_PER_CELL = 1_000  # about sqrt(n) cells at a million rows
IVF_PROBES = 12
IVF_TRAINING_ROWS = 50_000
QUERY_BATCH = 65_536  # bounds the result buffers of one search call


@dataclass(frozen=True)
class Neighbours:
    """For each row, up to ``k`` other rows (``-1`` where fewer exist) and their inner products."""

    index: np.ndarray  # (n, k) int64
    similarity: np.ndarray  # (n, k) float32
    method: str


def nearest_neighbours(vectors: np.ndarray, k: int, seed: int = 0) -> Neighbours:
    """The ``k`` nearest other rows of every row of ``vectors`` (unit rows: inner product = cosine)."""
    import faiss

    data = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dims = data.shape
    if n == 0 or k <= 0:
        return Neighbours(np.empty((n, 0), np.int64), np.empty((n, 0), np.float32), "none")
    if n <= EXACT_MAX_ROWS:
        index = faiss.IndexFlatIP(dims)
        method = "exact"
    else:
        cells = max(1, n // IVF_ROWS_PER_CELL)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dims), dims, cells, faiss.METRIC_INNER_PRODUCT)
        # A seeded sample trains the cells, so the same day always gets the same index.
        sample = np.random.default_rng(seed).choice(n, size=min(n, max(IVF_TRAINING_ROWS, 40 * cells)), replace=False)
        index.cp.seed = seed
        index.train(data[np.sort(sample)])
        index.nprobe = min(IVF_PROBES, cells)
        method = f"IVF-Flat, {cells} cells, {index.nprobe} probed"
    index.add(data)
    wanted = min(k + 1, n)  # each row finds itself too
    found = np.empty((n, wanted), np.int64)
    sims = np.empty((n, wanted), np.float32)
    for lo in range(0, n, QUERY_BATCH):
        sims[lo : lo + QUERY_BATCH], found[lo : lo + QUERY_BATCH] = index.search(data[lo : lo + QUERY_BATCH], wanted)
    own = found == np.arange(n)[:, None]
    # Drop each row's own hit; a row whose own hit was crowded out by exact duplicates drops its last one.
    drop = np.where(own.any(axis=1), own.argmax(axis=1), wanted - 1)
    keep = np.ones_like(own)
    keep[np.arange(n), drop] = False
    width = wanted - 1
    return Neighbours(found[keep].reshape(n, width), sims[keep].reshape(n, width), method)
