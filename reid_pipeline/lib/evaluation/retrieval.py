"""mAP and CMC under the standard Market-1501 protocol.

For each query, gallery images of the same identity seen by the same camera are left out (finding
them is trivial), as are junk images (pid -1). Distractors (pid 0) stay in as negatives. AP is the
mean of the precision at each correct match's rank (the non-interpolated AP of torchreid and
fast-reid); CMC@k is the share of queries with a correct match within the first k. Queries without
any valid correct match in the gallery are skipped, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid_pipeline.lib.evaluation.market import JUNK_PID

REPORTED_RANKS = (1, 5, 10)
CURVE_RANKS = tuple(range(1, 21))


@dataclass(frozen=True)
class RetrievalScores:
    mAP: float
    cmc: dict[int, float]  # rank -> share of queries
    queries: int
    skipped_queries: int

    def as_dict(self) -> dict[str, object]:
        return {
            "mAP": round(self.mAP, 4),
            **{f"rank{k}": round(v, 4) for k, v in self.cmc.items() if k in REPORTED_RANKS},
            "queries": self.queries,
            "skipped_queries": self.skipped_queries,
        }


def evaluate(
    distances: np.ndarray,
    query_pids: np.ndarray,
    query_cams: np.ndarray,
    gallery_pids: np.ndarray,
    gallery_cams: np.ndarray,
    ranks: tuple[int, ...] = (1, 5, 10),
) -> RetrievalScores:
    """Scores from a (queries x gallery) distance matrix; smaller distance = more alike."""
    order = np.argsort(distances, axis=1, kind="stable")
    aps, hits = [], np.zeros(max(ranks))
    skipped = 0
    for q in range(distances.shape[0]):
        ranked = order[q]
        same = (gallery_pids[ranked] == query_pids[q]) & (gallery_cams[ranked] == query_cams[q])
        junk = gallery_pids[ranked] == JUNK_PID
        keep = ~(same | junk)
        matches = gallery_pids[ranked][keep] == query_pids[q]
        if not matches.any():
            skipped += 1
            continue
        first = int(np.argmax(matches))
        if first < len(hits):
            hits[first:] += 1
        positions = np.flatnonzero(matches) + 1  # 1-based ranks of the correct matches
        aps.append(float(np.mean(np.arange(1, len(positions) + 1) / positions)))
    evaluated = len(aps)
    if evaluated == 0:
        raise ValueError("no query has a correct match in the gallery from another camera: nothing to score")
    return RetrievalScores(
        mAP=float(np.mean(aps)),
        cmc={k: float(hits[k - 1] / evaluated) for k in ranks},
        queries=evaluated,
        skipped_queries=skipped,
    )


def cosine_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of unit vectors."""
    return 1.0 - np.asarray(queries, dtype=np.float64) @ np.asarray(gallery, dtype=np.float64).T
