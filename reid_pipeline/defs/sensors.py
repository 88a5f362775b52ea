"""Sensors: new footage starts camera-day runs; finished camera-days start that day's identity run."""

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from reid_pipeline.defs.partitions import camera_day_key, cameras, days, split_camera_day, unregistered_cameras
from reid_pipeline.defs.resources import StorageResource
from reid_pipeline.lib.footage.files import camera_day_dir, file_fingerprint, list_camera_days


def build_footage_sensor(
    job: dg.JobDefinition | Any, interval_s: int = 60, day_partitions: dg.PartitionsDefinition = days
) -> dg.SensorDefinition:
    """A sensor that registers new cameras and requests ``job`` for every camera-day whose files changed.

    Footage of a day outside ``day_partitions`` (before the start date, in the future) is skipped.

    The cursor maps each camera-day to a fingerprint of its files (names, sizes, mtimes). A run is
    requested only when a fingerprint is new; the run key carries the fingerprint, so a sensor tick
    repeated after a crash never requests the same work twice, while late footage (a changed
    fingerprint) is picked up and the partition re-run.
    """

    @dg.sensor(
        name="footage_sensor",
        job=job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def footage_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
        """Registers new cameras and requests runs for new or changed camera-days of raw footage."""
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        valid_days = set(day_partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        found: set[str] = set()
        requests = []
        for day, camera_ids in list_camera_days(storage.raw_folder).items():
            if day not in valid_days:
                context.log.warning(f"{storage.raw_folder / day}: date outside the partitioned range; skipped")
                continue
            for camera in camera_ids:
                fingerprint = file_fingerprint(camera_day_dir(storage.raw_folder, day, camera))
                slot = f"{day}|{camera}"
                if seen.get(slot) == fingerprint:
                    continue
                seen[slot] = fingerprint
                found.add(camera)
                requests.append(
                    dg.RunRequest(
                        run_key=f"{slot}|{fingerprint}",
                        partition_key=camera_day_key(day, camera),
                        tags={"reid/trigger": "footage_sensor"},
                    )
                )
        new_cameras = unregistered_cameras(context.instance, sorted(found))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[cameras.build_add_request(new_cameras)] if new_cameras else [],
            cursor=json.dumps(seen, sort_keys=True),
        )

    return footage_sensor


def build_identity_sensor(
    camera_day_job: Any, identity_job: Any, camera_day_assets: Iterable[dg.AssetKey] = ()
) -> dg.SensorDefinition:
    """After each successful camera-day run, request ``identity_job`` for that day.

    A camera-day run is a run of ``camera_day_job`` or, as a UI backfill launches them, a run of the
    code location's asset job whose selection holds ``camera_day_assets``; a backfill run names its one
    partition in its range tags (the camera-day assets take one partition per run). Several cameras of
    one day finishing give several identity runs of that day: each one is idempotent (it replaces the
    day's rows) and the last one sees every camera.
    """
    camera_day_keys = frozenset(camera_day_assets)

    @dg.run_status_sensor(
        name="identity_after_camera_day",
        run_status=dg.DagsterRunStatus.SUCCESS,
        # No monitored_jobs: every job of this code location, so backfill runs (the asset job) are seen too.
        request_job=identity_job,
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def identity_after_camera_day(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        """Matches a day's identities again once one of its camera-days has been (re)processed."""
        run = context.dagster_run
        if run.job_name != camera_day_job.name and not (run.asset_selection or set()) & camera_day_keys:
            return dg.SkipReason(f"run {run.run_id} of {run.job_name} processed no camera-day")
        key = run.tags.get("dagster/partition") or _single_partition(run.tags)
        if not key:
            return dg.SkipReason(f"run {run.run_id} has no single camera-day partition")
        day, _camera = split_camera_day(key)
        return dg.RunRequest(
            run_key=f"identity|{run.run_id}",
            partition_key=day,
            tags={"reid/trigger": "identity_after_camera_day"},
        )

    return identity_after_camera_day


def _single_partition(tags: Mapping[str, str]) -> str | None:
    """The partition of a run launched for a range of one partition (as backfills launch them)."""
    start = tags.get("dagster/asset_partition_range_start")
    return start if start and start == tags.get("dagster/asset_partition_range_end") else None
