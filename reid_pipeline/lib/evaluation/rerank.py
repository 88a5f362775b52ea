"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017), the variant every re-id toolkit ships (torchreid, fast-reid, layumi's code).

Two images are close when they share k-reciprocal neighbours: each image becomes a sparse vector
over all images (weights on its expanded k-reciprocal set), smoothed by its k2 nearest neighbours
(local query expansion), and the final distance mixes the Jaccard distance of those vectors with the
original one. No maintained, dependency-light package exposes it, so it lives here; the steps and
constants follow the paper's reference code so figures compare with published ones.

Memory is O(N^2) float32 for N = queries + gallery: fine for Market-1501 (about 2 GB), not for
million-row galleries.
"""

from __future__ import annotations

import numpy as np


def _reciprocal(rank: np.ndarray, i: int, k: int) -> np.ndarray:
    """Indices among i's k nearest whose own k nearest include i."""
    forward = rank[i, : k + 1]
    backward = rank[forward, : k + 1]
    return forward[np.flatnonzero((backward == i).any(axis=1))]


def k_reciprocal_encoding(distances: np.ndarray, k1: int, k2: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised neighbour weights ``V`` (N x N) and the ``(N x N)`` initial ranking.

    ``distances`` is the full square matrix over queries then gallery, already normalised.
    """
    count = distances.shape[0]
    rank = np.argsort(distances, axis=1, kind="stable")
    weights = np.zeros((count, count), dtype=np.float32)
    half = int(np.around(k1 / 2.0))
    for i in range(count):
        core = _reciprocal(rank, i, k1)
        expanded = [core]
        for candidate in core:
            theirs = _reciprocal(rank, int(candidate), half)
            # Add a neighbour's own reciprocal set only when it mostly agrees with ours.
            if len(np.intersect1d(theirs, core)) > 2.0 / 3.0 * len(theirs):
                expanded.append(theirs)
        members = np.unique(np.concatenate(expanded))
        weight = np.exp(-distances[i, members])
        weights[i, members] = weight / weight.sum()
    if k2 > 1:
        weights = np.stack([weights[rank[i, :k2]].mean(axis=0) for i in range(count)]).astype(np.float32)
    return weights, rank


def jaccard_distances(weights: np.ndarray, query_count: int) -> np.ndarray:
    """``1 - sum(min) / sum(max)`` between each query's row and every row, using sparsity."""
    count = weights.shape[0]
    holders = [np.flatnonzero(weights[:, column]) for column in range(count)]
    result = np.zeros((query_count, count), dtype=np.float32)
    for q in range(query_count):
        overlap = np.zeros(count, dtype=np.float32)
        for column in np.flatnonzero(weights[q]):
            rows = holders[column]
            overlap[rows] += np.minimum(weights[q, column], weights[rows, column])
        # Rows sum to 1, so sum(max) = 2 - sum(min).
        result[q] = 1.0 - overlap / (2.0 - overlap)
    return result


def rerank(
    query_gallery: np.ndarray,
    query_query: np.ndarray,
    gallery_gallery: np.ndarray,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray:
    """Re-ranked (queries x gallery) distances from the three original distance matrices."""
    query_count = query_gallery.shape[0]
    full = np.block([[query_query, query_gallery], [query_gallery.T, gallery_gallery]]).astype(np.float32)
    full = np.square(np.maximum(full, 0.0))
    # The reference code scales each row by its largest distance (after a transpose of a column scaling).
    full = full / np.maximum(full.max(axis=1, keepdims=True), 1e-12)
    weights, _ = k_reciprocal_encoding(full, k1, k2)
    jaccard = jaccard_distances(weights, query_count)
    final = jaccard * (1.0 - lambda_value) + full[:query_count] * lambda_value
    return final[:, query_count:]
