"""Constrained clustering over a sparse graph of scored candidate pairs.

Edges are taken strongest first (ties broken by ids), and two clusters merge when the edge clears the
threshold and no member of one is impossible together with, or marked "not the same" as, a member
of the other. The result depends only on the set of nodes, edges and corrections, never on the order
they arrived in: what makes IDs identical however days are backfilled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np


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


def cluster_indices(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    threshold: float,
    review_band: float,
    conflict: Callable[[list[int], list[int]], bool],
    must_link: Iterable[tuple[int, int]] = (),
) -> IndexClusters:
    """Groups of nodes ``0..n-1`` from unique edges ``(a[i], b[i], score[i])``; the array form of ``cluster``.

    Node numbers must follow the order of the node ids (ties between equal scores are broken by them).
    ``conflict(members_a, members_b)`` says two groups can never be one entity. Edges are sorted once
    in numpy and merged with a union-find over plain lists: a million nodes take seconds, not minutes.
    """
    groups = _Groups(n)
    find, union, members = groups.find, groups.union, groups.members
    for x, y in sorted(must_link):
        rx, ry = find(x), find(y)
        if rx != ry:
            union(rx, ry)
    order = np.lexsort((b, a, -np.asarray(score, dtype=np.float64))).tolist()
    a_list, b_list, scores = np.asarray(a).tolist(), np.asarray(b).tolist(), np.asarray(score).tolist()
    merged = refused = 0
    for edge in order:
        if scores[edge] < threshold:
            break
        ra, rb = find(a_list[edge]), find(b_list[edge])
        if ra == rb:
            continue
        if conflict(members[ra], members[rb]):
            refused += 1
        else:
            union(ra, rb)
            merged += 1
    review = []
    floor = threshold - review_band
    for edge in order:
        if scores[edge] >= threshold:
            continue
        if scores[edge] < floor:
            break
        ra, rb = find(a_list[edge]), find(b_list[edge])
        if ra != rb and not conflict(members[ra], members[rb]):
            review.append(edge)
    return IndexClusters(sorted(sorted(group) for group in members.values()), review, merged, refused)


class _Groups:
    """Union-find over nodes ``0..n-1`` on plain lists, with each root's members (for the conflict test)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {i: [i] for i in range(n)}

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(self, ra: int, rb: int) -> None:
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        self.parent[drop] = keep
        self.members[keep].extend(self.members.pop(drop))


@dataclass(frozen=True)
class IndexClusters:
    groups: list[list[int]]
    review: list[int]  # positions of edges in the uncertainty band whose ends stayed apart
    merged_edges: int
    refused_edges: int


def cluster(
    nodes: Iterable[str],
    edges: Iterable[Edge],
    threshold: float,
    review_band: float,
    conflict: Callable[[str, str], bool],
    must_link: Iterable[tuple[str, str]] = (),
) -> ClusterResult:
    """Groups of node ids. ``conflict(a, b)`` says two single nodes can never be one entity."""
    ids = sorted(set(nodes))
    number = {node: i for i, node in enumerate(ids)}
    unique = [e for e in {(min(e.a, e.b), max(e.a, e.b)): e for e in edges}.values() if e.a in number and e.b in number]
    a = np.array([number[e.a] for e in unique], dtype=np.int64)
    b = np.array([number[e.b] for e in unique], dtype=np.int64)
    score = np.array([e.score for e in unique], dtype=np.float64)

    def groups_conflict(xs: list[int], ys: list[int]) -> bool:
        return any(conflict(ids[x], ids[y]) for x in xs for y in ys)

    pinned = [(number[x], number[y]) for x, y in must_link if x in number and y in number]
    found = cluster_indices(len(ids), a, b, score, threshold, review_band, groups_conflict, pinned)
    groups = [[ids[i] for i in group] for group in found.groups]
    return ClusterResult(groups, [unique[i] for i in found.review], found.merged_edges, found.refused_edges)
