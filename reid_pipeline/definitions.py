"""The Dagster code location: wires assets, resources, jobs and sensors together. Nothing else."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.defs.checks import CHECKS
from reid_pipeline.defs.execution import build_executor
from reid_pipeline.defs.io_manager import ParquetIOManager
from reid_pipeline.defs.jobs import (
    CAMERA_DAY_ASSETS,
    IDENTITY_ASSETS,
    build_camera_day_job,
    build_identity_job,
    build_relink_job,
)
from reid_pipeline.defs.operations import build_nightly_schedule, build_retention_schedule, retention_job
from reid_pipeline.defs.partitions import Calendar
from reid_pipeline.defs.privacy import forget_job
from reid_pipeline.defs.resources import (
    CropResource,
    DescriberResource,
    DetectorResource,
    EmbedderResource,
    FootageResource,
    IdentityResource,
    RetentionResource,
    StorageResource,
)
from reid_pipeline.defs.sensors import build_footage_sensor, build_identity_sensor
from reid_pipeline.lib.runtime.memory import share_one_heap
from reid_pipeline.settings import Settings, load_settings


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources filled from ``settings`` (the single source of every default).

    Each resource is its settings section, field for field, under the section's name; where an asset has
    that name (``crops``, ``attributes``), the key is ``<section>_settings``, since Dagster passes assets
    and resources to a function by parameter name.
    """
    return {
        "io_manager": ParquetIOManager(data_root=settings.storage.data_root),
        "run_memory": dg.InMemoryIOManager(),  # op results that are summaries, not tables
        "storage": StorageResource(**settings.storage.model_dump()),
        "footage": FootageResource(**settings.footage.model_dump()),
        "detection": DetectorResource(
            **{**settings.detection.model_dump(), "entity_types": list(settings.detection.entity_types)}
        ),
        "crops_settings": CropResource(**settings.crops.model_dump()),
        "embedding": EmbedderResource(**settings.embedding.model_dump()),
        "attributes_settings": DescriberResource(**settings.attributes.model_dump()),
        "identity": IdentityResource(**settings.identity.model_dump()),
        "retention": RetentionResource(**settings.retention.model_dump()),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    share_one_heap()  # every process that runs steps builds these first, before its threads start
    ops = settings.operations
    calendar = Calendar.starting(settings.footage.start_date)
    camera_day_job = build_camera_day_job(ops.max_retries)
    identity_job = build_identity_job(ops.max_retries)
    return dg.Definitions(
        assets=calendar.place([*CAMERA_DAY_ASSETS, *IDENTITY_ASSETS]),
        asset_checks=calendar.place(CHECKS),
        jobs=[camera_day_job, identity_job, build_relink_job(), retention_job, forget_job],
        sensors=[
            build_footage_sensor(camera_day_job, day_partitions=calendar.days),
            build_identity_sensor(camera_day_job, identity_job, [k for a in CAMERA_DAY_ASSETS for k in a.keys]),
        ],
        schedules=[build_nightly_schedule(camera_day_job, ops), build_retention_schedule(ops)],
        resources=build_resources(settings),
        executor=build_executor(ops),
    )


defs = build_definitions(load_settings())
