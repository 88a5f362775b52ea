"""All days: daily entities linked into global entities, one day at a time in date order.

The rule for one day (``link_day``): each of the day's daily entities finds the ``k`` global entities
of its type nearest its vector, as they stood after the earlier days; each pair is scored exactly
(cosine fused with attribute agreement), and pairs are taken strongest first. A daily entity joins the
global entity of a pair that clears the link threshold when neither side is taken yet and nothing
forbids it (a person's "not the same"); otherwise it starts a new global entity. Two daily entities of
one day never join one global entity (the day already kept them apart) unless people merged them, and two existing global
entities are never merged.

Because a day only ever looks at earlier days, the result is a function of the set of days: the
nightly run links the newest day against the stored global entities and touches only the entities
that day reached (``incremental.py``), and a day that arrives out of order, or changes, makes the
days replay in date order (``link_days``, the full relink). Both go through ``link_day``, so they
give identical ids and members.

The entity id is derived from the earliest tracklet of the entity ("E" + 10 hex digits of its hash):
an entity starts on its earliest day and is never renumbered afterwards.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from reid_pipeline.lib.embedding.types import l2_normalise
from reid_pipeline.lib.identity.clustering import Edge, cluster
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import review_row
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.reciprocal import rerank_edges
from reid_pipeline.lib.identity.scoring import attribute_agreement, decode_attributes, fused_score
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


@dataclass
class EntityState:
    """A global entity as the linking sees it after some days: what the next day is compared with."""

    entity_id: str
    entity_type: str
    first_seen: datetime
    last_seen: datetime
    n_days: int
    last_date: str  # the newest day linked into it: days are folded in in date order
    last_daily_entity_id: str  # the newest daily entity linked into it (what a review pair shows)
    cameras: list[str]
    n_appearances: int
    anchor_tracklet_id: str
    summary: str | None
    summary_n: int  # appearances of the daily entity the summary comes from
    needs_review: bool
    vector: np.ndarray  # float32 unit vector: the appearance-weighted mean of its daily entities
    votes: dict[str, dict[str, float]] = field(default_factory=dict)  # field -> value -> summed confidence
    name: str | None = None
    watch: bool = False

    @classmethod
    def start(cls, daily: Row) -> EntityState:
        state = cls(
            entity_id=entity_id_for(daily["tracklet_ids"][0]),
            entity_type=daily["entity_type"],
            first_seen=daily["first_seen"],
            last_seen=daily["last_seen"],
            n_days=1,
            last_date=daily["date"],
            last_daily_entity_id=daily["daily_entity_id"],
            cameras=sorted(daily["cameras"]),
            n_appearances=int(daily["n_appearances"]),
            anchor_tracklet_id=daily["tracklet_ids"][0],
            summary=daily.get("summary"),
            summary_n=int(daily["n_appearances"]),
            needs_review=bool(daily["needs_review"]),
            vector=np.asarray(daily["vector"], dtype=np.float32).copy(),
        )
        state._vote(daily)
        return state

    def attach(self, daily: Row) -> None:
        """Fold a later day's daily entity in (the fold runs in date order, so it is the same every time)."""
        n = int(daily["n_appearances"])
        mixed = self.vector * np.float32(self.n_appearances) + np.asarray(daily["vector"], np.float32) * np.float32(n)
        self.vector = l2_normalise(mixed[None, :])[0]
        self.first_seen = min(self.first_seen, daily["first_seen"])
        self.last_seen = max(self.last_seen, daily["last_seen"])
        if daily["date"] != self.last_date:  # in date order, a day not seen yet is a later one
            self.n_days += 1
            self.last_date = daily["date"]
        self.last_daily_entity_id = daily["daily_entity_id"]
        self.cameras = sorted({*self.cameras, *daily["cameras"]})
        self.n_appearances += n
        if n > self.summary_n:
            self.summary, self.summary_n = daily.get("summary"), n
        self.needs_review = self.needs_review or bool(daily["needs_review"])
        self._vote(daily)

    def copy(self) -> EntityState:
        """A copy to change (``attach``) while the original stays as it was: the vote counts are copied, the
        rest is replaced rather than changed in place."""
        return replace(self, cameras=list(self.cameras), votes={k: dict(v) for k, v in self.votes.items()})

    def _vote(self, daily: Row) -> None:
        for name, (value, confidence) in decode_attributes(daily.get("flat_attributes")).items():
            field_votes = self.votes.setdefault(name, {})
            field_votes[value] = field_votes.get(value, 0.0) + confidence

    def attributes(self) -> dict[str, tuple[str, float]]:
        """Per field, the value with the most summed confidence and its share (exact sums: order-free)."""
        out = {}
        for name, counter in sorted(self.votes.items()):
            total = math.fsum(counter.values())
            value, weight = max(counter.items(), key=lambda kv: (kv[1], kv[0]))
            out[name] = (value, weight / total if total else 0.0)
        return out

    def row(self) -> Row:
        return {
            "entity_id": self.entity_id,
            "entity_type": self.entity_type,
            "name": self.name,
            "watch": self.watch,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "n_days": self.n_days,
            "last_date": self.last_date,
            "last_daily_entity_id": self.last_daily_entity_id,
            "cameras": self.cameras,
            "n_appearances": self.n_appearances,
            "anchor_tracklet_id": self.anchor_tracklet_id,
            "summary": self.summary,
            "summary_n": self.summary_n,
            "needs_review": self.needs_review,
            "attribute_votes": json.dumps(self.votes, sort_keys=True),
            "vector": self.vector.tolist(),
        }

    @classmethod
    def from_row(cls, row: Row) -> EntityState:
        return cls(
            entity_id=row["entity_id"],
            entity_type=row["entity_type"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            n_days=int(row["n_days"]),
            last_date=row["last_date"],
            last_daily_entity_id=row["last_daily_entity_id"],
            cameras=list(row["cameras"]),
            n_appearances=int(row["n_appearances"]),
            anchor_tracklet_id=row["anchor_tracklet_id"],
            summary=row.get("summary"),
            summary_n=int(row["summary_n"]),
            needs_review=bool(row["needs_review"]),
            vector=np.asarray(row["vector"], dtype=np.float32),
            votes=json.loads(row["attribute_votes"] or "{}"),
            name=row.get("name"),
            watch=bool(row.get("watch")),
        )


@dataclass
class DayLinks:
    """What linking one day changed: entities touched or started, the day's members, review pairs."""

    changed: dict[str, EntityState]
    members: list[Row]
    review: list[Row]
    merged_edges: int
    candidate_pairs: int


def link_day(
    date: str,
    day: Sequence[Row],
    candidates: Mapping[str, Sequence[str]],
    entities: Mapping[str, EntityState],
    owner: Callable[[str], str | None],
    params: MatchParams,
    corrections: CorrectionSet,
) -> DayLinks:
    """Link the daily entities ``day`` of ``date`` to the global entities of earlier days.

    ``candidates`` gives each daily entity's nearest global entities (of its type); ``entities`` holds
    at least those and the ones corrections pin; ``owner`` names the global entity of an earlier day's
    tracklet. Nothing passed in is modified.
    """
    daily = {row["daily_entity_id"]: row for row in day}
    edges = _scored_edges(daily, candidates, entities, params)
    rules = _DayRules.from_corrections(daily, entities, owner, corrections)

    def conflict(a: str, b: str) -> bool:
        if a in daily and b in daily:
            return rules.root(a) != rules.root(b)  # the day kept them apart, unless people merged them
        if a not in daily and b not in daily:
            return True  # two existing entities are never merged
        daily_id, entity_id = (a, b) if a in daily else (b, a)
        return (
            daily[daily_id]["entity_type"] != entities[entity_id].entity_type or entity_id in rules.forbidden[daily_id]
        )

    nodes = [*daily, *{e.b for e in edges}, *{p[1] for p in rules.pins}]
    result = cluster(nodes, edges, params.link_threshold, params.review_band, conflict, rules.pins)
    changed, members = _grouped_entities(date, result.groups, daily, entities, result.review)
    review = [_review_row(edge, date, entities) for edge in result.review]
    return DayLinks(changed, members, review, result.merged_edges, len(edges))


def _scored_edges(
    daily: Mapping[str, Row],
    candidates: Mapping[str, Sequence[str]],
    entities: Mapping[str, EntityState],
    params: MatchParams,
) -> list[Edge]:
    """An edge from each daily entity to each of its candidate global entities, scored by appearance and
    attributes (then re-ranked when ``params.rerank_k`` asks)."""
    edges = []
    for daily_id, row in sorted(daily.items()):
        vector = np.asarray(row["vector"], dtype=np.float32)
        described = decode_attributes(row.get("flat_attributes"))
        for entity_id in sorted(set(candidates.get(daily_id, ()))):
            entity = entities[entity_id]
            cosine = float(np.dot(vector, entity.vector))
            agreement = attribute_agreement(described, entity.attributes())
            score = fused_score(cosine, agreement, params.attribute_weight)
            edges.append(Edge(daily_id, entity_id, score, cosine, agreement))
    if params.rerank_k:
        edges = rerank_edges(edges, params.rerank_k, params.rerank_lambda)
    return edges


@dataclass
class _DayRules:
    """What people's corrections say about one day's linking.

    ``together``: daily entities merged by people (a union-find parent map); ``forbidden``: global entities
    a daily entity may not join; ``pins``: (daily entity, node) pairs that must end up in one group.
    """

    together: dict[str, str]
    forbidden: dict[str, set[str]]
    pins: list[tuple[str, str]]

    def root(self, daily_id: str) -> str:
        return _root(self.together, daily_id)

    @classmethod
    def from_corrections(
        cls,
        daily: Mapping[str, Row],
        entities: Mapping[str, EntityState],
        owner: Callable[[str], str | None],
        corrections: CorrectionSet,
    ) -> _DayRules:
        tracklet_day = {t: daily_id for daily_id, row in daily.items() for t in row["tracklet_ids"]}
        together = {daily_id: daily_id for daily_id in daily}
        for p, q in sorted(corrections.must_link):
            if p in tracklet_day and q in tracklet_day:
                low, high = sorted((_root(together, tracklet_day[p]), _root(together, tracklet_day[q])))
                together[high] = low
        forbidden: dict[str, set[str]] = defaultdict(set)
        pinned: list[tuple[str, str]] = []
        for pairs, into in ((corrections.cannot_link, None), (corrections.must_link, pinned)):
            for p, q in sorted(pairs):
                for mine, other in ((p, q), (q, p)):
                    if mine in tracklet_day and other not in tracklet_day and (target := owner(other)) is not None:
                        if into is None:
                            forbidden[tracklet_day[mine]].add(target)
                        elif target in entities:
                            into.append((tracklet_day[mine], target))
        pins = sorted({(a, b) for a in daily if (b := _root(together, a)) != a})
        used: set[str] = set()
        for daily_id, entity_id in sorted(pinned):
            root = _root(together, daily_id)
            if root not in used and entity_id not in used and entity_id not in forbidden[daily_id]:
                pins.append((daily_id, entity_id))
                used |= {root, entity_id}
        return cls(together, forbidden, pins)


def _grouped_entities(
    date: str,
    groups: Sequence[Collection[str]],
    daily: Mapping[str, Row],
    entities: Mapping[str, EntityState],
    review: Sequence[Edge],
) -> tuple[dict[str, EntityState], list[Row]]:
    """The global entities each group makes or changes, and the day's tracklet memberships."""
    flagged = {n for edge in review for n in (edge.a, edge.b)}
    changed: dict[str, EntityState] = {}
    members: list[Row] = []
    for group in groups:
        joined: list[Row] = sorted(
            (daily[n] for n in group if n in daily), key=lambda r: (r["first_seen"], r["daily_entity_id"])
        )
        if not joined:
            continue
        existing = [n for n in group if n not in daily]
        if existing:
            state = entities[existing[0]].copy()
            state.attach(joined[0])
        else:
            state = EntityState.start(joined[0])
        for later in joined[1:]:
            state.attach(later)
        reviewed = {m["daily_entity_id"] for m in joined} | {state.entity_id}
        state.needs_review = state.needs_review or bool(reviewed & flagged)
        changed[state.entity_id] = state
        members.extend(
            {"tracklet_id": t, "date": date, "daily_entity_id": m["daily_entity_id"], "entity_id": state.entity_id}
            for m in joined
            for t in m["tracklet_ids"]
        )
    for edge in review:  # an existing entity flagged for review is changed too
        if edge.b not in changed:
            state = entities[edge.b].copy()
            state.needs_review = True
            changed[edge.b] = state
    return changed, members


def _root(parent: dict[str, str], node: str) -> str:
    while parent[node] != node:
        node = parent[node]
    return node


def _review_row(edge: Edge, date: str, entities: Mapping[str, EntityState]) -> Row:
    """A review pair between daily entities: the day's one, and the entity's latest earlier daily entity."""
    other = entities[edge.b].last_daily_entity_id
    a, b = sorted((edge.a, other))
    return review_row(Edge(a, b, edge.score, edge.cosine, edge.agreement), date, "daily_entity")


def apply_names(
    entities: Mapping[str, EntityState], owner: Callable[[str], str | None], corrections: CorrectionSet
) -> None:
    """Set each entity's name and watch flag from the corrections on its tracklets."""
    names: dict[str, set[str]] = defaultdict(set)
    for tracklet, name in corrections.names.items():
        if (entity_id := owner(tracklet)) is not None:
            names[entity_id].add(name)
    watched = {entity_id for t in corrections.watched if (entity_id := owner(t)) is not None}
    for entity_id, state in entities.items():
        listed = sorted(names.get(entity_id, ()))
        state.name = listed[0] if listed else None
        state.watch = entity_id in watched


class EntityIndex:
    """Unit vectors of the global entities of one type, for exact nearest-neighbour search in memory."""

    def __init__(self, dims: int) -> None:
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.vectors = np.zeros((0, dims), dtype=np.float32)

    def put(self, entity_id: str, vector: np.ndarray) -> None:
        if entity_id in self.rows:
            self.vectors[self.rows[entity_id]] = vector
            return
        if len(self.ids) == self.vectors.shape[0]:
            grown = np.zeros((max(16, 2 * len(self.ids)), self.vectors.shape[1]), dtype=np.float32)
            grown[: len(self.ids)] = self.vectors[: len(self.ids)]
            self.vectors = grown
        self.rows[entity_id] = len(self.ids)
        self.ids.append(entity_id)
        self.vectors[len(self.ids) - 1] = vector

    def nearest(self, vectors: np.ndarray, k: int) -> list[list[str]]:
        if not self.ids:
            return [[] for _ in range(len(vectors))]
        sims = np.asarray(vectors, dtype=np.float32) @ self.vectors[: len(self.ids)].T
        return [[self.ids[j] for j in row] for row in top_k(sims, k)]


def top_k(sims: np.ndarray, k: int) -> list[list[int]]:
    """Per row, the columns of its ``k`` largest values, largest first, ties by column: what a stable sort
    of the whole row gives, without sorting it whole (a day against thousands of entities)."""
    if k <= 0:
        return [[] for _ in range(sims.shape[0])]
    if k >= sims.shape[1]:
        ordered: list[list[int]] = np.argsort(-sims, axis=1, kind="stable").tolist()
        return ordered
    kth = np.partition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k]  # each row's k-th largest
    out = []
    for row, floor in zip(sims, kth, strict=True):
        at_least = np.flatnonzero(row >= floor)  # the k largest, and any tied with the k-th
        out.append(at_least[np.argsort(-row[at_least], kind="stable")][:k].tolist())
    return out


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


