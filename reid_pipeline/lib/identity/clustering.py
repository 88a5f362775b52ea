"""Constrained clustering over a sparse graph of scored candidate pairs.

Edges are taken strongest first (ties broken by ids), and two clusters merge when the edge clears the
threshold and no member of one is impossible together with, or marked "not the same" as, a member
of the other. The result depends only on the set of nodes, edges and corrections, never on the order
they arrived in: what makes IDs identical however days are backfilled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    score: float
    cosine: float
    agreement: float | None

    def key(self) -> tuple[float, str, str]:
        return (-self.score, self.a, self.b)


@dataclass
class Clusters:
    """Union-find with member lists, so constraints can be checked cluster against cluster."""

    parent: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)

    def add(self, node: str) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.members[node] = [node]

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        self.parent[drop] = keep
        self.members[keep].extend(self.members.pop(drop))
        return keep

    def groups(self) -> list[list[str]]:
        return sorted(sorted(members) for members in self.members.values())


@dataclass(frozen=True)
class ClusterResult:
    groups: list[list[str]]
    review: list[Edge]  # pairs in the uncertainty band that stayed apart
    merged_edges: int
    refused_edges: int  # strong enough, but impossible together or marked not the same


def cluster(
    nodes: Iterable[str],
    edges: Iterable[Edge],
    threshold: float,
    review_band: float,
    conflict: Callable[[str, str], bool],
    must_link: Iterable[tuple[str, str]] = (),
) -> ClusterResult:
    """Groups of node ids. ``conflict(a, b)`` says two single nodes can never be one entity."""
    clusters = Clusters()
    for node in nodes:
        clusters.add(node)
    for a, b in sorted(must_link):
        if a in clusters.parent and b in clusters.parent:
            clusters.union(a, b)

    def compatible(ra: str, rb: str) -> bool:
        return not any(conflict(x, y) for x in clusters.members[ra] for y in clusters.members[rb])

    ordered = sorted({(min(e.a, e.b), max(e.a, e.b)): e for e in edges}.values(), key=Edge.key)
    merged = refused = 0
    for edge in ordered:
        if edge.score < threshold:
            break
        ra, rb = clusters.find(edge.a), clusters.find(edge.b)
        if ra == rb:
            continue
        if compatible(ra, rb):
            clusters.union(ra, rb)
            merged += 1
        else:
            refused += 1
    review = [
        edge
        for edge in ordered
        if threshold - review_band <= edge.score < threshold
        and clusters.find(edge.a) != clusters.find(edge.b)
        and compatible(clusters.find(edge.a), clusters.find(edge.b))
    ]
    return ClusterResult(clusters.groups(), review, merged, refused)
