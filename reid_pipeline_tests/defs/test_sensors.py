from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from reid_pipeline.defs.jobs import camera_day_job
from reid_pipeline.defs.partitions import split_camera_day
from reid_pipeline.defs.resources import StorageResource
from reid_pipeline.defs.sensors import build_footage_sensor
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, data_root: str, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"storage": StorageResource(data_root=data_root)}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_registers_cameras_and_requests_each_new_camera_day_once(
    make_settings: Callable[..., Settings], synthetic_clip: Path
) -> None:
    data_root = make_settings().storage.data_root
    raw = Path(data_root) / "raw"
    place(raw, "2024-05-01", "gate", synthetic_clip)
    place(raw, "2024-05-01", "plaza", synthetic_clip)
    place(raw, "2024-05-02", "gate", synthetic_clip)
    place(raw, "2023-06-01", "gate", synthetic_clip)  # before the first partition: ignored
    (raw / "2024-05-03" / "empty").mkdir(parents=True)  # no files yet: nothing to do
    sensor = build_footage_sensor(camera_day_job)
    instance = dg.DagsterInstance.ephemeral()

    first = evaluate(sensor, instance, data_root, None)

    keys = sorted(split_camera_day(r.partition_key) for r in first.run_requests)  # type: ignore[arg-type]
    assert keys == [("2024-05-01", "gate"), ("2024-05-01", "plaza"), ("2024-05-02", "gate")]
    (add,) = first.dynamic_partitions_requests
    assert isinstance(add, dg.AddDynamicPartitionsRequest)
    assert (add.partitions_def_name, sorted(add.partition_keys)) == ("cameras", ["gate", "plaza"])
    assert len({r.run_key for r in first.run_requests}) == 3

    instance.add_dynamic_partitions("cameras", ["gate", "plaza"])
    again = evaluate(sensor, instance, data_root, first.cursor)
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    assert json.loads(again.cursor) == json.loads(first.cursor)

    place(raw, "2024-05-01", "plaza", synthetic_clip, names=["late.mp4"])
    place(raw, "2024-05-03", "dock", synthetic_clip)
    late = evaluate(sensor, instance, data_root, again.cursor)
    keys = sorted(split_camera_day(r.partition_key) for r in late.run_requests)  # type: ignore[arg-type]
    assert keys == [("2024-05-01", "plaza"), ("2024-05-03", "dock")]
    assert not {r.run_key for r in late.run_requests} & {r.run_key for r in first.run_requests}
    (add,) = late.dynamic_partitions_requests
    assert list(add.partition_keys) == ["dock"]  # type: ignore[union-attr]


def test_a_finished_camera_day_requests_the_identity_run_of_its_day(make_settings: Callable[..., Settings]) -> None:
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.partitions import camera_day_key, cameras

    settings = make_settings(detection={"profile": "offline", "offline": True})
    (Path(settings.storage.data_root) / "raw" / "2024-05-01" / "idle").mkdir(parents=True)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, ["idle"])  # type: ignore[arg-type]
    run = defs.resolve_job_def("camera_day_job").execute_in_process(
        partition_key=camera_day_key("2024-05-01", "idle"), instance=instance
    )
    sensor = defs.resolve_sensor_def("identity_after_camera_day")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run.dagster_run,
        dagster_event=run.get_run_success_event(),
    )

    request = sensor(context)  # type: ignore[operator]

    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-05-01" and request.run_key == f"identity|{run.run_id}"
    identity = defs.resolve_job_def("identity_job").execute_in_process(partition_key="2024-05-01", instance=instance)
    assert identity.success, "a day without any appearance runs through cleanly"


def test_backfill_runs_of_camera_days_request_identity_and_identity_runs_do_not(
    make_settings: Callable[..., Settings],
) -> None:
    """UI backfills run the asset job with a one-partition range, not camera_day_job: those count too."""
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.partitions import camera_day_key

    defs = build_definitions(make_settings())
    sensor = defs.resolve_sensor_def("identity_after_camera_day")
    instance = dg.DagsterInstance.ephemeral()
    key = str(camera_day_key("2024-05-02", "gate"))
    range_tags = {"dagster/asset_partition_range_start": key, "dagster/asset_partition_range_end": key}

    def evaluate(run: dg.DagsterRun) -> dg.RunRequest | dg.SkipReason:
        event = dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name, message="done"
        )
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_instance=instance, dagster_run=run, dagster_event=event
        )
        return sensor(context)  # type: ignore[operator,no-any-return]

    backfill_run = dg.DagsterRun(
        job_name="__ASSET_JOB", tags=range_tags, asset_selection=frozenset({dg.AssetKey("detections")})
    )
    request = evaluate(backfill_run)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2024-05-02"

    identity_run = dg.DagsterRun(
        job_name="__ASSET_JOB",
        tags={"dagster/partition": "2024-05-02"},
        asset_selection=frozenset({dg.AssetKey("appearances")}),
    )
    assert isinstance(evaluate(identity_run), dg.SkipReason)
    ranged = dg.DagsterRun(
        job_name="camera_day_job",
        tags={**range_tags, "dagster/asset_partition_range_end": str(camera_day_key("2024-05-03", "gate"))},
    )
    assert isinstance(evaluate(ranged), dg.SkipReason)  # a range of several camera-days names no single day
