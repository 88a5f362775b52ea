"""Nearest neighbours among one day's vectors, in memory: the candidate pairs of daily clustering.

A day's appearances are already in memory when they are clustered, so their neighbours are found there
with matrix products (BLAS on every core) rather than one LanceDB query each: a million LanceDB queries
take about 1.3 ms each on two cores, over 20 minutes. Measured on two cores, a BLAS product runs about
seven times faster than faiss's IVF scan of the same vectors, which is why neither faiss nor a per-query
index is used.

Up to ``EXACT_MAX_ROWS`` vectors every pair is compared. Above, an inverted file: the rows are split
into cells by a few rounds of seeded spherical k-means (about a thousand rows a cell), and each row is
compared with the rows of the ``PROBED_CELLS`` cells whose centres are nearest to it. The work is
grouped by cell, so one matrix product compares a cell with every row that probes it. Similarities are
exact; only a neighbour in a cell that was not probed can be missed.

Only neighbours at or above ``floor`` are kept: pairs below it can neither merge nor be reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_MAX_ROWS = 20_000
ROWS_PER_CELL = 1_000
PROBED_CELLS = 6  # at 100 k rows, F1 and time: 4 probes 0.9957 (0.55x), 6 probes 0.9993 (0.75x), 8 probes 0.9997
KMEANS_ROUNDS = 8
KMEANS_SAMPLE_PER_CELL = 40
# Similarities computed at once: queries x pool entries, float32. A 4-hour day's 5 400 appearances in blocks of
# 2 048 queries held a 44 MB block and up to 180 MB of pair indices; memory stays the same at any day's size.
BLOCK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class NeighbourPairs:
    """Row ``query[i]`` has row ``other[i]`` among its ``k`` nearest, with inner product ``similarity[i]``."""

    query: np.ndarray  # int64
    other: np.ndarray  # int64
    similarity: np.ndarray  # float32
    method: str


def neighbour_pairs(vectors: np.ndarray, k: int, floor: float, seed: int = 0) -> NeighbourPairs:
    """Each row's ``k`` nearest other rows with inner product at least ``floor`` (unit rows: cosine)."""
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    n = data.shape[0]
    empty = np.empty(0, np.int64)
    if n < 2 or k <= 0:
        return NeighbourPairs(empty, empty, np.empty(0, np.float32), "none")
    parts = []
    if n <= EXACT_MAX_ROWS:
        everyone = np.arange(n)
        parts.append(_hits(data, everyone, everyone, k, floor))
        method = "exact"
    else:
        centres = _centres(data, max(2, n // ROWS_PER_CELL), seed)
        probes = min(PROBED_CELLS, len(centres))
        probed = _probes(data, centres, probes)  # (n, probes): each row's nearest cells, its own first
        members = _by_cell(probed[:, 0], len(centres))
        askers = _by_cell(probed.reshape(-1), len(centres))  # positions in probed.reshape(-1)
        for cell in range(len(centres)):
            if members[cell].size and askers[cell].size:
                parts.append(_hits(data, askers[cell] // probes, members[cell], k, floor))
        method = f"inverted file: {len(centres)} cells by k-means, {probes} nearest probed per row"
    query = np.concatenate([p[0] for p in parts]) if parts else empty
    other = np.concatenate([p[1] for p in parts]) if parts else empty
    similarity = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.float32)
    # Per row, strongest first (ties by row number), and at most k of them.
    order = np.lexsort((other, -similarity, query))
    query, other, similarity = query[order], other[order], similarity[order]
    starts = np.searchsorted(query, query, side="left")
    keep = (np.arange(query.size) - starts) < k
    return NeighbourPairs(query[keep], other[keep], similarity[keep], method)


def _hits(
    data: np.ndarray, queries: np.ndarray, pool: np.ndarray, k: int, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query, pool row, similarity) at or above ``floor``, a row never paired with itself; where the
    floor is so low that most pairs pass, only each query's ``k + 1`` best are kept. Queries go a block of
    ``BLOCK_ELEMENTS`` similarities at a time."""
    pool_data = data if pool.size == len(data) and bool(np.all(pool == np.arange(len(data)))) else data[pool]
    step = max(1, BLOCK_ELEMENTS // max(1, pool.size))
    parts = [
        _block_hits(data, queries[lo : lo + step], pool, pool_data, k, floor) for lo in range(0, len(queries), step)
    ]
    if len(parts) == 1:
        return parts[0]
    mine, others, similarity = zip(*parts, strict=True)
    return np.concatenate(mine), np.concatenate(others), np.concatenate(similarity)


def _block_hits(
    data: np.ndarray, queries: np.ndarray, pool: np.ndarray, pool_data: np.ndarray, k: int, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sims = data[queries] @ pool_data.T
    passing = sims >= floor
    if np.count_nonzero(passing) > 8 * (k + 1) * len(queries):
        width = min(k + 1, pool.size)
        top = np.argpartition(-sims, width - 1, axis=1)[:, :width]
        rows = np.repeat(np.arange(len(queries)), width)
        cols = top.reshape(-1)
        keep = sims[rows, cols] >= floor
        rows, cols = rows[keep], cols[keep]
    else:
        rows, cols = np.nonzero(passing)
    mine, others = queries[rows], pool[cols]
    apart = mine != others
    return mine[apart], others[apart], sims[rows[apart], cols[apart]].astype(np.float32)


def _by_cell(cells: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions in ``cells`` grouped by cell number."""
    order = np.argsort(cells, kind="stable")
    bounds = np.searchsorted(cells[order], np.arange(count + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(count)]


def _probes(data: np.ndarray, centres: np.ndarray, probes: int, block: int = 32_768) -> np.ndarray:
    out = np.empty((data.shape[0], probes), np.int64)
    for lo in range(0, data.shape[0], block):
        sims = data[lo : lo + block] @ centres.T
        top = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
        ranked = np.take_along_axis(sims, top, axis=1)
        out[lo : lo + block] = np.take_along_axis(top, np.argsort(-ranked, axis=1, kind="stable"), axis=1)
    return out


def _centres(data: np.ndarray, cells: int, seed: int) -> np.ndarray:
    """Unit cell centres from spherical k-means on a seeded sample (so a day always gets the same cells)."""
    rng = np.random.default_rng(seed)
    n = data.shape[0]
    sample = data[np.sort(rng.choice(n, size=min(n, cells * KMEANS_SAMPLE_PER_CELL), replace=False))]
    centres = sample[np.sort(rng.choice(sample.shape[0], size=cells, replace=False))].copy()
    for _ in range(KMEANS_ROUNDS):
        nearest = _probes(sample, centres, 1)[:, 0]
        order = np.argsort(nearest, kind="stable")
        present, starts = np.unique(nearest[order], return_index=True)
        sums = np.zeros_like(centres)
        sums[present] = np.add.reduceat(sample[order], starts, axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        filled = norms[:, 0] > 0
        centres[filled] = sums[filled] / norms[filled]  # an empty cell keeps its old centre
    return centres
