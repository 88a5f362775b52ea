"""Run camera-day partitions through Dagster from Python: what ``reid-pipeline run`` and the demo use.

It registers the cameras as dynamic partitions and executes ``camera_day_job`` for each camera-day
on a persistent Dagster instance (``$DAGSTER_HOME``, else ``<data_root>/dagster_home``), so the runs
and materializations appear in the Dagster UI exactly like scheduled, sensor or backfill runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from reid_pipeline.defs.partitions import camera_day_key, register_cameras
from reid_pipeline.lib.footage.files import camera_day_dir, footage_files, list_camera_days
from reid_pipeline.lib.storage.parquet import local_folder, raw_footage_root
from reid_pipeline.settings import Settings

IDENTITY_RUN = "(all cameras)"  # camera_id of the record of a day's identity_job run


@dataclass(frozen=True)
class CameraDayRun:
    day: str
    camera_id: str
    run_id: str
    success: bool
    error: str | None = None


def dagster_instance(data_root: str, local_dir: str = "") -> dg.DagsterInstance:
    """The persistent instance: ``$DAGSTER_HOME`` when set, else ``<local folder>/dagster_home``."""
    if not os.environ.get("DAGSTER_HOME"):
        home = (local_folder(data_root, local_dir) / "dagster_home").resolve()
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():  # a fresh instance: no telemetry (the pipeline runs offline too), run retries on
            config.write_text("telemetry:\n  enabled: false\nrun_retries:\n  enabled: true\n")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def cameras_for_day(raw_root: Path, day: str, requested: list[str] | None) -> list[str]:
    """Cameras with footage on ``day``; requested ones that have none are an error naming the folder."""
    available = list_camera_days(raw_root).get(day, [])
    if requested:
        missing = [cam for cam in requested if not footage_files(camera_day_dir(raw_root, day, cam))]
        if missing:
            folders = ", ".join(str(camera_day_dir(raw_root, day, cam)) for cam in missing)
            raise FileNotFoundError(
                f"no footage files in {folders}: put videos or stills there, or pick another camera"
            )
        return requested
    if not available:
        raise FileNotFoundError(
            f"no footage for {day} under {raw_root / day}: expected {raw_root}/{day}/<camera_id>/ holding videos "
            "or stills (any format PyAV or Pillow decodes)"
        )
    return available


def run_camera_days(
    defs: dg.Definitions,
    settings: Settings,
    day: str,
    camera_ids: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    log: Callable[[str], None] = print,
) -> list[CameraDayRun]:
    """Materialize every camera-day of ``day`` (or of ``camera_ids``) through ``camera_day_job``."""
    raw_root = raw_footage_root(settings.storage.data_root, settings.storage.raw_root)
    chosen = cameras_for_day(raw_root, day, camera_ids)
    instance = instance or dagster_instance(settings.storage.data_root, settings.storage.local_dir)
    register_cameras(instance, chosen)
    job = defs.resolve_job_def("camera_day_job")
    runs = []
    for camera in chosen:
        log(f"{day} {camera}: running camera_day_job")
        runs.append(CameraDayRun(day, camera, *_execute(job, camera_day_key(day, camera), instance)))
    return runs


def run_identity_day(
    defs: dg.Definitions,
    settings: Settings,
    day: str,
    log: Callable[[str], None] = print,
    instance: dg.DagsterInstance | None = None,
) -> CameraDayRun:
    """Materialize ``identity_job`` for ``day``: appearances of all its cameras up to timelines."""
    instance = instance or dagster_instance(settings.storage.data_root, settings.storage.local_dir)
    log(f"{day}: running identity_job")
    return CameraDayRun(day, IDENTITY_RUN, *_execute(defs.resolve_job_def("identity_job"), day, instance))


def run_demo_days(settings: Settings, source: Path, log: Callable[[str], None] = print) -> list[CameraDayRun]:
    """Lay out the demo footage under the data root and run both demo days end to end."""
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.lib.footage.demo import DEMO_DAYS, make_demo_footage

    raw_root = raw_footage_root(settings.storage.data_root, settings.storage.raw_root)
    clips = make_demo_footage(raw_root, source)
    log(f"demo footage: {len(clips)} files from {source} under {raw_root}")
    defs = build_definitions(settings)
    runs = []
    for day in DEMO_DAYS:
        runs.extend(run_camera_days(defs, settings, day, log=log))
        runs.append(run_identity_day(defs, settings, day, log=log))
    return runs


def _execute(
    job: dg.JobDefinition, partition_key: str | dg.MultiPartitionKey, instance: dg.DagsterInstance
) -> tuple[str, bool, str | None]:
    result = job.execute_in_process(
        partition_key=partition_key,
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={"reid/trigger": "cli"},
    )
    error = None
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        error = failures[-1] if failures else "run failed"
    return result.run_id, result.success, error
