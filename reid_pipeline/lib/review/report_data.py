"""Everything the daily HTML report shows, gathered from the identity tables of one day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.schemas import Row

STRIP_LENGTH = 8


@dataclass
class Sighting:
    tracklet_id: str
    camera_id: str
    start: datetime
    end: datetime
    thumbnail: bytes


@dataclass
class EntityDay:
    timeline: Row
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def entity_id(self) -> str:
        return str(self.timeline["entity_id"])

    @property
    def anchor(self) -> str:
        """A member tracklet: corrections are recorded against tracklets, which outlive entity ids."""
        return str(self.timeline["tracklet_ids"][0])


@dataclass(frozen=True)
class ReviewPair:
    review_id: str
    level: str
    score: float
    a_tracklet: str
    b_tracklet: str
    a_thumbnail: bytes
    b_thumbnail: bytes


@dataclass
class DayReport:
    date: str
    entities: list[EntityDay]
    watch_hits: list[Row]
    review: list[ReviewPair]

    @property
    def cameras(self) -> list[str]:
        return sorted({s.camera_id for e in self.entities for s in e.sightings})


def gather(store: IdentityStore, date: str) -> DayReport:
    """The day's timelines with their sightings, watch-list hits and review queue."""
    where = f"date = {quoted(date)}"
    timelines = sorted(store.rows("entity_timelines", where), key=lambda r: (r["first_seen"], r["entity_id"]))
    # What a sighting shows; never the vectors (a 4-hour day's, as Python floats, were 300 MB).
    shown = ["tracklet_id", "camera_id", "start_time", "end_time", "thumbnail"]
    appearances = {r["tracklet_id"]: r for r in store.rows("appearances", where, shown)}
    by_entity = {r["entity_id"]: EntityDay(r) for r in timelines}
    for member in store.rows("entity_members", where, ["tracklet_id", "entity_id"]):
        found = appearances.get(member["tracklet_id"])
        if found and member["entity_id"] in by_entity:
            by_entity[member["entity_id"]].sightings.append(
                Sighting(
                    found["tracklet_id"], found["camera_id"], found["start_time"], found["end_time"], found["thumbnail"]
                )
            )
    for entity in by_entity.values():
        entity.sightings.sort(key=lambda s: (s.start, s.tracklet_id))
    return DayReport(date, list(by_entity.values()), store.rows("watch_sightings", where), _review(store, date))


def _review(store: IdentityStore, date: str) -> list[ReviewPair]:
    """Uncertain pairs of the day, each side shown by its thumbnail and anchored to a tracklet."""
    rows = store.rows("review_queue", f"date = {quoted(date)}")
    if not rows:
        return []
    thumbnails: dict[str, bytes] = {}
    anchors: dict[str, str] = {}
    daily_ids = [r[side] for r in rows if r["level"] == "daily_entity" for side in ("a", "b")]
    if daily_ids:
        listed = ", ".join(quoted(i) for i in set(daily_ids))
        for row in store.rows(
            "daily_entities", f"daily_entity_id IN ({listed})", ["daily_entity_id", "best_tracklet_id"]
        ):
            anchors[row["daily_entity_id"]] = row["best_tracklet_id"]
    tracklets = {str(anchors.get(r[side], r[side])) for r in rows for side in ("a", "b")}
    listed = ", ".join(quoted(t) for t in tracklets)
    for row in store.rows("appearances", f"tracklet_id IN ({listed})", ["tracklet_id", "thumbnail"]):
        thumbnails[row["tracklet_id"]] = row["thumbnail"]
    pairs = []
    for row in sorted(rows, key=lambda r: -r["score"]):
        a, b = str(anchors.get(row["a"], row["a"])), str(anchors.get(row["b"], row["b"]))
        pairs.append(
            ReviewPair(
                row["review_id"], row["level"], row["score"], a, b, thumbnails.get(a, b""), thumbnails.get(b, b"")
            )
        )
    return pairs


def camera_lanes(report: DayReport) -> dict[str, list[tuple[str, Sighting]]]:
    """(entity id, sighting) per camera, for the timeline chart."""
    lanes: dict[str, list[tuple[str, Sighting]]] = defaultdict(list)
    for entity in report.entities:
        for sighting in entity.sightings:
            lanes[sighting.camera_id].append((entity.entity_id, sighting))
    return dict(sorted(lanes.items()))
