"""The identity assets through Dagster on real footage, with settings that index even tiny tables, and the
relink reporting the other days it rewrites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.identity.corrections import correction
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.privacy.audit import add_correction
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place

DAYS = ["2024-05-01", "2024-05-02"]
CAMERAS = ["gate", "plaza"]


@pytest.mark.slow
def test_identity_job_indexes_tiny_tables_and_reports_the_days_it_rewrites(
    make_settings: Callable[..., Settings], vtest_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REID_IDENTITY__ANN_MIN_ROWS", "10")
    settings = make_settings(detection={"profile": "offline", "offline": True})
    assert settings.identity.ann_min_rows == 10
    for day in DAYS:
        for camera in CAMERAS:
            place(Path(settings.storage.data_root) / "raw", day, camera, vtest_clip)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, CAMERAS)  # type: ignore[arg-type]
    for day in DAYS:
        for camera in CAMERAS:
            run = defs.resolve_job_def("camera_day_job").execute_in_process(
                partition_key=camera_day_key(day, camera), instance=instance
            )
            assert run.success

    runs = [defs.resolve_job_def("identity_job").execute_in_process(partition_key=d, instance=instance) for d in DAYS]

    assert all(run.success for run in runs)
    said = {
        event.asset_key.path[-1]: str(event.materialization.metadata["vector_index"].value)
        for event in runs[-1].get_asset_materialization_events()
        if "vector_index" in event.materialization.metadata
    }
    assert set(said) == {"appearances", "daily_entities", "entities"}
    for table, state in said.items():
        assert state.startswith(("built", "none yet: ")), f"{table}: {state}"
    store = IdentityStore(str(Path(settings.storage.data_root) / "lancedb"), ann_min_rows=10)
    assert store.table("appearances").count_rows() >= 10, "enough rows to pass ann_min_rows"
    assert "IVF-PQ needs 256" in said["appearances"], "too few to train: skipped with the reason"
    assert store.table("entity_members").list_indices(), "a table without vectors got its scalar indexes"

    # A correction that changes who is who on the first day: the second day's relink rewrites the first
    # day's timelines and sightings, and says so in the catalog as materializations of those partitions.
    first_day = {m["tracklet_id"]: m["entity_id"] for m in store.rows("entity_members", f"date = '{DAYS[0]}'")}
    gate = sorted(t for t in first_day if "/gate/" in t)
    a, b = gate[0], next(t for t in gate if first_day[t] != first_day[gate[0]])
    add_correction(store, correction("merge", a, tracklet_b=b, author="test"))
    rerun = defs.resolve_job_def("identity_job").execute_in_process(partition_key=DAYS[1], instance=instance)
    assert rerun.success
    reported = {
        (event.asset_key.path[-1], event.partition)
        for event in rerun.get_asset_materialization_events()
        if event.step_key == "entities" and event.asset_key.path[-1] != "entities"
    }
    assert reported == {("entity_timelines", DAYS[0]), ("watch_sightings", DAYS[0])}
    merged = {m["tracklet_id"]: m["entity_id"] for m in store.rows("entity_members", f"date = '{DAYS[0]}'")}
    assert merged[a] == merged[b], "the merge was applied"
    timelines = store.rows("entity_timelines", f"date = '{DAYS[0]}'")
    assert merged[a] in {row["entity_id"] for row in timelines}, "the first day's timelines were rebuilt"
