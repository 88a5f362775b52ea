"""Rewrite entity timelines (and watch-list sightings) of the days whose entity membership changed."""

from __future__ import annotations

from collections.abc import Sequence

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.identity.timelines import day_timelines, sightings
from reid_pipeline.lib.schemas import Row


def changed_days(before: dict[str, str], members: Sequence[Row]) -> list[str]:
    after = {row["tracklet_id"]: row["entity_id"] for row in members}
    dates = {row["tracklet_id"]: row["date"] for row in members}
    changed = {dates[t] for t in after if before.get(t) != after[t]}
    gone = set(before) - set(after)
    return sorted(changed | ({d for t, d in dates.items() if t in gone}))


def refresh_timelines(
    store: IdentityStore,
    before: dict[str, str] | None,
    members: Sequence[Row] | None,
    dates: list[str] | None = None,
) -> list[str]:
    """Timelines and sightings of ``dates``, or of the days where ``before`` and ``members`` differ."""
    if dates is None:
        dates = changed_days(before or {}, members or [])
    entities = store.rows("entities")
    for date in dates:
        where = f"date = {quoted(date)}"
        rows = day_timelines(
            date,
            store.rows("entity_members", where),
            store.rows("appearances", where),
            entities,
            store.rows("daily_entities", where, ["daily_entity_id", "needs_review"]),
        )
        store.write_timelines(date, rows)
        store.write_sightings(date, sightings(rows))
    return dates
