"""Per global entity and day: when and where it was seen, how often, how it looked, and flags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reid_pipeline.lib.storage.schemas import Row


@dataclass(frozen=True)
class Piece:
    """Part of an entity's day: one appearance, or what a stored timeline row says about some tracklets."""

    first: datetime
    last: datetime
    cameras: frozenset[str]
    tracklet_ids: tuple[str, ...]
    entity_type: str
    thumbnail: bytes
    summary: str | None
    quality: float | None  # None for a stored timeline row: its best crop's quality was not kept

    @classmethod
    def of_appearance(cls, row: Row) -> Piece:
        return cls(
            row["start_time"],
            row["end_time"],
            frozenset([row["camera_id"]]),
            (row["tracklet_id"],),
            row["entity_type"],
            row["thumbnail"],
            row.get("summary"),
            float(row["quality"]),
        )

    @classmethod
    def of_timeline(cls, row: Row, tracklets: set[str]) -> Piece:
        """The part of a stored timeline row covering ``tracklets``.

        Its times and cameras are the row's: per-tracklet detail went with the appearances, so a row
        split between entities gives each part the whole row's span.
        """
        return cls(
            row["first_seen"],
            row["last_seen"],
            frozenset(row["cameras"]),
            tuple(t for t in row["tracklet_ids"] if t in tracklets),
            row["entity_type"],
            row["thumbnail"],
            row.get("summary"),
            None,
        )


def day_timelines(
    date: str,
    members: Sequence[Row],
    appearances: Sequence[Row],
    entities: Sequence[Row],
    daily: Sequence[Row],
    stored: Sequence[Row] = (),
) -> list[Row]:
    """One row per entity seen on ``date`` (every member of the day is covered).

    Members are described by their appearances; a member whose appearance retention has deleted is
    described by ``stored``, the day's timeline rows as they were, so an expired day is updated from
    what it holds rather than rebuilt from rows that no longer exist.
    """
    appearance = {row["tracklet_id"]: row for row in appearances}
    stored_row = {t: row for row in stored for t in row["tracklet_ids"]}
    entity = {row["entity_id"]: row for row in entities}
    flagged_daily = {row["daily_entity_id"] for row in daily if row["needs_review"]}
    pieces: dict[str, list[Piece]] = defaultdict(list)
    carried: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # entity -> timeline -> tracklets
    daily_of: dict[str, set[str]] = defaultdict(set)
    for member in members:
        tracklet, entity_id = member["tracklet_id"], member["entity_id"]
        if tracklet in appearance:
            pieces[entity_id].append(Piece.of_appearance(appearance[tracklet]))
        elif tracklet in stored_row:
            carried[entity_id][stored_row[tracklet]["timeline_id"]].add(tracklet)
        else:
            continue
        daily_of[entity_id].add(member["daily_entity_id"])
    by_timeline = {row["timeline_id"]: row for row in stored}
    for entity_id, parts in carried.items():
        pieces[entity_id].extend(Piece.of_timeline(by_timeline[t], tracklets) for t, tracklets in parts.items())
    rows = []
    for entity_id, seen in sorted(pieces.items()):
        seen.sort(key=lambda p: (p.first, p.tracklet_ids))
        info = entity.get(entity_id, {})
        best = _best(seen)
        rows.append(
            {
                "timeline_id": f"{entity_id}@{date}",
                "entity_id": entity_id,
                "date": date,
                "entity_type": seen[0].entity_type,
                "first_seen": seen[0].first,
                "last_seen": max(p.last for p in seen),
                "cameras": sorted({c for p in seen for c in p.cameras}),
                "n_appearances": sum(len(p.tracklet_ids) for p in seen),
                "tracklet_ids": [t for p in seen for t in p.tracklet_ids],
                "thumbnail": best.thumbnail,
                "summary": best.summary,
                "needs_review": bool(info.get("needs_review")) or bool(daily_of[entity_id] & flagged_daily),
                "name": info.get("name"),
                "watch": bool(info.get("watch")),
            }
        )
    return rows


def _best(pieces: list[Piece]) -> Piece:
    """Whose thumbnail and summary stand for the day: the best-quality appearance, else the biggest stored part."""
    measured = [p for p in pieces if p.quality is not None]
    if measured:
        return max(measured, key=lambda p: (p.quality or 0.0, p.tracklet_ids))
    return max(pieces, key=lambda p: len(p.tracklet_ids))  # ties: the earliest, as pieces are in time order


def sightings(timelines: Sequence[Row]) -> list[Row]:
    """Watch-list hits: the day's timeline rows of watched entities."""
    return [
        {
            "sighting_id": row["timeline_id"],
            "date": row["date"],
            "entity_id": row["entity_id"],
            "name": row["name"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "cameras": row["cameras"],
        }
        for row in timelines
        if row["watch"]
    ]
