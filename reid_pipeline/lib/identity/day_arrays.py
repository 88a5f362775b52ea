"""A day's appearances as columns, so a million of them cluster in minutes: candidate pairs, exact scores,
conflicts and the daily entity rows, computed over numpy arrays instead of one Python object per pair.

Nodes are numbered in the order of their tracklet ids, so ties between equal scores break the same way
as they would on the ids themselves, and the result never depends on the order rows arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.adaptation.site import NO_ADAPTER
from reid_pipeline.lib.embedding.types import l2_normalise
from reid_pipeline.lib.identity.clustering import Edge
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.knn import neighbour_pairs
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.scoring import (
    COMPARED_FIELDS,
    CameraSpan,
    Node,
    decode_attributes,
    encode_attributes,
    merge_attributes,
)
from reid_pipeline.lib.identity.tables import TIMESTAMP, daily_entities_schema
from reid_pipeline.lib.storage.schemas import Row

COLUMNS = (
    "tracklet_id",
    "date",
    "camera_id",
    "entity_type",
    "start_time",
    "end_time",
    "quality",
    "summary",
    "flat_attributes",
    "adapter_id",
)
GROUP_BLOCK = 20_000  # daily entities whose mean vectors are computed at once
BIG_CHECK = 64  # member pairs from which a conflict check between two groups is done in numpy


@dataclass
class DayColumns:
    """The columns of a day's appearances that clustering reads, sorted by tracklet id."""

    ids: list[str]
    number: dict[str, int]
    date: str
    vectors: np.ndarray  # (n, dims) float32, unit rows
    entity_types: list[str]
    camera_names: list[str]
    camera: np.ndarray  # (n,) int64 codes into camera_names
    start_us: np.ndarray  # (n,) int64 microseconds since the epoch
    end_us: np.ndarray
    quality: np.ndarray  # (n,) float64
    summary: list[str | None]
    flat_attributes: list[str | None]
    adapter_id: list[str]  # the site adaptation that made each vector ("none": backbone vectors)

    @classmethod
    def build(cls, appearances: Sequence[Row] | pa.Table) -> DayColumns:
        table = appearances if isinstance(appearances, pa.Table) else _rows_table(appearances)
        table = table.sort_by("tracklet_id")
        n = table.num_rows
        vector = table.column("vector").combine_chunks()
        dims = vector.type.list_size if n else 0
        vectors = np.asarray(vector.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(n, dims)
        ids = table.column("tracklet_id").to_pylist()
        cameras = table.column("camera_id").to_pylist()
        names = sorted(set(cameras))
        code = {name: i for i, name in enumerate(names)}
        dates = table.column("date").to_pylist()
        return cls(
            ids=ids,
            number={t: i for i, t in enumerate(ids)},
            date=dates[0] if dates else "",
            vectors=vectors,
            entity_types=table.column("entity_type").to_pylist(),
            camera_names=names,
            camera=np.array([code[c] for c in cameras], dtype=np.int64),
            start_us=_micros(table.column("start_time")),
            end_us=_micros(table.column("end_time")),
            quality=table.column("quality").to_numpy().astype(np.float64),
            summary=table.column("summary").to_pylist(),
            flat_attributes=table.column("flat_attributes").to_pylist(),
            adapter_id=[
                a or NO_ADAPTER
                for a in (table.column("adapter_id").to_pylist() if "adapter_id" in table.schema.names else [None] * n)
            ],
        )


def _rows_table(rows: Sequence[Row]) -> pa.Table:
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    types = {"start_time": TIMESTAMP, "end_time": TIMESTAMP, "quality": pa.float64()}
    table = pa.table({name: pa.array(values, type=types.get(name, pa.string())) for name, values in columns.items()})
    dims = len(rows[0]["vector"]) if rows else 0
    flat = np.asarray([np.asarray(row["vector"], dtype=np.float32) for row in rows], dtype=np.float32).reshape(-1)
    return table.append_column("vector", pa.FixedSizeListArray.from_arrays(pa.array(flat), max(dims, 1)))


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64)


@dataclass(frozen=True)
class EdgeArrays:
    """Unique scored pairs ``a < b`` (node numbers) that can matter: score at least the review floor."""

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray  # float64
    cosine: np.ndarray  # float64
    agreement: np.ndarray  # float64, NaN where the two descriptions share no field
    candidates: int  # unique candidate pairs before the floor

    def edge(self, i: int, ids: Sequence[str]) -> Edge:
        agreement = float(self.agreement[i])
        return Edge(
            ids[int(self.a[i])],
            ids[int(self.b[i])],
            float(self.score[i]),
            float(self.cosine[i]),
            None if np.isnan(agreement) else agreement,
        )


def least_cosine(params: MatchParams, floor: float) -> float:
    """The cosine below which no pair can reach ``floor`` even with full attribute agreement."""
    w = params.attribute_weight
    return min(floor, (floor - w) / (1.0 - w)) if w < 1 else -1.0


