"""k-reciprocal re-ranking on the candidate graph: shared neighbourhoods lift a pair, a hub sinks."""

from __future__ import annotations

from itertools import combinations

from reid_pipeline.lib.identity.clustering import Edge
from reid_pipeline.lib.identity.reciprocal import neighbour_lists, reciprocal_set, rerank_edges


def edges_from(scores: dict[tuple[str, str], float]) -> list[Edge]:
    return [Edge(a, b, s, s, None) for (a, b), s in scores.items()]


def test_group_members_outrank_a_look_alike_of_equal_cosine() -> None:
    # A1..A3 are one person (all close); X is as close to A1 as A2 is, but to nobody else.
    scores = {pair: 0.9 for pair in combinations(["A1", "A2", "A3"], 2)}
    scores |= {("A1", "X"): 0.9, ("A2", "X"): 0.3, ("A3", "X"): 0.3}
    scores |= {("X", "Y"): 0.92, ("X", "Z"): 0.91, ("Y", "Z"): 0.95}
    ranked = {(e.a, e.b): e.score for e in rerank_edges(edges_from(scores), k=3, lambda_value=0.3)}
    assert ranked[("A1", "A2")] > ranked[("A1", "X")]


def test_reciprocal_sets_need_both_directions() -> None:
    scores = {("a", "b"): 0.9, ("a", "c"): 0.8, ("c", "d"): 0.95, ("c", "e"): 0.94}
    neighbours = neighbour_lists(edges_from(scores), k=2)
    assert reciprocal_set("a", neighbours, 1) == {"a", "b"}
    assert "a" not in reciprocal_set("c", neighbours, 2)  # c's two nearest are d and e


def test_no_edges_no_work() -> None:
    assert rerank_edges([], k=5, lambda_value=0.3) == []
