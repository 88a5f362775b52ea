"""In-memory nearest neighbours of a day: the inverted file finds what exact search finds."""

from __future__ import annotations

import numpy as np
import pytest

from reid_pipeline.lib.identity import knn


def clustered(n: int, dims: int, per_group: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    looks = rng.normal(size=(n // per_group, dims))
    vectors = looks[np.arange(n) % len(looks)] + 0.35 * rng.normal(size=(n, dims)) / np.sqrt(dims)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def pairs_of(found: knn.NeighbourPairs) -> set[tuple[int, int]]:
    return set(zip(found.query.tolist(), found.other.tolist(), strict=True))


def test_exact_search_keeps_the_k_best_above_the_floor_and_never_the_row_itself() -> None:
    vectors = np.eye(4, dtype=np.float32)[[0, 0, 0, 1, 2]]  # rows 0-2 identical, 3 and 4 alone
    found = knn.neighbour_pairs(vectors, k=1, floor=0.5)
    assert found.method == "exact"
    assert pairs_of(found) == {(0, 1), (1, 0), (2, 0)}, "one neighbour each, ties to the lower row"
    assert np.allclose(found.similarity, 1.0)


def test_the_inverted_file_finds_what_exact_search_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = clustered(6000, 48)
    exact = knn.neighbour_pairs(vectors, k=6, floor=0.7)
    monkeypatch.setattr(knn, "EXACT_MAX_ROWS", 1000)
    monkeypatch.setattr(knn, "ROWS_PER_CELL", 200)
    approximate = knn.neighbour_pairs(vectors, k=6, floor=0.7)
    assert approximate.method.startswith("inverted file: 30 cells")
    found, wanted = pairs_of(approximate), pairs_of(exact)
    assert len(found & wanted) >= 0.99 * len(wanted), "recall of the true neighbour pairs"
    again = knn.neighbour_pairs(vectors, k=6, floor=0.7)
    assert pairs_of(again) == found, "seeded: the same day gets the same candidates"


@pytest.mark.parametrize("floor", [-1.0, 0.7], ids=["most-pairs-pass", "few-pairs-pass"])
def test_small_similarity_blocks_find_the_same_pairs_as_one_block(
    monkeypatch: pytest.MonkeyPatch, floor: float
) -> None:
    """Queries go a block of similarities at a time (memory flat in the day's size); the pairs do not change."""
    vectors = clustered(600, 16)
    whole = knn.neighbour_pairs(vectors, k=4, floor=floor)
    monkeypatch.setattr(knn, "BLOCK_ELEMENTS", 7 * 600)  # 7 queries a block, the last one shorter
    blocked = knn.neighbour_pairs(vectors, k=4, floor=floor)
    assert whole.query.size > 0
    for name in ("query", "other", "similarity"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