def day_edges(day: DayColumns, params: MatchParams, keep_all: bool = False) -> EdgeArrays:
    """Each appearance's ``k`` nearest of its entity type (those that can reach the review floor), as unique
    pairs scored exactly. ``candidates`` counts them before the floor on the fused score. ``keep_all``
    keeps every candidate pair (re-ranking can lift a pair from below the floor)."""
    n = len(day.ids)
    floor = params.match_threshold - params.review_band if not keep_all else -np.inf
    by_type: dict[str, list[int]] = {}
    for i, entity_type in enumerate(day.entity_types):
        by_type.setdefault(entity_type, []).append(i)
    least = least_cosine(params, floor) - 1e-6 if not keep_all else -np.inf
    keys, sims = [], []
    for _, members in sorted(by_type.items()):
        idx = np.array(members, dtype=np.int64)
        found = neighbour_pairs(day.vectors[idx], params.k, least)
        a, b = idx[found.query], idx[found.other]
        keys.append(np.minimum(a, b) * n + np.maximum(a, b))
        sims.append(found.similarity.astype(np.float64))
    key = np.concatenate(keys) if keys else np.empty(0, np.int64)
    sim = np.concatenate(sims) if sims else np.empty(0, np.float64)
    # A pair found from both ends keeps the larger of its two products (they may differ in the last bit).
    order = np.lexsort((-sim, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    unique, cosine = key[order][first], sim[order][first]
    a, b = unique // max(n, 1), unique % max(n, 1)
    agreement = pair_agreement(attribute_codes(day.flat_attributes), a, b)
    score = fused_scores(cosine, agreement, params.attribute_weight)
    keep = score >= floor
    return EdgeArrays(a[keep], b[keep], score[keep], cosine[keep], agreement[keep], int(unique.size))


@dataclass(frozen=True)
class AttributeCodes:
    """Per compared field: each node's value as a code (-1 unknown) and its confidence."""

    codes: np.ndarray  # (fields, n) int64
    confidence: np.ndarray  # (fields, n) float64


def attribute_codes(flat_attributes: Sequence[str | None]) -> AttributeCodes:
    n = len(flat_attributes)
    codes = np.full((len(COMPARED_FIELDS), n), -1, dtype=np.int64)
    confidence = np.zeros((len(COMPARED_FIELDS), n), dtype=np.float64)
    vocab: dict[str, int] = {}
    field_row = {name: i for i, name in enumerate(COMPARED_FIELDS)}
    for j, text in enumerate(flat_attributes):
        if not text:
            continue
        for name, (value, conf) in decode_attributes(text).items():
            if name in field_row:
                codes[field_row[name], j] = vocab.setdefault(value, len(vocab))
                confidence[field_row[name], j] = conf
    return AttributeCodes(codes, confidence)


def pair_agreement(attrs: AttributeCodes, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scoring.attribute_agreement`` for many pairs at once; NaN where they share no known field."""
    if not (attrs.codes >= 0).any():
        return np.full(a.size, np.nan)
    ca, cb = attrs.codes[:, a], attrs.codes[:, b]
    both = (ca >= 0) & (cb >= 0)
    weight = np.where(both, np.minimum(attrs.confidence[:, a], attrs.confidence[:, b]), 0.0)
    total = weight.sum(axis=0)
    agree = np.where(ca == cb, weight, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, agree / total, np.nan)


def fused_scores(cosine: np.ndarray, agreement: np.ndarray, attribute_weight: float) -> np.ndarray:
    """``scoring.fused_score`` for many pairs: plain cosine where the attributes say nothing."""
    fused = (1.0 - attribute_weight) * cosine + attribute_weight * np.nan_to_num(agreement)
    return np.where(np.isnan(agreement), cosine, fused)


def day_nodes(day: DayColumns) -> dict[str, Node]:
    """The day's appearances as ``Node`` objects, for the optional passes that work on them."""
    return {
        tracklet: Node(
            node_id=tracklet,
            entity_type=day.entity_types[i],
            date=day.date,
            vector=day.vectors[i],
            sightings=[
                CameraSpan(day.camera_names[day.camera[i]], _datetime(day.start_us[i]), _datetime(day.end_us[i]))
            ],
            attributes=decode_attributes(day.flat_attributes[i]),
            tracklet_ids=(tracklet,),
        )
        for i, tracklet in enumerate(day.ids)
    }


def _datetime(micros: np.int64) -> datetime:
    return datetime.fromtimestamp(int(micros) / 1e6, tz=UTC)


def day_conflicts(
    day: DayColumns, params: MatchParams, corrections: CorrectionSet
) -> Callable[[list[int], list[int]], bool]:
    """Whether two groups of the day can never be one entity: two of their appearances seen at once on
    one camera, or on two cameras closer in time than the transition, or a pair people marked apart."""
    names = day.camera_names
    transition_us = np.array(
        [[params.transitions.between(x, y) * 1e6 for y in names] for x in names], dtype=np.float64
    ).reshape(len(names), len(names))
    camera, start, end = day.camera.tolist(), day.start_us.tolist(), day.end_us.tolist()
    transition = transition_us.tolist()
    forbidden: dict[int, set[int]] = {}
    for x, y in corrections.cannot_link:
        if x in day.number and y in day.number:
            forbidden.setdefault(day.number[x], set()).add(day.number[y])
            forbidden.setdefault(day.number[y], set()).add(day.number[x])

    def small(xs: list[int], ys: list[int]) -> bool:
        for x in xs:
            cx, sx, ex = camera[x], start[x], end[x]
            row = transition[cx]
            for y in ys:
                gap = max(sx, start[y]) - min(ex, end[y])  # < 0: they overlap
                cy = camera[y]
                if (gap < 0) if cy == cx else (gap < row[cy]):
                    return True
        return False

    def big(xs: list[int], ys: list[int]) -> bool:
        x, y = np.array(xs), np.array(ys)
        gap = np.maximum(day.start_us[x][:, None], day.start_us[y][None, :]) - np.minimum(
            day.end_us[x][:, None], day.end_us[y][None, :]
        )
        cx, cy = day.camera[x][:, None], day.camera[y][None, :]
        return bool(np.any(np.where(cx == cy, gap < 0, gap < transition_us[cx, cy])))

    def conflict(xs: list[int], ys: list[int]) -> bool:
        if forbidden and any(forbidden.get(x, set()).intersection(ys) for x in xs):
            return True
        return big(xs, ys) if len(xs) * len(ys) > BIG_CHECK else small(xs, ys)

    return conflict


def daily_entities_table(day: DayColumns, groups: list[list[int]], flagged: set[int]) -> pa.Table:
    """One row per group: ids, times, cameras, the quality-weighted mean vector, merged attributes.

    A daily entity's id is its earliest tracklet's (``de:<tracklet>``); members are listed by start time.
    """
    dims = day.vectors.shape[1] if day.vectors.ndim == 2 else 1
    schema = daily_entities_schema(dims)
    if not groups:
        return schema.empty_table()
    ordered = [sorted(group, key=lambda i: (day.start_us[i], day.ids[i])) for group in groups]
    flat = np.array([i for group in ordered for i in group], dtype=np.int64)
    sizes = np.array([len(group) for group in ordered], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    weights = np.maximum(day.quality[flat], 1e-3).astype(np.float32)
    centroids = np.empty((len(ordered), dims), dtype=np.float32)
    # In blocks of whole groups: the weighted copy of a million vectors at once would double the memory.
    for lo in range(0, len(ordered), GROUP_BLOCK):
        hi = min(len(ordered), lo + GROUP_BLOCK)
        rows = slice(int(starts[lo]), int(starts[hi - 1] + sizes[hi - 1]))
        block = day.vectors[flat[rows]] * weights[rows, None]
        centroids[lo:hi] = l2_normalise(np.add.reduceat(block, starts[lo:hi] - starts[lo], axis=0))
    first = np.minimum.reduceat(day.start_us[flat], starts)
    last = np.maximum.reduceat(day.end_us[flat], starts)
    heads, cameras, summaries, attributes, best, review = [], [], [], [], [], []
    for group in ordered:
        heads.append(day.ids[group[0]])
        cameras.append(sorted({day.camera_names[day.camera[i]] for i in group}))
        top = max(group, key=lambda i: (day.quality[i], day.ids[i]))
        best.append(day.ids[top])
        summaries.append(day.summary[top])
        described = [decode_attributes(day.flat_attributes[i]) for i in group if day.flat_attributes[i]]
        attributes.append(encode_attributes(merge_attributes(described)))
        review.append(any(i in flagged for i in group))
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))
    columns = {
        "daily_entity_id": pa.array([f"de:{h}" for h in heads]),
        "date": pa.array([day.date] * len(groups)),
        "entity_type": pa.array([day.entity_types[group[0]] for group in ordered]),
        "tracklet_ids": pa.ListArray.from_arrays(offsets, pa.array([day.ids[i] for i in flat])),
        "cameras": pa.array(cameras, type=pa.list_(pa.string())),
        "first_seen": pa.array(first, type=pa.int64()).cast(TIMESTAMP),
        "last_seen": pa.array(last, type=pa.int64()).cast(TIMESTAMP),
        "n_appearances": pa.array(sizes),
        "summary": pa.array(summaries, type=pa.string()),
        "flat_attributes": pa.array(attributes),
        "best_tracklet_id": pa.array(best),
        "needs_review": pa.array(review),
        "adapter_id": pa.array([day.adapter_id[group[0]] for group in ordered]),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(centroids.reshape(-1)), dims),
    }
    table = pa.table(columns)
    return table.cast(schema).sort_by("daily_entity_id")
