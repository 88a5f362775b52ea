"""Jobs: the unit a schedule, a sensor, the CLI or a UI backfill launches."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.defs.assets.attributes import attributes
from reid_pipeline.defs.assets.crops import crops, tracklets
from reid_pipeline.defs.assets.detections import detections
from reid_pipeline.defs.assets.embeddings import embeddings
from reid_pipeline.defs.assets.footage import footage_manifest
from reid_pipeline.defs.assets.identity import appearances, daily_entities, entities, entity_timelines, watch_sightings

CAMERA_DAY_ASSETS = [footage_manifest, detections, crops, tracklets, embeddings, attributes]

camera_day_job = dg.define_asset_job(
    "camera_day_job",
    selection=dg.AssetSelection.assets(*CAMERA_DAY_ASSETS),
    description="Footage of one camera-day to manifest, tracked detections, crops, tracklets, appearance vectors "
    "and attributes.",
)

IDENTITY_ASSETS = [appearances, daily_entities, entities, entity_timelines, watch_sightings]

identity_job = dg.define_asset_job(
    "identity_job",
    selection=dg.AssetSelection.assets(*IDENTITY_ASSETS),
    description="One day's appearances from every camera to daily entities, global entities (all days), "
    "timelines and watch-list sightings. Run after the day's camera_day_job runs.",
)
