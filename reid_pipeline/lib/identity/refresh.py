"""Rewrite entity timelines (and watch-list sightings) of the days whose entity membership changed."""

from __future__ import annotations

from collections.abc import Sequence

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.identity.timelines import day_timelines, sightings
from reid_pipeline.lib.storage.schemas import Row

MEMBER_COLUMNS = ("tracklet_id", "date", "daily_entity_id", "entity_id")
# What a timeline reads of an appearance (its vector, the widest column, is not needed).
APPEARANCE_COLUMNS = [
    "tracklet_id",
    "start_time",
    "end_time",
    "camera_id",
    "entity_type",
    "thumbnail",
    "summary",
    "quality",
]


def changed_days(before: Sequence[Row], after: Sequence[Row]) -> list[str]:
    """Days where ``entity_members`` rows differ: a tracklet that moved, arrived or vanished.

    Both sides carry their own dates, so a tracklet that is gone is found on the day it was on.
    """

    def placed(rows: Sequence[Row]) -> set[tuple[str, ...]]:
        return {tuple(str(row[c]) for c in MEMBER_COLUMNS) for row in rows}

    return sorted({member[1] for member in placed(before) ^ placed(after)})


def refresh_timelines(
    store: IdentityStore,
    before: Sequence[Row] | None,
    members: Sequence[Row] | None,
    dates: list[str] | None = None,
    with_sightings: bool = True,
) -> list[str]:
    """Timelines and sightings of ``dates``, or of the days where the member rows ``before`` and
    ``members`` differ.

    ``with_sightings=False`` writes timelines only: the ``entity_timelines`` asset owns that table and the
    ``watch_sightings`` asset owns its own (see :func:`write_day_sightings`). The relink, which rewrites
    other days' rows after a membership change, writes both and reports each day it rewrote.

    A day's rows are rebuilt from its appearances; members whose appearances retention has deleted keep
    what the day's stored timelines say about them (timelines are kept for ever, appearances are not).
    """
    if dates is None:
        dates = changed_days(before or [], members or [])
    for date in dates:
        where = f"date = {quoted(date)}"
        members = store.rows("entity_members", where)
        # Only the entities seen that day: reading every entity would make each day cost more than the last.
        listed = ", ".join(sorted({quoted(m["entity_id"]) for m in members}))
        flags = ["entity_id", "needs_review", "name", "watch"]
        entities = store.rows("entities", f"entity_id IN ({listed})", flags) if listed else []
        rows = day_timelines(
            date,
            members,
            store.rows("appearances", where, APPEARANCE_COLUMNS),
            entities,
            store.rows("daily_entities", where, ["daily_entity_id", "needs_review"]),
            store.rows("entity_timelines", where),
        )
        store.write_timelines(date, rows)
        if with_sightings:
            store.write_sightings(date, sightings(rows))
    return dates


def write_day_sightings(store: IdentityStore, dates: Sequence[str]) -> list[Row]:
    """Watch-list sightings of ``dates`` from their stored timelines, written; returns them."""
    hits: list[Row] = []
    for date in dates:
        day = (
            sightings(store.rows("entity_timelines", f"date = {quoted(date)}")) if store.has("entity_timelines") else []
        )
        store.write_sightings(date, day)
        hits.extend(day)
    return hits
