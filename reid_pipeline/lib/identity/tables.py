"""Explicit schemas of the LanceDB tables the identity stage writes.

``appearances``, ``daily_entities``, ``entity_members``, ``entity_timelines``, ``review_queue`` and
``watch_sightings`` are replaced per day; ``entities`` is rewritten by the global linking step;
``corrections`` is appended to by people (CLI, review) and never rewritten by the pipeline.
``daily_fingerprints`` (daily step), ``linked_days`` and ``link_state`` (global step) record what was
linked, so the global step links only what is new.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")


def _vector(dims: int) -> pa.Field:
    return pa.field("vector", pa.list_(pa.float32(), dims), nullable=False)


def appearances_schema(dims: int) -> pa.Schema:
    """One row per tracklet: the unit of matching."""
    return pa.schema(
        [
            pa.field("tracklet_id", pa.string(), nullable=False),
            pa.field("date", pa.string(), nullable=False),
            pa.field("camera_id", pa.string(), nullable=False),
            pa.field("entity_type", pa.string(), nullable=False),
            pa.field("start_time", TIMESTAMP, nullable=False),
            pa.field("end_time", TIMESTAMP, nullable=False),
            pa.field("n_detections", pa.int64(), nullable=False),
            pa.field("best_crop_id", pa.string(), nullable=False),
            pa.field("quality", pa.float32(), nullable=False),
            pa.field("summary", pa.string()),
            pa.field("attributes", pa.string()),  # JSON, as in the attributes table
            pa.field("flat_attributes", pa.string()),  # JSON of known flattened fields with confidences
            pa.field("thumbnail", pa.binary(), nullable=False),  # small JPEG of the best crop
            pa.field("backend", pa.string(), nullable=False),  # embedder family: its thresholds apply
            pa.field("model", pa.string(), nullable=False),
            pa.field("adapter_id", pa.string(), nullable=False),  # site adaptation that made the vector, or "none"
            _vector(dims),
        ]
    )


def daily_entities_schema(dims: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("daily_entity_id", pa.string(), nullable=False),
            pa.field("date", pa.string(), nullable=False),
            pa.field("entity_type", pa.string(), nullable=False),
            pa.field("tracklet_ids", pa.list_(pa.string()), nullable=False),
            pa.field("cameras", pa.list_(pa.string()), nullable=False),
            pa.field("first_seen", TIMESTAMP, nullable=False),
            pa.field("last_seen", TIMESTAMP, nullable=False),
            pa.field("n_appearances", pa.int64(), nullable=False),
            pa.field("summary", pa.string()),
            pa.field("flat_attributes", pa.string()),
            pa.field("best_tracklet_id", pa.string(), nullable=False),
            pa.field("needs_review", pa.bool_(), nullable=False),
            pa.field("adapter_id", pa.string(), nullable=False),  # of its members' vectors
            _vector(dims),
        ]
    )


def entities_schema(dims: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("entity_id", pa.string(), nullable=False),
            pa.field("entity_type", pa.string(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("watch", pa.bool_(), nullable=False),
            pa.field("first_seen", TIMESTAMP, nullable=False),
            pa.field("last_seen", TIMESTAMP, nullable=False),
            # How many days, and the newest: not the list of days, nor of daily entities. A row holding
            # its whole history grows every day it is seen, and the nightly link reads and rewrites every
            # entity it reaches, so its cost would grow with the history. ``entity_members`` and
            # ``entity_timelines`` hold one row per entity and day (``query.entity_days``).
            pa.field("n_days", pa.int64(), nullable=False),
            pa.field("last_date", pa.string(), nullable=False),
            pa.field("last_daily_entity_id", pa.string(), nullable=False),  # the newest one linked into it
            pa.field("cameras", pa.list_(pa.string()), nullable=False),
            pa.field("n_appearances", pa.int64(), nullable=False),
            pa.field("anchor_tracklet_id", pa.string(), nullable=False),
            pa.field("summary", pa.string()),
            pa.field("summary_n", pa.int64(), nullable=False),  # appearances of the daily entity it comes from
            pa.field("needs_review", pa.bool_(), nullable=False),
            pa.field("attribute_votes", pa.string(), nullable=False),  # JSON: field -> value -> summed confidence
            _vector(dims),
        ]
    )


def undo_schema(dims: int) -> pa.Schema:
    """``link_undo``: the entities the newest linked day changed, as they were before it (``created``: the
    day started it), so a re-run of that day (a late camera) undoes and relinks it instead of replaying
    every day."""
    return pa.schema(
        [*entities_schema(dims), pa.field("undo_date", pa.string(), nullable=False), pa.field("created", pa.bool_())]
    )


ENTITY_MEMBERS = pa.schema(
    [
        pa.field("tracklet_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("daily_entity_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
    ]
)

ENTITY_TIMELINES = pa.schema(
    [
        pa.field("timeline_id", pa.string(), nullable=False),  # entity_id@date
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("first_seen", TIMESTAMP, nullable=False),
        pa.field("last_seen", TIMESTAMP, nullable=False),
        pa.field("cameras", pa.list_(pa.string()), nullable=False),
        pa.field("n_appearances", pa.int64(), nullable=False),
        pa.field("tracklet_ids", pa.list_(pa.string()), nullable=False),
        pa.field("thumbnail", pa.binary(), nullable=False),
        pa.field("summary", pa.string()),
        pa.field("needs_review", pa.bool_(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("watch", pa.bool_(), nullable=False),
    ]
)

REVIEW_QUEUE = pa.schema(
    [
        pa.field("review_id", pa.string(), nullable=False),  # "<a>|<b>", a < b
        pa.field("date", pa.string(), nullable=False),  # day of the later side
        pa.field("level", pa.string(), nullable=False),  # tracklet (within a day) | daily_entity (across days)
        pa.field("a", pa.string(), nullable=False),
        pa.field("b", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("cosine", pa.float32(), nullable=False),
        pa.field("attribute_agreement", pa.float32()),
    ]
)

CORRECTIONS = pa.schema(
    [
        pa.field("correction_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # merge | not_same | split | name | watch | unwatch
        pa.field("tracklet_a", pa.string(), nullable=False),
        pa.field("tracklet_b", pa.string()),  # merge / not_same: the other side
        pa.field("tracklets", pa.list_(pa.string())),  # split: the tracklets that leave the entity
        pa.field("value", pa.string()),  # name
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("author", pa.string()),
        pa.field("note", pa.string()),
    ]
)

# What each day's daily entities were when written (by the daily step) and when linked (by the global
# step): a day whose two fingerprints differ, or that was never linked, is linked again.
DAY_FINGERPRINTS = pa.schema(
    [
        pa.field("date", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),
    ]
)

# One row (key "link"): the optimistic-concurrency state of the global linking.
LINK_STATE = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("generation", pa.int64(), nullable=False),  # +1 with every committed relink
        pa.field("writing", pa.bool_(), nullable=False),  # a relink holds the commit and is writing
        pa.field("holder", pa.string(), nullable=False),  # host:pid:token of the last claim
        pa.field("linked_through", pa.string()),  # the newest day linked
        pa.field("corrections_key", pa.string()),  # hash of the must-link / cannot-link pairs in force
        pa.field("updated_at", TIMESTAMP, nullable=False),
    ]
)

WATCH_SIGHTINGS = pa.schema(
    [
        pa.field("sighting_id", pa.string(), nullable=False),  # entity_id@date
        pa.field("date", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("first_seen", TIMESTAMP, nullable=False),
        pa.field("last_seen", TIMESTAMP, nullable=False),
        pa.field("cameras", pa.list_(pa.string()), nullable=False),
    ]
)
