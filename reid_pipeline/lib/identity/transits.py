"""Camera transit times learned from the footage: a soft prior next to the hand-set ``transitions``.

From confident matches (pairs of appearances on two cameras scoring well above the threshold), the
gap between leaving one camera and reaching the other is collected per camera pair. The least
plausible gap is a low quantile of those gaps, the typical one their median. A candidate pair on
that camera pair that is quicker than the least gap loses score in proportion to how much quicker
it is: a penalty, never a refusal, because a few confident matches can be wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from reid_pipeline.lib.identity.clustering import Edge
from reid_pipeline.lib.identity.scoring import CameraSpan, Node


@dataclass(frozen=True)
class TransitEstimate:
    least_s: float  # a low quantile of the observed gaps
    typical_s: float  # their median
    matches: int


@dataclass(frozen=True)
class LearnedTransits:
    """Per unordered camera pair (sorted ids), what confident matches say about moving between them."""

    pairs: Mapping[tuple[str, str], TransitEstimate] = field(default_factory=dict)

    def get(self, a: str, b: str) -> TransitEstimate | None:
        return self.pairs.get((min(a, b), max(a, b)))


def sighting_gap(a: CameraSpan, b: CameraSpan) -> float:
    """Seconds between the end of the earlier sighting and the start of the later (< 0: they overlap)."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    return (second.start - first.end).total_seconds()


def estimate_transits(
    matches: Iterable[tuple[CameraSpan, CameraSpan]], min_matches: int = 3, quantile: float = 0.1
) -> LearnedTransits:
    """Transit estimates from matched sightings on two cameras; pairs with fewer than ``min_matches`` are left out."""
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for a, b in matches:
        if a.camera_id == b.camera_id:
            continue
        gaps[(min(a.camera_id, b.camera_id), max(a.camera_id, b.camera_id))].append(max(0.0, sighting_gap(a, b)))
    return LearnedTransits(
        {
            pair: TransitEstimate(float(np.quantile(found, quantile)), float(np.median(found)), len(found))
            for pair, found in sorted(gaps.items())
            if len(found) >= min_matches
        }
    )


def confident_matches(
    edges: Sequence[Edge], nodes: Mapping[str, Node], min_score: float
) -> list[tuple[CameraSpan, CameraSpan]]:
    """Closest sighting pairs on two cameras of edges scoring at least ``min_score``."""
    found = []
    for edge in edges:
        if edge.score < min_score:
            continue
        pairs = [
            (sa, sb) for sa in nodes[edge.a].sightings for sb in nodes[edge.b].sightings if sa.camera_id != sb.camera_id
        ]
        if pairs:
            found.append(min(pairs, key=lambda p: abs(sighting_gap(*p))))
    return found


def transit_penalty(a: Node, b: Node, learned: LearnedTransits, weight: float) -> float:
    """Up to ``weight``: how much quicker than the least learned gap the quickest camera change of a and b is."""
    worst = 0.0
    for sa in a.sightings:
        for sb in b.sightings:
            estimate = learned.get(sa.camera_id, sb.camera_id) if sa.camera_id != sb.camera_id else None
            if estimate is None or estimate.least_s <= 0:
                continue
            shortfall = (estimate.least_s - max(0.0, sighting_gap(sa, sb))) / estimate.least_s
            worst = max(worst, min(1.0, shortfall))
    return weight * worst


def apply_transit_prior(
    edges: Sequence[Edge], nodes: Mapping[str, Node], confident_score: float, weight: float
) -> tuple[list[Edge], LearnedTransits]:
    """Learn transits from the confident ``edges`` and lower every edge's score by its penalty."""
    learned = estimate_transits(confident_matches(edges, nodes, confident_score))
    if not learned.pairs:
        return list(edges), learned
    out = []
    for edge in edges:
        penalty = transit_penalty(nodes[edge.a], nodes[edge.b], learned, weight)
        out.append(replace(edge, score=edge.score - penalty) if penalty else edge)
    return out, learned
