"""Questions people ask of the identity tables: who was seen, what is known of one entity, who looks like this."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.schemas import Row

HIDDEN = ("vector", "thumbnail")
# List columns of ``entities`` rows written by older versions (before a relink rewrites them): what they
# held is shown from the members instead, the same for either layout.
OLD_LIST_COLUMNS = ("days", "daily_entity_ids")


def visible(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in HIDDEN}


def list_entities(store: IdentityStore, date: str | None, camera: str | None, entity_type: str | None) -> list[Row]:
    """Entities (or, with ``date``, that day's timelines), filtered by camera and entity type."""
    conditions = []
    if date:
        conditions.append(f"date = {quoted(date)}")
    if entity_type:
        conditions.append(f"entity_type = {quoted(entity_type)}")
    where = " AND ".join(conditions) or None
    rows = store.rows("entity_timelines" if date else "entities", where)
    if camera:
        rows = [row for row in rows if camera in row["cameras"]]
    return [visible(row) for row in sorted(rows, key=lambda r: (r["first_seen"], r["entity_id"]))]


def resolve_entity(store: IdentityStore, ref: str) -> Row:
    """The entity row for an entity id or any of its tracklet ids; a clear error otherwise."""
    entity_id = ref
    if not ref.startswith("E"):
        member = store.rows("entity_members", f"tracklet_id = {quoted(ref)}")
        if not member:
            raise ValueError(f"{ref!r} is neither an entity id (E...) nor a known tracklet id")
        entity_id = member[0]["entity_id"]
    rows = store.rows("entities", f"entity_id = {quoted(entity_id)}")
    if not rows:
        raise ValueError(f"no entity {entity_id!r} in {store.uri}: list them with `reid-pipeline entities list`")
    return rows[0]


def show_entity(store: IdentityStore, ref: str) -> Row:
    """The entity's row, with its days and tracklets (from its members)."""
    entity = resolve_entity(store, ref)
    members = store.rows("entity_members", f"entity_id = {quoted(entity['entity_id'])}")
    shown = {k: v for k, v in visible(entity).items() if k not in OLD_LIST_COLUMNS}
    days = sorted({m["date"] for m in members})
    return {**shown, "days": days, "tracklets": sorted(m["tracklet_id"] for m in members)}


def entity_days(store: IdentityStore, entity_id: str) -> list[str]:
    """The days an entity was seen on, from its members (its row keeps only how many, and the newest)."""
    return sorted({m["date"] for m in store.rows("entity_members", f"entity_id = {quoted(entity_id)}", ["date"])})


def entity_history(store: IdentityStore, ref: str) -> list[Row]:
    entity = resolve_entity(store, ref)
    rows = store.rows("entity_timelines", f"entity_id = {quoted(entity['entity_id'])}")
    return [visible(row) for row in sorted(rows, key=lambda r: r["date"])]


def nearest_appearances(store: IdentityStore, vector: np.ndarray, top: int, dims_source: str) -> list[Row]:
    """Appearances most like ``vector`` (cosine), with the entity each belongs to."""
    if not store.has("appearances"):
        raise ValueError(f"no appearances in {store.uri} yet: run the pipeline first")
    table = store.table("appearances")
    width = table.schema.field("vector").type.list_size
    if width != len(vector):
        model = store.rows("appearances", None, ["backend", "model"])[:1]
        raise ValueError(
            f"the stored vectors are {width}-d ({model[0]['backend'] + ':' + model[0]['model'] if model else 'unknown model'}), {dims_source} "
            f"gives {len(vector)}-d: search with the embedding profile the pipeline ran with"
        )
    hits = (
        table.search(vector.astype(np.float32))
        .distance_type("cosine")
        .limit(top)
        .select(["tracklet_id", "date", "camera_id", "entity_type", "start_time", "summary", "_distance"])
        .to_arrow()
        .to_pylist()
    )
    owners = entity_of(store, [hit["tracklet_id"] for hit in hits])
    return [
        {
            "entity_id": owners.get(hit["tracklet_id"]),
            **{k: v for k, v in hit.items() if k != "_distance"},
            "similarity": round(1.0 - float(hit["_distance"]), 4),
        }
        for hit in hits
    ]


def entity_of(store: IdentityStore, tracklets: Sequence[str]) -> dict[str, str]:
    if not tracklets:
        return {}
    listed = ", ".join(quoted(t) for t in tracklets)
    return {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members", f"tracklet_id IN ({listed})")}
