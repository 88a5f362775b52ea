"""Candidate pairs from LanceDB k-nearest-neighbour search (never all pairs), scored exactly in memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from reid_pipeline.lib.identity.clustering import Edge
from reid_pipeline.lib.identity.scoring import Node, attribute_agreement, fused_score


def knn_pairs(
    table: Any, ids: list[str], vectors: np.ndarray, where: str, k: int, id_column: str
) -> set[tuple[str, str]]:
    """Unordered pairs (a < b) of each query with its ``k`` nearest rows that match ``where``.

    One batched search for all queries; the table's ANN index is used when it has one.
    """
    if not ids:
        return set()
    hits = (
        table.search(vectors.astype(np.float32))
        .distance_type("cosine")
        .where(where, prefilter=True)
        .limit(k + 1)  # the query itself comes back as its own nearest neighbour
        .select([id_column, "_distance"])
        .to_arrow()
    )
    queries = (
        hits.column("query_index").to_numpy() if "query_index" in hits.column_names else np.zeros(hits.num_rows, int)
    )
    found = hits.column(id_column).to_pylist()
    pairs = set()
    for query, other in zip(queries, found, strict=True):
        mine = ids[int(query)]
        if other != mine:
            pairs.add((min(mine, other), max(mine, other)))
    return pairs


def score_pairs(pairs: Iterable[tuple[str, str]], nodes: Mapping[str, Node], attribute_weight: float) -> list[Edge]:
    """Exact cosine (unit vectors) fused with attribute agreement for each pair whose nodes are known."""
    edges = []
    for a, b in sorted(pairs):
        if a not in nodes or b not in nodes:
            continue
        na, nb = nodes[a], nodes[b]
        cosine = float(np.dot(na.vector, nb.vector))
        agreement = attribute_agreement(na.attributes, nb.attributes)
        edges.append(Edge(a, b, fused_score(cosine, agreement, attribute_weight), cosine, agreement))
    return edges
