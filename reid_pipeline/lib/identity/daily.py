"""One day: tracklets from every camera clustered into daily entities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.identity.clustering import Edge, cluster_indices
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.day_arrays import DayColumns, daily_entities_table, day_conflicts, day_edges
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.scoring import CameraSpan, Node, decode_attributes
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
    (``knn.nearest_neighbours``); pairs are scored in numpy and clustered by ``cluster_indices``.
    """
    day = DayColumns.build(appearances)
    edges = day_edges(day, params)
    conflict = day_conflicts(day, params, corrections)
    must = [(day.number[x], day.number[y]) for x, y in corrections.must_link if x in day.number and y in day.number]
    found = cluster_indices(
        len(day.ids), edges.a, edges.b, edges.score, params.match_threshold, params.review_band, conflict, must
    )
    review = [review_row(edges.edge(i, day.ids), date, "tracklet") for i in found.review]
    flagged = {node for i in found.review for node in (int(edges.a[i]), int(edges.b[i]))}
    table = daily_entities_table(day, found.groups, flagged)
    return DailyResult(table, review, found.merged_edges, found.refused_edges, edges.candidates)
