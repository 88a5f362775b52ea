"""All days: daily entities linked into global entities, with people's corrections applied.

The entity id is derived from the earliest tracklet of the entity ("E" + 10 hex digits of its hash),
so the same footage gives the same ids whatever order the days were processed in, and re-running a
day leaves the ids of unaffected entities alone.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reid_pipeline.lib.embedding.types import l2_normalise
from reid_pipeline.lib.identity.candidates import knn_pairs, score_pairs
from reid_pipeline.lib.identity.cluster_checks import split_chains
from reid_pipeline.lib.identity.clustering import cluster
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import review_row
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.reciprocal import rerank_edges
from reid_pipeline.lib.identity.scoring import Node, decode_attributes, pair_score
from reid_pipeline.lib.identity.store import quoted
from reid_pipeline.lib.storage.schemas import Row


@dataclass
class LinkResult:
    entities: list[Row]
    members: list[Row]
    review: list[Row]
    merged_edges: int
    candidate_pairs: int


def entity_id_for(anchor_tracklet: str) -> str:
    return "E" + hashlib.sha1(anchor_tracklet.encode()).hexdigest()[:10]


def daily_node(row: Row) -> Node:
    return Node(
        node_id=row["daily_entity_id"],
        entity_type=row["entity_type"],
        date=row["date"],
        vector=np.asarray(row["vector"], dtype=np.float32),
        sightings=[],
        attributes=decode_attributes(row.get("flat_attributes")),
        tracklet_ids=tuple(row["tracklet_ids"]),
    )


def link_days(daily: Sequence[Row], table: Any, params: MatchParams, corrections: CorrectionSet) -> LinkResult:
    """Global entities from every daily entity; candidates from the ``daily_entities`` LanceDB table."""
    refuse_mixed_adapters(daily)
    nodes = {row["daily_entity_id"]: daily_node(row) for row in daily}
    owner = {t: node.node_id for node in nodes.values() for t in node.tracklet_ids}
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for node in nodes.values():
        groups[(node.entity_type, node.date)].append(node.node_id)
    pairs: set[tuple[str, str]] = set()
    for (entity_type, date), ids in sorted(groups.items()):
        vectors = np.stack([nodes[i].vector for i in ids])
        where = f"entity_type = {quoted(entity_type)} AND date <> {quoted(date)}"
        pairs |= knn_pairs(table, ids, vectors, where, params.k, "daily_entity_id")
    edges = score_pairs(pairs, nodes, params.attribute_weight)
    if params.rerank_k:
        edges = rerank_edges(edges, params.rerank_k, params.rerank_lambda)

    def conflict(a: str, b: str) -> bool:
        na, nb = nodes[a], nodes[b]
        if na.entity_type != nb.entity_type or na.date == nb.date:
            return True  # the day's own clustering already kept them apart
        return corrections.forbids(na.tracklet_ids, nb.tracklet_ids)

    must = {(owner[a], owner[b]) for a, b in corrections.must_link if a in owner and b in owner}
    result = cluster(sorted(nodes), edges, params.link_threshold, params.review_band, conflict, must)
    by_id = {row["daily_entity_id"]: row for row in daily}
    flagged = {n for edge in result.review for n in (edge.a, edge.b)}
    entities, members = [], []
    clusters = result.groups
    if params.chain_min_average is not None:
        clusters = split_chains(
            clusters,
            lambda a, b: pair_score(nodes[a], nodes[b], params.attribute_weight),
            params.chain_min_average,
            must,
        ).groups
    for group in clusters:
        entity, entity_members = global_entity([by_id[d] for d in group], corrections, flagged)
        entities.append(entity)
        members.extend(entity_members)
    review = [review_row(edge, max(nodes[edge.a].date, nodes[edge.b].date), "daily_entity") for edge in result.review]
    return LinkResult(entities, members, review, result.merged_edges, len(pairs))


def refuse_mixed_adapters(daily: Sequence[Row]) -> None:
    """Vectors of two site adaptations are never compared: say which days to re-run instead."""
    days_of: dict[str, set[str]] = defaultdict(set)
    for row in daily:
        days_of[row.get("adapter_id") or "none"].add(row["date"])
    if len(days_of) > 1:
        listed = "; ".join(f"{adapter}: {', '.join(sorted(days))}" for adapter, days in sorted(days_of.items()))
        raise ValueError(
            f"daily entities were matched on vectors of different site adaptations ({listed}). Re-materialize "
            "appearances and daily_entities (identity_job) so every day is adapted by the current site_adapter."
        )


def global_entity(daily: list[Row], corrections: CorrectionSet, flagged: set[str]) -> tuple[Row, list[Row]]:
    daily = sorted(daily, key=lambda r: (r["first_seen"], r["daily_entity_id"]))
    anchor = daily[0]["tracklet_ids"][0]
    entity_id = entity_id_for(anchor)
    tracklets = [t for row in daily for t in row["tracklet_ids"]]
    names = sorted({corrections.names[t] for t in tracklets if t in corrections.names})
    weights = np.array([float(row["n_appearances"]) for row in daily])
    vectors = np.stack([np.asarray(row["vector"], dtype=np.float32) for row in daily])
    biggest = max(daily, key=lambda r: (r["n_appearances"], r["daily_entity_id"]))
    entity = {
        "entity_id": entity_id,
        "entity_type": daily[0]["entity_type"],
        "name": names[0] if names else None,
        "watch": any(t in corrections.watched for t in tracklets),
        "first_seen": min(r["first_seen"] for r in daily),
        "last_seen": max(r["last_seen"] for r in daily),
        "days": sorted({r["date"] for r in daily}),
        "cameras": sorted({c for r in daily for c in r["cameras"]}),
        "n_appearances": int(weights.sum()),
        "daily_entity_ids": [r["daily_entity_id"] for r in daily],
        "anchor_tracklet_id": anchor,
        "summary": biggest.get("summary"),
        "needs_review": any(r["needs_review"] or r["daily_entity_id"] in flagged for r in daily),
        "vector": l2_normalise((vectors * weights[:, None]).sum(axis=0, keepdims=True))[0].tolist(),
    }
    members = [
        {"tracklet_id": t, "date": r["date"], "daily_entity_id": r["daily_entity_id"], "entity_id": entity_id}
        for r in daily
        for t in r["tracklet_ids"]
    ]
    return entity, members
