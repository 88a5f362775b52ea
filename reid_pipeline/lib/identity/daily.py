"""One day: tracklets from every camera clustered into daily entities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.identity.cluster_checks import split_chains
from reid_pipeline.lib.identity.clustering import Edge, cluster_indices
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.day_arrays import (
    DayColumns,
    EdgeArrays,
    daily_entities_table,
    day_conflicts,
    day_edges,
    day_nodes,
)
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.reciprocal import rerank_edges
from reid_pipeline.lib.identity.scoring import CameraSpan, Node, decode_attributes, pair_score
from reid_pipeline.lib.identity.transits import apply_transit_prior
from reid_pipeline.lib.storage.schemas import Row


@dataclass
class DailyResult:
    table: pa.Table  # the daily entities, ``daily_entities_schema``
    review: list[Row]
    merged_edges: int
    refused_edges: int
    candidate_pairs: int

    @property
    def entities(self) -> list[Row]:
        """The daily entities as rows (small days; large ones stay in ``table``)."""
        rows: list[Row] = self.table.to_pylist()
        return rows


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
    date: str, appearances: Sequence[Row] | pa.Table, params: MatchParams, corrections: CorrectionSet
) -> DailyResult:
    """Daily entities of ``date`` from its appearance rows (or the Arrow table of them).

    Candidates are each appearance's ``k`` nearest appearances of the same entity type, found in memory
    (``knn.neighbour_pairs``); pairs are scored in numpy and clustered by ``cluster_indices``. The optional
    passes (re-ranking, transit prior, anti-chaining) run on ``Edge`` and ``Node`` objects when switched on.
    """
    day = DayColumns.build(appearances)
    optional = bool(params.rerank_k) or params.transit_prior_weight > 0
    edges = day_edges(day, params, keep_all=optional)
    nodes: dict[str, Node] = day_nodes(day) if optional or params.chain_min_average is not None else {}
    if optional:
        edges = _optional_passes(edges, day, nodes, params)
    conflict = day_conflicts(day, params, corrections)
    must = [(day.number[x], day.number[y]) for x, y in corrections.must_link if x in day.number and y in day.number]
    found = cluster_indices(
        len(day.ids), edges.a, edges.b, edges.score, params.match_threshold, params.review_band, conflict, must
    )
    groups = found.groups
    if params.chain_min_average is not None:
        checked = split_chains(
            [[day.ids[i] for i in group] for group in groups],
            lambda a, b: pair_score(nodes[a], nodes[b], params.attribute_weight),
            params.chain_min_average,
            corrections.must_link,
        )
        groups = [[day.number[t] for t in group] for group in checked.groups]
    review = [review_row(edges.edge(i, day.ids), date, "tracklet") for i in found.review]
    flagged = {node for i in found.review for node in (int(edges.a[i]), int(edges.b[i]))}
    table = daily_entities_table(day, groups, flagged)
    return DailyResult(table, review, found.merged_edges, found.refused_edges, edges.candidates)


def _optional_passes(edges: EdgeArrays, day: DayColumns, nodes: dict[str, Node], params: MatchParams) -> EdgeArrays:
    """k-reciprocal re-ranking and the learned transit prior, over every candidate pair."""
    listed: list[Edge] = [edges.edge(i, day.ids) for i in range(edges.a.size)]
    if params.rerank_k:
        listed = rerank_edges(listed, params.rerank_k, params.rerank_lambda)
    if params.transit_prior_weight > 0:
        confident = params.match_threshold + params.transit_confident_margin
        listed, _ = apply_transit_prior(listed, nodes, confident, params.transit_prior_weight)
    floor = params.match_threshold - params.review_band
    kept = [e for e in listed if e.score >= floor]
    return EdgeArrays(
        np.array([min(day.number[e.a], day.number[e.b]) for e in kept], dtype=np.int64),
        np.array([max(day.number[e.a], day.number[e.b]) for e in kept], dtype=np.int64),
        np.array([e.score for e in kept], dtype=np.float64),
        np.array([e.cosine for e in kept], dtype=np.float64),
        np.array([np.nan if e.agreement is None else e.agreement for e in kept], dtype=np.float64),
        edges.candidates,
    )
