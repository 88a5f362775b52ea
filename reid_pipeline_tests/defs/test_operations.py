"""The nightly schedule and the retention job, run through Dagster on real stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.operations import retention_job, yesterday
from reid_pipeline.defs.partitions import camera_day_key
from reid_pipeline.defs.resources import IdentityResource, RetentionResource, StorageResource
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place

DAYS = ["2024-04-01", "2024-04-20", "2024-04-21", "2024-05-01"]
ROWS = pa.schema(
    [pa.field(name, pa.string()) for name in ("date", "camera_id", "entity_type", "tracklet_id", "entity_id")]
)


def test_yesterday_follows_the_configured_zone() -> None:
    moment = datetime(2024, 5, 2, 1, 0, tzinfo=UTC)
    assert yesterday(moment, "UTC") == "2024-05-01"
    assert yesterday(moment, "America/New_York") == "2024-04-30"  # still 1 May, 21:00, there


def test_nightly_schedule_requests_every_camera_of_yesterday(
    make_settings: Callable[..., Settings], synthetic_clip: Path
) -> None:
    settings = make_settings(operations={"nightly_time": "02:30"})
    data_root = settings.storage.data_root
    raw = Path(data_root) / "raw"
    place(raw, "2024-05-01", "gate", synthetic_clip)
    place(raw, "2024-05-01", "plaza", synthetic_clip)
    place(raw, "2024-05-02", "gate", synthetic_clip)  # today: not yet
    repository = build_definitions(settings).get_repository_def()
    schedule = repository.get_schedule_def("nightly_camera_days")
    assert schedule.cron_schedule == "30 2 * * *"
    # Schedules need an instance they can reach by reference: a persistent one in the test's folder.
    home = Path(data_root).parent / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(tempdir=str(home))
    _evaluate_nightly(schedule, instance, repository, data_root)


def _evaluate_nightly(
    schedule: dg.ScheduleDefinition, instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, data_root: str
) -> None:
    resources = {"storage": StorageResource(data_root=data_root)}
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2024, 5, 2, 2, 30, tzinfo=UTC),
        resources=resources,
        repository_def=repository,
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None
    assert sorted(str(r.partition_key) for r in requests) == [
        str(camera_day_key("2024-05-01", "gate")),
        str(camera_day_key("2024-05-01", "plaza")),
    ]
    assert {r.run_key for r in requests} == {"nightly|2024-05-01|gate", "nightly|2024-05-01|plaza"}
    assert set(instance.get_dynamic_partitions("cameras")) == {"gate", "plaza"}

    quiet = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2024, 6, 9, 2, 30, tzinfo=UTC),
        resources=resources,
        repository_def=repository,
    )
    assert "no footage for 2024-06-08" in str(schedule.evaluate_tick(quiet).skip_message)


def _stores(root: Path) -> tuple[ParquetStore, IdentityStore]:
    parquet, lance = ParquetStore(str(root)), IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    for day in DAYS:
        for camera, count in (("gate", 3), ("plaza", 2)):
            table = pa.table({"date": [day] * count, "tracklet_id": [f"t{i}" for i in range(count)]})
            for asset in ("crops", "embeddings", "tracklets"):
                parquet.write(asset, {"date": day, "camera": camera}, table)
        rows = [{"date": day, "camera_id": "gate", "tracklet_id": f"{day}/{i}", "entity_id": f"E{i}"} for i in range(4)]
        for name in ("appearances", "entity_timelines"):
            lance.write_day(name, ROWS, "date", day, rows)
    return parquet, lance


def _run(root: Path, today: str, dry_run: bool = False) -> dg.ExecuteInProcessResult:
    resources = {
        "storage": StorageResource(data_root=str(root)),
        "identity": IdentityResource(**Settings().identity.model_dump()),
        "run_memory": dg.InMemoryIOManager(),
        "retention": RetentionResource(
            parquet_days={"crops": 11, "embeddings": 30}, lancedb_days={"appearances": 11}, version_grace_s=0
        ),
    }
    return retention_job.execute_in_process(
        resources=resources,
        run_config={"ops": {"apply_retention": {"config": {"today": today, "dry_run": dry_run}}}},
    )


def test_retention_deletes_exactly_the_old_partitions_and_reports_them(tmp_path: Path) -> None:
    parquet, lance = _stores(tmp_path)
    young = {day: parquet.read("crops", {"date": day, "camera": "gate"}) for day in DAYS[1:]}

    dry = _run(tmp_path, "2024-05-01", dry_run=True)
    assert dry.success and len(dry.output_for_node("apply_retention")) == 8
    assert parquet.cameras("crops", "2024-04-01") == ["gate", "plaza"]  # a dry run deletes nothing

    result = _run(tmp_path, "2024-05-01")
    assert result.success
    report = result.output_for_node("apply_retention")
    # crops keep 11 days (2024-04-21 .. 2024-05-01): 04-01 and 04-20 go, both cameras; embeddings keep
    # 30 days: 04-01 goes; appearances keep 11 days: 04-01 and 04-20 go.
    assert sorted((r["store"], r["table"], r["date"], r["camera"], r["rows"]) for r in report) == [
        ("lancedb", "appearances", "2024-04-01", None, 4),
        ("lancedb", "appearances", "2024-04-20", None, 4),
        ("parquet", "crops", "2024-04-01", "gate", 3),
        ("parquet", "crops", "2024-04-01", "plaza", 2),
        ("parquet", "crops", "2024-04-20", "gate", 3),
        ("parquet", "crops", "2024-04-20", "plaza", 2),
        ("parquet", "embeddings", "2024-04-01", "gate", 3),
        ("parquet", "embeddings", "2024-04-01", "plaza", 2),
    ]
    assert not (tmp_path / "parquet" / "crops" / "date=2024-04-01").exists()
    assert parquet.read("crops", {"date": "2024-04-21", "camera": "gate"}).equals(young["2024-04-21"])
    assert parquet.read("crops", {"date": "2024-05-01", "camera": "gate"}).equals(young["2024-05-01"])
    assert parquet.cameras("embeddings", "2024-04-20") == ["gate", "plaza"]
    assert parquet.cameras("tracklets", "2024-04-01") == ["gate", "plaza"]  # not in the policy
    assert sorted({r["date"] for r in lance.rows("appearances")}) == ["2024-04-21", "2024-05-01"]
    assert len(lance.rows("entity_timelines")) == 16  # timelines are kept
    # Compaction rewrote the data files: the deleted rows are gone from disk, not only hidden.
    versions = lance.table("appearances").list_versions()
    latest = versions[-1]["metadata"]
    assert latest["total_data_file_rows"] == "8" and latest["total_deletion_file_rows"] == "0"
    assert len(versions) <= 2  # with no grace, the versions that still held the deleted rows are cleaned up

    audit = lance.rows("privacy_audit")
    assert [(a["action"], a["subject"]) for a in audit] == [("retention", "data older than its limit on 2024-05-01")]
    assert json.loads(audit[0]["counts"]) == {
        "lancedb.appearances.rows": 8,
        "parquet.crops.rows": 10,
        "parquet.embeddings.rows": 5,
    }
    assert audit[0]["author"].startswith("run ") and "parquet_days.crops=11" in audit[0]["reason"]

    again = _run(tmp_path, "2024-05-01")
    assert again.output_for_node("apply_retention") == []  # nothing left to delete
    assert len(lance.rows("privacy_audit")) == 1, "a run that deletes nothing adds no audit row"


def test_retention_refuses_a_zero_day_policy(tmp_path: Path) -> None:
    from reid_pipeline.lib.privacy.retention import cutoff

    with pytest.raises(ValueError, match="at least 1"):
        cutoff(datetime(2024, 5, 1).date(), 0)


def test_retention_runs_with_the_code_locations_resources(make_settings: Callable[..., Settings]) -> None:
    """As the schedule launches it: with every resource of the definitions (the Parquet IO manager included)."""
    settings = make_settings()
    _stores(Path(settings.storage.data_root))
    job = build_definitions(settings).resolve_job_def("retention_job")

    result = job.execute_in_process(run_config={"ops": {"apply_retention": {"config": {"today": "2024-05-01"}}}})

    assert result.success
    assert {(r["table"], r["date"]) for r in result.output_for_node("apply_retention")} >= {("crops", "2024-04-01")}
