"""Per-step wall times and rows out of a finished run, read from the Dagster event log.

What the Dagster UI shows as a run's step timeline, as data: each step's start and end (wall-clock
seconds, the event log's own times) and the rows of every asset it materialized.
"""

from __future__ import annotations

import dagster as dg

from reid_pipeline.lib.bench.pipeline import StepSpan

# The metadata entry that counts an asset's output rows: the Parquet IO manager writes ``rows``; the
# LanceDB assets name what they count.
ROWS_KEY = {
    "site_adapter": "crops",  # the crop vectors it learned from
    "appearances": "appearances",
    "daily_entities": "daily_entities",
    "entities": "entities",
    "entity_timelines": "entities",
    "watch_sightings": "sightings",
    "daily_report": "entities",
}


def _rows_of(materialization: dg.AssetMaterialization) -> int | None:
    name = materialization.asset_key.to_user_string()
    value = materialization.metadata.get(ROWS_KEY.get(name, "rows"))
    raw = getattr(value, "value", value)
    return int(raw) if isinstance(raw, int | float) else None


def step_spans(instance: dg.DagsterInstance, run_id: str) -> list[StepSpan]:
    """The run's steps in the order they started; a step that never ended ends at its last event."""
    spans: dict[str, StepSpan] = {}
    checked: set[str] = set()
    materialized: set[str] = set()  # an asset may run its checks in its own step: that step is the asset's
    for entry in instance.all_logs(run_id):
        event, key = entry.dagster_event, entry.step_key
        if event is None or key is None:
            continue
        span = spans.setdefault(key, StepSpan(key, entry.timestamp, entry.timestamp, False))
        span.end = max(span.end, entry.timestamp)
        if event.event_type == dg.DagsterEventType.STEP_START:
            span.start = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            span.success = True
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            checked.add(key)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized.add(key)
            materialization = event.step_materialization_data.materialization
            rows = _rows_of(materialization)
            if rows is not None:
                span.rows[materialization.asset_key.to_user_string()] = rows
    for key in checked - materialized:
        spans[key].check = True
    return sorted(spans.values(), key=lambda s: s.start)
