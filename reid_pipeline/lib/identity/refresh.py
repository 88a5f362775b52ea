"""Rewrite entity timelines (and watch-list sightings) of the days whose entity membership changed."""

from __future__ import annotations

from collections.abc import Sequence

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.identity.timelines import day_timelines, sightings
from reid_pipeline.lib.storage.schemas import Row

MEMBER_COLUMNS = ("tracklet_id", "date", "daily_entity_id", "entity_id")


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
) -> list[str]:
    """Timelines and sightings of ``dates``, or of the days where the member rows ``before`` and
    ``members`` differ.

    A day's rows are rebuilt from its appearances; members whose appearances retention has deleted keep
    what the day's stored timelines say about them (timelines are kept for ever, appearances are not).
    """
    if dates is None:
        dates = changed_days(before or [], members or [])
    entities = store.rows("entities")
    for date in dates:
        where = f"date = {quoted(date)}"
        rows = day_timelines(
            date,
            store.rows("entity_members", where),
            store.rows("appearances", where),
            entities,
            store.rows("daily_entities", where, ["daily_entity_id", "needs_review"]),
            store.rows("entity_timelines", where),
        )
        store.write_timelines(date, rows)
        store.write_sightings(date, sightings(rows))
    return dates
