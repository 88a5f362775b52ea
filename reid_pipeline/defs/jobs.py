"""Jobs: the unit a schedule, a sensor, the CLI or a UI backfill launches."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.defs.assets.adaptation import site_adapter
from reid_pipeline.defs.assets.attributes import attributes
from reid_pipeline.defs.assets.crops import crops, tracklets
from reid_pipeline.defs.assets.detections import detections
from reid_pipeline.defs.assets.embeddings import embeddings
from reid_pipeline.defs.assets.footage import footage_manifest
from reid_pipeline.defs.assets.identity import appearances, daily_entities, entities, entity_timelines, watch_sightings
from reid_pipeline.defs.assets.report import daily_report
from reid_pipeline.defs.memory_hooks import RELEASE_MEMORY_HOOKS

CAMERA_DAY_ASSETS = [footage_manifest, detections, crops, tracklets, embeddings, attributes]
IDENTITY_ASSETS = [site_adapter, appearances, daily_entities, entities, entity_timelines, watch_sightings, daily_report]
DEFAULT_MAX_RETRIES = 2


def retry_tags(max_retries: int) -> dict[str, str]:
    """Run-retry tags: the daemon re-launches a failed run from the failed step (transient GPU/IO errors).

    Every write is idempotent per partition, so a retry never duplicates rows.
    """
    if max_retries == 0:
        return {}
    return {"dagster/max_retries": str(max_retries), "dagster/retry_strategy": "FROM_FAILURE"}


def _asset_job(
    name: str, assets: list[dg.AssetsDefinition], description: str, max_retries: int
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets),
        description=description,
        tags=retry_tags(max_retries),
        hooks=RELEASE_MEMORY_HOOKS,
    )


def build_camera_day_job(max_retries: int = DEFAULT_MAX_RETRIES) -> dg.UnresolvedAssetJobDefinition:
    return _asset_job(
        "camera_day_job",
        CAMERA_DAY_ASSETS,
        "Footage of one camera-day to manifest, tracked detections, crops, tracklets, appearance vectors and "
        "attributes.",
        max_retries,
    )


def build_identity_job(max_retries: int = DEFAULT_MAX_RETRIES) -> dg.UnresolvedAssetJobDefinition:
    return _asset_job(
        "identity_job",
        IDENTITY_ASSETS,
        "Site adaptation (when on), one day's appearances from every camera to daily entities, global entities (all days), timelines, "
        "watch-list sightings and the HTML report. Run after the day's camera_day_job runs.",
        max_retries,
    )


def build_relink_job() -> dg.UnresolvedAssetJobDefinition:
    """The full relink: every day replayed in date order, e.g. after a threshold or model change."""
    return dg.define_asset_job(
        "relink_job",
        selection=dg.AssetSelection.assets(entities),
        description="Relink every day's daily entities into global entities from scratch (after a change of "
        "threshold or embedding model). The nightly identity_job links only what is new.",
        config={"ops": {"entities": {"config": {"full": True}}}},
        hooks=RELEASE_MEMORY_HOOKS,
    )


camera_day_job = build_camera_day_job()
identity_job = build_identity_job()
relink_job = build_relink_job()
