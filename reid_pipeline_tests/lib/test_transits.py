"""Camera transit times learned from planted matches, and the soft prior they give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from reid_pipeline.lib.identity.clustering import Edge
from reid_pipeline.lib.identity.scoring import CameraSpan, Node
from reid_pipeline.lib.identity.transits import apply_transit_prior, estimate_transits

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)


def sighting(camera: str, start_s: float, length_s: float = 5.0) -> CameraSpan:
    return CameraSpan(camera, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=start_s + length_s))


def planted(gaps: list[float]) -> list[tuple[CameraSpan, CameraSpan]]:
    """People leaving ``gate`` and reaching ``plaza`` ``gap`` seconds later, one every minute."""
    return [(sighting("gate", 60 * i), sighting("plaza", 60 * i + 5 + gap)) for i, gap in enumerate(gaps)]


def test_transit_times_come_from_planted_matches() -> None:
    gaps = [28.0, 30.0, 31.0, 29.0, 32.0, 30.0, 35.0, 27.0, 30.0, 33.0]
    learned = estimate_transits(planted(gaps))
    estimate = learned.get("plaza", "gate")  # either order
    assert estimate is not None
    assert estimate.matches == 10
    assert estimate.typical_s == float(np.median(gaps))
    assert 27.0 <= estimate.least_s <= 28.5
    assert learned.get("gate", "yard") is None


def test_too_few_matches_teach_nothing() -> None:
    assert estimate_transits(planted([30.0, 31.0]), min_matches=3).pairs == {}


def node(name: str, sighting_: CameraSpan) -> Node:
    return Node(name, "person", "2024-05-01", np.ones(2, np.float32) / np.sqrt(2), [sighting_])


def test_a_quicker_than_learned_change_loses_score_but_is_not_refused() -> None:
    nodes = {}
    edges = []
    for i, gap in enumerate([30.0, 31.0, 29.0, 30.0]):  # confident matches: about 30 s
        a, b = f"g{i}", f"p{i}"
        nodes[a], nodes[b] = node(a, sighting("gate", 60 * i)), node(b, sighting("plaza", 60 * i + 5 + gap))
        edges.append(Edge(a, b, 0.97, 0.97, None))
    nodes["fast_a"], nodes["fast_b"] = node("fast_a", sighting("gate", 600)), node("fast_b", sighting("plaza", 608))
    edges.append(Edge("fast_a", "fast_b", 0.90, 0.90, None))  # 3 s apart: quicker than anyone walked it
    scored, learned = apply_transit_prior(edges, nodes, confident_score=0.95, weight=0.2)
    by_pair = {(e.a, e.b): e.score for e in scored}
    assert learned.get("gate", "plaza") is not None
    assert 0.70 <= by_pair[("fast_a", "fast_b")] < 0.90
    assert by_pair[("g0", "p0")] == 0.97
