"""How well predicted identities match true ones: pairwise precision/recall/F1, B-cubed, ARI.

Both sides are label maps over the same items (tracklets). Items only one side knows are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ClusteringScores:
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    ari: float
    items: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _pairs(counts: Counter[Hashable]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_clustering(predicted: Mapping[str, Hashable], truth: Mapping[str, Hashable]) -> ClusteringScores:
    from sklearn.metrics import adjusted_rand_score

    items = sorted(predicted.keys() & truth.keys())
    if not items:
        raise ValueError("the predicted and true labels share no item: check that the ids match")
    pred = [predicted[i] for i in items]
    true = [truth[i] for i in items]
    joint = Counter(zip(pred, true, strict=True))
    pred_sizes, true_sizes = Counter(pred), Counter(true)
    together_pred, together_true, together_both = _pairs(pred_sizes), _pairs(true_sizes), _pairs(Counter(joint))
    # A side with no pairs at all is perfectly precise (or complete) by convention.
    precision = together_both / together_pred if together_pred else 1.0
    recall = together_both / together_true if together_true else 1.0
    b_precision = sum(joint[(p, t)] / pred_sizes[p] for p, t in zip(pred, true, strict=True)) / len(items)
    b_recall = sum(joint[(p, t)] / true_sizes[t] for p, t in zip(pred, true, strict=True)) / len(items)
    return ClusteringScores(
        precision,
        recall,
        _f1(precision, recall),
        b_precision,
        b_recall,
        _f1(b_precision, b_recall),
        float(adjusted_rand_score(true, pred)),
        len(items),
    )
