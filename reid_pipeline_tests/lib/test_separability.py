"""Label-free separation measure: pairs from tracks, and ROC AUC checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reid_pipeline.lib.bench.sample_crops import SampleCrop
from reid_pipeline.lib.bench.separability import labelled_pairs, roc_auc, separation


def crop(track: int, time_s: float) -> SampleCrop:
    return SampleCrop(track, time_s, b"")


def test_pairs_come_from_tracks_and_overlapping_time() -> None:
    # track 1 at 0-2 s, track 2 at 1-3 s (overlaps 1), track 3 at 10 s (overlaps nobody)
    crops = [crop(1, 0), crop(1, 2), crop(2, 1), crop(2, 3), crop(3, 10)]
    positives, negatives = labelled_pairs(crops)
    assert positives == [(0, 1), (2, 3)]
    assert negatives == [(0, 2), (0, 3), (1, 2), (1, 3)]


@pytest.mark.parametrize(
    ("positive", "negative", "auc"),
    [([0.9, 0.8], [0.1, 0.2], 1.0), ([0.1], [0.9], 0.0), ([0.5], [0.5], 0.5), ([0.9, 0.3], [0.5, 0.1], 0.75)],
)
def test_auc_on_hand_computed_cases(positive: list[float], negative: list[float], auc: float) -> None:
    assert roc_auc(np.array(positive), np.array(negative)) == pytest.approx(auc)


def test_auc_matches_counting_every_pair() -> None:
    rng = np.random.default_rng(3)
    positive = rng.integers(0, 10, 40) / 10  # coarse values: plenty of ties
    negative = rng.integers(0, 10, 55) / 10
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positive, negative))
    assert roc_auc(positive, negative) == pytest.approx(wins / (len(positive) * len(negative)))


def test_perfect_vectors_separate_perfectly() -> None:
    crops = [crop(1, 0), crop(1, 1), crop(2, 0), crop(2, 1)]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    result = separation(vectors, crops)
    assert result["auc"] == 1.0 and result["mean_cos_same"] == 1.0 and result["mean_cos_different"] == 0.0
