"""A second look at the clusters union-find returns: no chains of look-alikes.

Single-link union-find joins A and C when A looks like B and B looks like C, however unlike A and C are.
This pass re-clusters the members of each union-find group by average linkage: two parts stay
together only while the mean score over all their member pairs clears ``min_average``. A group whose
members all agree comes back whole; a chain comes back in pieces. It only ever splits, so every
constraint the first pass respected still holds, and people's "same" corrections are kept together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChainCheck:
    groups: list[list[str]]
    split_groups: int  # union-find groups that came back in more than one piece


def split_chains(
    groups: Sequence[Sequence[str]],
    similarity: Callable[[str, str], float],
    min_average: float,
    must_link: Iterable[tuple[str, str]] = (),
) -> ChainCheck:
    """Each group re-clustered by average linkage at ``min_average``; groups of one or two stay whole."""
    together = [tuple(pair) for pair in must_link]
    out: list[list[str]] = []
    split = 0
    for group in groups:
        members = sorted(group)
        if len(members) <= 2:
            out.append(members)
            continue
        pieces = average_linkage(members, similarity, min_average, together)
        split += len(pieces) > 1
        out.extend(pieces)
    return ChainCheck(sorted(sorted(p) for p in out), split)


def average_linkage(
    members: list[str], similarity: Callable[[str, str], float], min_average: float, must_link: list[tuple[str, ...]]
) -> list[list[str]]:
    """Agglomerative clustering (UPGMA): join the two parts with the highest mean pair score while it
    clears ``min_average``; ties go to the parts with the smallest ids, so the result is deterministic."""
    count = len(members)
    scores = np.array([[similarity(a, b) if a != b else 0.0 for b in members] for a in members], dtype=np.float64)
    sums = scores.copy()  # sum of pair scores between part i and part j
    sizes = np.ones(count)
    parts: dict[int, list[int]] = {i: [i] for i in range(count)}
    position = {m: i for i, m in enumerate(members)}
    for pair in must_link:
        a, b = (position.get(m) for m in pair[:2])
        if a is not None and b is not None:
            _join(parts, sums, sizes, _part_of(parts, a), _part_of(parts, b))
    while len(parts) > 1:
        alive = sorted(parts)
        best, best_pair = -np.inf, (0, 0)
        for x, i in enumerate(alive):
            for j in alive[x + 1 :]:
                average = sums[i, j] / (sizes[i] * sizes[j])
                if average > best:
                    best, best_pair = average, (i, j)
        if best < min_average:
            break
        _join(parts, sums, sizes, *best_pair)
    return [[members[i] for i in part] for part in parts.values()]


def _part_of(parts: dict[int, list[int]], member: int) -> int:
    return next(key for key, items in parts.items() if member in items)


def _join(parts: dict[int, list[int]], sums: np.ndarray, sizes: np.ndarray, i: int, j: int) -> None:
    if i == j:
        return
    keep, drop = min(i, j), max(i, j)
    sums[keep, :] += sums[drop, :]
    sums[:, keep] += sums[:, drop]
    sums[keep, keep] = 0.0
    sizes[keep] += sizes[drop]
    parts[keep].extend(parts.pop(drop))
