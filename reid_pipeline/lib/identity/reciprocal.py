"""k-reciprocal re-ranking (Zhong et al., CVPR 2017) on the candidate graph only, never on all pairs.

``evaluation/rerank.py`` is the reference algorithm over a full distance matrix (O(N^2)), used to score
retrieval. Matching cannot afford all pairs, so here each appearance's neighbours are its candidate
pairs (LanceDB's k nearest, scored exactly): two appearances are alike when their k-reciprocal
neighbourhoods overlap, not only when their vectors are close. A look-alike that is near many
people shares few reciprocal neighbours with any one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from reid_pipeline.lib.identity.clustering import Edge


def neighbour_lists(edges: Sequence[Edge], k: int) -> dict[str, list[str]]:
    """Each node's ``k`` best-scoring candidates (ties by id)."""
    scored: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for edge in edges:
        scored[edge.a].append((-edge.score, edge.b))
        scored[edge.b].append((-edge.score, edge.a))
    return {node: [other for _, other in sorted(found)[:k]] for node, found in scored.items()}


def reciprocal_set(node: str, neighbours: dict[str, list[str]], k: int) -> set[str]:
    """The node and those of its k nearest that have it among their own k nearest."""
    return {node} | {o for o in neighbours.get(node, [])[:k] if node in neighbours.get(o, [])[:k]}


def expanded_set(node: str, neighbours: dict[str, list[str]], k: int) -> set[str]:
    """The reciprocal set, grown by a member's own (k/2) reciprocal set when two thirds of it is shared."""
    core = reciprocal_set(node, neighbours, k)
    grown = set(core)
    for member in core - {node}:
        theirs = reciprocal_set(member, neighbours, max(1, round(k / 2)))
        if len(theirs & core) > 2.0 / 3.0 * len(theirs):
            grown |= theirs
    return grown


def rerank_edges(edges: Sequence[Edge], k: int, lambda_value: float) -> list[Edge]:
    """Edges whose score becomes ``lambda * score + (1 - lambda) * jaccard`` of the two neighbourhoods.

    Neighbourhood weights are ``exp(score - 1)`` (the paper's ``exp(-distance)`` with distance
    ``1 - score``); a node's weight on itself is 1. ``cosine`` and ``agreement`` keep their values.
    """
    if not edges:
        return []
    score_of = {(e.a, e.b): e.score for e in edges} | {(e.b, e.a): e.score for e in edges}
    neighbours = neighbour_lists(edges, k)
    weights: dict[str, dict[str, float]] = {}
    for node in neighbours:
        members = expanded_set(node, neighbours, k)
        raw = {m: 1.0 if m == node else float(np.exp(score_of.get((node, m), 0.0) - 1.0)) for m in members}
        total = sum(raw.values())
        weights[node] = {m: w / total for m, w in raw.items()}
    out = []
    for edge in edges:
        wa, wb = weights.get(edge.a, {}), weights.get(edge.b, {})
        shared = sum(min(wa[m], wb[m]) for m in wa.keys() & wb.keys())
        jaccard = shared / (2.0 - shared)  # both weight vectors sum to 1, so sum(max) = 2 - sum(min)
        out.append(replace(edge, score=lambda_value * edge.score + (1.0 - lambda_value) * jaccard))
    return out