def link_days(daily: Sequence[Row], params: MatchParams, corrections: CorrectionSet) -> LinkResult:
    """Global entities from every daily entity: the days replayed in date order (the full relink)."""
    refuse_mixed_adapters(daily)
    by_date: dict[str, list[Row]] = defaultdict(list)
    for row in daily:
        by_date[row["date"]].append(row)
    states: dict[str, EntityState] = {}
    owner: dict[str, str] = {}
    indexes: dict[str, EntityIndex] = {}
    members: list[Row] = []
    review: list[Row] = []
    merged = pairs = 0
    for date in sorted(by_date):
        day = sorted(by_date[date], key=lambda r: r["daily_entity_id"])
        candidates: dict[str, list[str]] = {}
        for entity_type in sorted({r["entity_type"] for r in day}):
            rows = [r for r in day if r["entity_type"] == entity_type]
            index = indexes.setdefault(entity_type, EntityIndex(len(rows[0]["vector"])))
            found = index.nearest(np.stack([np.asarray(r["vector"], np.float32) for r in rows]), params.k)
            candidates.update({r["daily_entity_id"]: ids for r, ids in zip(rows, found, strict=True)})
        links = link_day(date, day, candidates, states, owner.get, params, corrections)
        for entity_id, state in links.changed.items():
            states[entity_id] = state
            indexes[state.entity_type].put(entity_id, state.vector)
        owner.update({m["tracklet_id"]: m["entity_id"] for m in links.members})
        members.extend(links.members)
        review.extend(links.review)
        merged += links.merged_edges
        pairs += links.candidate_pairs
    apply_names(states, owner.get, corrections)
    entities = [states[e].row() for e in sorted(states)]
    return LinkResult(entities, members, review, merged, pairs)
