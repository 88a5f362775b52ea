"""Per global entity and day: when and where it was seen, how often, how it looked, and flags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reid_pipeline.lib.schemas import Row


def day_timelines(
    date: str, members: Sequence[Row], appearances: Sequence[Row], entities: Sequence[Row], daily: Sequence[Row]
) -> list[Row]:
    """One row per entity seen on ``date`` (every member appearance of the day is covered)."""
    appearance = {row["tracklet_id"]: row for row in appearances}
    entity = {row["entity_id"]: row for row in entities}
    flagged_daily = {row["daily_entity_id"] for row in daily if row["needs_review"]}
    by_entity: dict[str, list[Row]] = defaultdict(list)
    daily_of: dict[str, set[str]] = defaultdict(set)
    for member in members:
        if member["tracklet_id"] in appearance:
            by_entity[member["entity_id"]].append(appearance[member["tracklet_id"]])
            daily_of[member["entity_id"]].add(member["daily_entity_id"])
    rows = []
    for entity_id, seen in sorted(by_entity.items()):
        seen.sort(key=lambda r: (r["start_time"], r["tracklet_id"]))
        best = max(seen, key=lambda r: (float(r["quality"]), r["tracklet_id"]))
        info = entity.get(entity_id, {})
        rows.append(
            {
                "timeline_id": f"{entity_id}@{date}",
                "entity_id": entity_id,
                "date": date,
                "entity_type": seen[0]["entity_type"],
                "first_seen": seen[0]["start_time"],
                "last_seen": max(r["end_time"] for r in seen),
                "cameras": sorted({r["camera_id"] for r in seen}),
                "n_appearances": len(seen),
                "tracklet_ids": [r["tracklet_id"] for r in seen],
                "thumbnail": best["thumbnail"],
                "summary": best.get("summary"),
                "needs_review": bool(info.get("needs_review")) or bool(daily_of[entity_id] & flagged_daily),
                "name": info.get("name"),
                "watch": bool(info.get("watch")),
            }
        )
    return rows


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
