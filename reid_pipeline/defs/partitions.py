"""Partitions: a day x camera grid for per-camera assets; the camera dimension grows with new footage."""

from __future__ import annotations

import warnings

import dagster as dg

from reid_pipeline.settings import load_settings

CAMERA_DIMENSION = "camera"
DATE_DIMENSION = "date"

cameras = dg.DynamicPartitionsDefinition(name="cameras")
# end_offset=1 includes today, so footage of the running day can be processed (and re-run later).
days = dg.DailyPartitionsDefinition(start_date=load_settings().footage.start_date, end_offset=1)
camera_days = dg.MultiPartitionsDefinition({DATE_DIMENSION: days, CAMERA_DIMENSION: cameras})


def camera_day_key(day: str, camera_id: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE_DIMENSION: day, CAMERA_DIMENSION: camera_id})


def split_camera_day(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(date, camera) of a camera-day partition key, whichever form it arrives in."""
    if not isinstance(key, dg.MultiPartitionKey):
        key = camera_days.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    return dims[DATE_DIMENSION], dims[CAMERA_DIMENSION]


# Heavy per-camera assets (decoding, GPU models): one run per camera-day in a backfill, so runs spread
# over workers, a failure or retry touches one camera-day only, and the GPU pool holds one model at once.
CAMERA_DAY_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
# ``backfill_policy`` is beta in Dagster 1.13; the policies here are deliberate, so its warning is noise.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
