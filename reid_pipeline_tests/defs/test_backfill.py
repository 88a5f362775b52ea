"""Backfills give the same tables as day-by-day runs, and the stage checks catch inconsistent stages."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place

DAYS = ["2024-05-01", "2024-05-02", "2024-05-03"]
COMPARED = {
    "appearances": ["tracklet_id", "date", "camera_id", "n_detections"],
    "daily_entities": ["daily_entity_id", "date", "tracklet_ids", "needs_review"],
    "entities": ["entity_id", "n_days", "last_date", "cameras", "n_appearances"],
    "entity_members": ["tracklet_id", "entity_id", "date"],
    "entity_timelines": ["entity_id", "date", "cameras", "n_appearances", "needs_review"],
}


def _tables(root: str) -> dict[str, list[tuple[object, ...]]]:
    store = IdentityStore(str(Path(root) / "lancedb"), ann_min_rows=100_000)
    found = {}
    for name, columns in COMPARED.items():
        rows = store.rows(name, columns=columns)
        found[name] = sorted(tuple(str(row[c]) for c in columns) for row in rows)
    return found


@pytest.mark.slow
def test_single_run_backfill_equals_day_by_day(
    make_settings: Callable[..., Settings], vtest_clip: Path, tmp_path: Path
) -> None:
    by_day = make_settings(detection={"profile": "offline", "offline": True}, embedding={"profile": "offline"})
    raw = Path(by_day.storage.data_root) / "raw"
    for day in DAYS:
        place(raw, day, "gate", vtest_clip)
    place(raw, DAYS[1], "plaza", vtest_clip)
    defs = build_definitions(by_day)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, ["gate", "plaza"])  # type: ignore[arg-type]
    camera_day_job = defs.resolve_job_def("camera_day_job")
    for day, camera in [(d, "gate") for d in DAYS] + [(DAYS[1], "plaza")]:
        run = camera_day_job.execute_in_process(partition_key=camera_day_key(day, camera), instance=instance)
        assert run.success
        checked = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
        assert len(checked) >= 12 and all(checked.values()), checked  # every stage checked, all passed

    # The same Parquet tables, a fresh LanceDB: the backfill side.
    ranged = by_day.model_copy(
        update={"storage": by_day.storage.model_copy(update={"data_root": str(tmp_path / "ranged")})}
    )
    shutil.copytree(Path(by_day.storage.data_root) / "parquet", tmp_path / "ranged" / "parquet")

    identity_job = defs.resolve_job_def("identity_job")
    for day in DAYS:
        assert identity_job.execute_in_process(partition_key=day, instance=instance).success
    backfill = (
        build_definitions(ranged)
        .resolve_job_def("identity_job")
        .execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]},
        )
    )
    assert backfill.success
    evaluations = backfill.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {"appearances_match_tracklets", "timelines_cover_entities"}
    assert all(e.passed for e in evaluations)
    materialized = [
        e.partition for e in backfill.get_asset_materialization_events() if e.asset_key.path == ["appearances"]
    ]
    assert sorted(p for p in materialized if p) == DAYS  # one run, every day of the range

    expected, got = _tables(by_day.storage.data_root), _tables(ranged.storage.data_root)
    assert all(expected[name] for name in COMPARED), "the footage gave identities to compare"
    assert got == expected


def test_crop_check_finds_missing_and_stray_crops(make_settings: Callable[..., Settings]) -> None:
    from reid_pipeline.defs.checks import crop_problems
    from reid_pipeline.lib.storage.parquet import ParquetStore
    from reid_pipeline.lib.storage.schemas import CROPS, DETECTIONS

    settings = make_settings()
    store = ParquetStore(settings.storage.data_root)
    part = {"date": "2024-05-01", "camera": "gate"}
    detection = {
        "date": "2024-05-01",
        "camera_id": "gate",
        "file_id": "f",
        "path": "p.mp4",
        "frame_index": 0,
        "timestamp": datetime(2024, 5, 1, 8, tzinfo=UTC),
        "bbox": [0.0, 0.0, 10.0, 20.0],
        "score": 0.9,
        "class_name": "person",
        "entity_type": "person",
        "track_id": 1,
        "tracklet_id": "2024-05-01/gate/000001",
        "backend": "hog",
        "model": "hog",
    }
    detections = [{**detection, "detection_id": f"d{i}"} for i in range(3)]
    store.write("detections", part, pa.Table.from_pylist(detections, schema=DETECTIONS))
    crop = {k: detection[k] for k in ("date", "camera_id", "tracklet_id", "entity_type", "timestamp", "score")}
    extra = {"width": 10, "height": 20, "sharpness": 1.0, "truncated": False, "quality": 1.0, "is_best": True}
    rows = [{**crop, **extra, "crop_id": c, "best_rank": 1, "jpeg": b"x"} for c in ("d0", "d1", "stray")]
    store.write("crops", part, pa.Table.from_pylist(rows, schema=CROPS))

    problems, counts = crop_problems(store, part)
    assert problems == {"missing_crops": {"d2"}, "orphan_crops": {"stray"}, "duplicated": set()}
    assert counts == {"detections": 3, "crops": 3}
