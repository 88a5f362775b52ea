"""How well an embedder tells people apart on real footage, without hand labels.

Tracks give free labels of two kinds: two crops of the same track show the same person (positive
pairs), and two tracks on screen at the same moment show two different people (negative pairs).
The figure is ROC AUC: the probability that a random positive pair is more similar than a random
negative pair (0.5 = chance, 1 = perfect). Track fragments of one person seen at different times are
never used as negatives, so breaks in tracking do not count against a model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from reid_pipeline.lib.bench.sample_crops import SampleCrop


def labelled_pairs(crops: Sequence[SampleCrop]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(positive, negative) index pairs: same track vs tracks whose time spans overlap."""
    by_track: dict[int, list[int]] = defaultdict(list)
    for index, crop in enumerate(crops):
        by_track[crop.track_id].append(index)
    span = {t: (min(crops[i].time_s for i in ix), max(crops[i].time_s for i in ix)) for t, ix in by_track.items()}
    positives = [pair for ix in by_track.values() for pair in combinations(ix, 2)]
    negatives: list[tuple[int, int]] = []
    for a, b in combinations(sorted(by_track), 2):
        if span[a][0] <= span[b][1] and span[b][0] <= span[a][1]:
            negatives.extend((i, j) for i in by_track[a] for j in by_track[b])
    return positives, negatives


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive score > negative score), ties counting half (Mann-Whitney U / (n_pos * n_neg))."""
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def separation(vectors: np.ndarray, crops: Sequence[SampleCrop]) -> dict[str, float | int]:
    """AUC and mean cosine similarity of positive and negative pairs for unit ``vectors`` of ``crops``."""
    positives, negatives = labelled_pairs(crops)
    pos = np.array([vectors[i] @ vectors[j] for i, j in positives], dtype=np.float64)
    neg = np.array([vectors[i] @ vectors[j] for i, j in negatives], dtype=np.float64)
    return {
        "tracks": len({crop.track_id for crop in crops}),
        "crops": len(crops),
        "positive_pairs": len(pos),
        "negative_pairs": len(neg),
        "auc": round(roc_auc(pos, neg), 4),
        "mean_cos_same": round(float(pos.mean()), 4) if len(pos) else float("nan"),
        "mean_cos_different": round(float(neg.mean()), 4) if len(neg) else float("nan"),
    }
