"""Clustering metrics on hand-computed cases and against direct pair counting on random labels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering


def test_hand_computed_case() -> None:
    # truth: {a, b, c} {d}; predicted: {a, b} {c, d}
    truth = {"a": 1, "b": 1, "c": 1, "d": 2}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y"}
    scores = score_clustering(predicted, truth)
    # pairs: predicted ab, cd; true ab, ac, bc; shared ab -> precision 1/2, recall 1/3
    assert scores.pairwise_precision == pytest.approx(1 / 2)
    assert scores.pairwise_recall == pytest.approx(1 / 3)
    assert scores.pairwise_f1 == pytest.approx(0.4)
    # B-cubed precision per item: a 2/2, b 2/2, c 1/2, d 1/2 -> 0.75; recall: a 2/3, b 2/3, c 1/3, d 1/1 -> 2/3
    assert scores.bcubed_precision == pytest.approx(0.75)
    assert scores.bcubed_recall == pytest.approx(2 / 3)
    assert scores.items == 4


def test_perfect_and_items_only_one_side_knows() -> None:
    scores = score_clustering({"a": 1, "b": 1, "c": 2, "extra": 9}, {"a": "p", "b": "p", "c": "q", "other": "r"})
    assert scores.pairwise_f1 == scores.bcubed_f1 == scores.ari == 1.0 and scores.items == 3
    with pytest.raises(ValueError, match="share no item"):
        score_clustering({"a": 1}, {"b": 1})


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_and_bcubed_agree_with_direct_counting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = [f"t{i}" for i in range(40)]
    truth = {i: int(rng.integers(0, 6)) for i in items}
    predicted = {i: int(rng.integers(0, 8)) for i in items}
    scores = score_clustering(predicted, truth)
    pairs = list(itertools.combinations(items, 2))
    same_pred = {p for p in pairs if predicted[p[0]] == predicted[p[1]]}
    same_true = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    assert scores.pairwise_precision == pytest.approx(len(same_pred & same_true) / len(same_pred))
    assert scores.pairwise_recall == pytest.approx(len(same_pred & same_true) / len(same_true))
    b_precision = np.mean(
        [
            sum(1 for j in items if predicted[j] == predicted[i] and truth[j] == truth[i])
            / sum(1 for j in items if predicted[j] == predicted[i])
            for i in items
        ]
    )
    assert scores.bcubed_precision == pytest.approx(b_precision)
