"""k-reciprocal re-ranking: neighbour sets by hand, Jaccard against a dense formula, and its effect."""

from __future__ import annotations

import numpy as np
import pytest

from reid_pipeline.lib.evaluation.rerank import _reciprocal, jaccard_distances, rerank
from reid_pipeline.lib.evaluation.retrieval import cosine_distances, evaluate


def test_reciprocal_neighbours_by_hand() -> None:
    # Points on a line at 0, 1, 1.5, 10. Nearest of 0 is 1, but 1's nearest is 1.5: not reciprocal.
    points = np.array([0.0, 1.0, 1.5, 10.0])
    rank = np.argsort(np.abs(points[:, None] - points[None, :]), axis=1, kind="stable")
    assert _reciprocal(rank, 0, 1).tolist() == [0]
    assert sorted(_reciprocal(rank, 1, 1).tolist()) == [1, 2]
    # With k = 2, 1.5's three nearest (itself, 1, 0) reach back to 0.
    assert sorted(_reciprocal(rank, 0, 2).tolist()) == [0, 1, 2]


def test_jaccard_matches_the_dense_formula() -> None:
    rng = np.random.default_rng(3)
    weights = rng.random((12, 12)).astype(np.float32) * (rng.random((12, 12)) < 0.3)
    weights[np.arange(12), np.arange(12)] += 0.1
    weights /= weights.sum(axis=1, keepdims=True)
    sparse = jaccard_distances(weights, query_count=5)
    minimum = np.minimum(weights[:5, None, :], weights[None, :, :]).sum(axis=2)
    maximum = np.maximum(weights[:5, None, :], weights[None, :, :]).sum(axis=2)
    np.testing.assert_allclose(sparse, 1.0 - minimum / maximum, atol=1e-5)


def test_lambda_one_keeps_the_original_order() -> None:
    rng = np.random.default_rng(0)
    queries = _unit(rng.normal(size=(6, 16)))
    gallery = _unit(rng.normal(size=(20, 16)))
    original = cosine_distances(queries, gallery)
    reranked = rerank(original, cosine_distances(queries, queries), cosine_distances(gallery, gallery), lambda_value=1)
    assert reranked.shape == original.shape
    np.testing.assert_array_equal(np.argsort(reranked, axis=1), np.argsort(original, axis=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reranking_helps_when_identities_form_neighbourhoods(seed: int) -> None:
    # Each identity's gallery images sit on a curved path; the query sees only one end of it. Plain
    # cosine ranks the far end behind look-alikes; shared neighbourhoods bring it forward.
    rng = np.random.default_rng(seed)
    ids, dims, per_id = 12, 32, 8
    centres = rng.normal(size=(ids, dims))
    drift = rng.normal(size=(ids, dims))
    gallery = np.concatenate([centres[i] + np.outer(np.linspace(0, 1.5, per_id), drift[i]) for i in range(ids)])
    gallery = _unit(gallery + 0.8 * rng.normal(size=gallery.shape))
    queries = _unit(centres + 0.8 * rng.normal(size=centres.shape))
    g_pids, q_pids = np.repeat(np.arange(ids), per_id), np.arange(ids)
    g_cams, q_cams = np.full(len(g_pids), 2), np.full(ids, 1)
    plain = evaluate(cosine_distances(queries, gallery), q_pids, q_cams, g_pids, g_cams)
    distances = rerank(
        cosine_distances(queries, gallery),
        cosine_distances(queries, queries),
        cosine_distances(gallery, gallery),
        k1=6,
        k2=3,
    )
    reranked = evaluate(distances, q_pids, q_cams, g_pids, g_cams)
    assert reranked.mAP > plain.mAP


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
