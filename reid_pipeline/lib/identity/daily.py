"""One day: tracklets from every camera clustered into daily entities."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reid_pipeline.lib.adaptation.site import NO_ADAPTER
from reid_pipeline.lib.embedding.types import l2_normalise
from reid_pipeline.lib.identity.candidates import knn_pairs, score_pairs
from reid_pipeline.lib.identity.cluster_checks import split_chains
from reid_pipeline.lib.identity.clustering import Edge, cluster
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.reciprocal import rerank_edges
from reid_pipeline.lib.identity.scoring import (
    CameraSpan,
    Node,
    decode_attributes,
    encode_attributes,
    impossible_together,
    pair_score,
)
from reid_pipeline.lib.identity.store import quoted
from reid_pipeline.lib.identity.transits import apply_transit_prior
from reid_pipeline.lib.storage.schemas import Row


@dataclass
class DailyResult:
    entities: list[Row]
    review: list[Row]
    merged_edges: int
    refused_edges: int
    candidate_pairs: int


def appearance_node(row: Row) -> Node:
    return Node(
        node_id=row["tracklet_id"],
        entity_type=row["entity_type"],
        date=row["date"],
        vector=np.asarray(row["vector"], dtype=np.float32),
        sightings=[CameraSpan(row["camera_id"], row["start_time"], row["end_time"])],
        attributes=decode_attributes(row.get("flat_attributes")),
        tracklet_ids=(row["tracklet_id"],),
    )


def review_row(edge: Edge, date: str, level: str) -> Row:
    return {
        "review_id": f"{edge.a}|{edge.b}",
        "date": date,
        "level": level,
        "a": edge.a,
        "b": edge.b,
        "score": edge.score,
        "cosine": edge.cosine,
        "attribute_agreement": edge.agreement,
    }


def cluster_day(
    date: str, appearances: Sequence[Row], table: Any, params: MatchParams, corrections: CorrectionSet
) -> DailyResult:
    """Daily entities of ``date`` from its appearance rows; candidates come from ``table`` (LanceDB)."""
    nodes = {row["tracklet_id"]: appearance_node(row) for row in appearances}
    by_type: dict[str, list[str]] = defaultdict(list)
    for node in nodes.values():
        by_type[node.entity_type].append(node.node_id)
    edges: list[Edge] = []
    pairs_seen = 0
    for entity_type, ids in sorted(by_type.items()):
        vectors = np.stack([nodes[i].vector for i in ids])
        pairs = knn_pairs(
            table,
            ids,
            vectors,
            f"date = {quoted(date)} AND entity_type = {quoted(entity_type)}",
            params.k,
            "tracklet_id",
        )
        pairs_seen += len(pairs)
        scored = score_pairs(pairs, nodes, params.attribute_weight)
        edges.extend(rerank_edges(scored, params.rerank_k, params.rerank_lambda) if params.rerank_k else scored)

    if params.transit_prior_weight > 0:
        confident = params.match_threshold + params.transit_confident_margin
        edges, _ = apply_transit_prior(edges, nodes, confident, params.transit_prior_weight)

    def conflict(a: str, b: str) -> bool:
        return impossible_together(nodes[a], nodes[b], params.transitions) or corrections.forbids([a], [b])

    result = cluster(sorted(nodes), edges, params.match_threshold, params.review_band, conflict, corrections.must_link)
    groups = result.groups
    if params.chain_min_average is not None:
        groups = split_chains(
            groups,
            lambda a, b: pair_score(nodes[a], nodes[b], params.attribute_weight),
            params.chain_min_average,
            corrections.must_link,
        ).groups
    flagged = {node for edge in result.review for node in (edge.a, edge.b)}
    rows = appearances_by_id(appearances)
    entities = [daily_entity([rows[t] for t in group], flagged) for group in groups]
    review = [review_row(edge, date, "tracklet") for edge in result.review]
    return DailyResult(entities, review, result.merged_edges, result.refused_edges, pairs_seen)


def appearances_by_id(appearances: Sequence[Row]) -> dict[str, Row]:
    return {row["tracklet_id"]: row for row in appearances}


def daily_entity(members: list[Row], flagged: set[str]) -> Row:
    """One daily entity from its member appearances; its id is its earliest tracklet's."""
    members = sorted(members, key=lambda r: (r["start_time"], r["tracklet_id"]))
    weights = np.array([max(float(r["quality"]), 1e-3) for r in members])
    vectors = np.stack([np.asarray(r["vector"], dtype=np.float32) for r in members])
    centroid = l2_normalise((vectors * weights[:, None]).sum(axis=0, keepdims=True))[0]
    best = max(members, key=lambda r: (float(r["quality"]), r["tracklet_id"]))
    return {
        "daily_entity_id": f"de:{members[0]['tracklet_id']}",
        "date": members[0]["date"],
        "entity_type": members[0]["entity_type"],
        "tracklet_ids": [r["tracklet_id"] for r in members],
        "cameras": sorted({r["camera_id"] for r in members}),
        "first_seen": min(r["start_time"] for r in members),
        "last_seen": max(r["end_time"] for r in members),
        "n_appearances": len(members),
        "summary": best.get("summary"),
        "flat_attributes": encode_attributes(
            merge_attributes([decode_attributes(r.get("flat_attributes")) for r in members])
        ),
        "best_tracklet_id": best["tracklet_id"],
        "needs_review": any(r["tracklet_id"] in flagged for r in members),
        "adapter_id": members[0].get("adapter_id") or NO_ADAPTER,
        "vector": centroid.tolist(),
    }


def merge_attributes(descriptions: list[dict[str, tuple[str, float]]]) -> dict[str, tuple[str, float]]:
    """Per field, the value with the most summed confidence; its confidence is its share of the total."""
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for description in descriptions:
        for name, (value, confidence) in description.items():
            votes[name][value] += confidence
    out = {}
    for name, counter in votes.items():
        total = sum(counter.values())
        value, weight = max(counter.items(), key=lambda kv: (kv[1], kv[0]))
        out[name] = (value, weight / total if total else 0.0)
    return out
