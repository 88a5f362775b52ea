"""Faults: a run killed with SIGKILL and run again, and a camera whose footage arrives after its day ran."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.launch import run_camera_days, run_identity_day
from reid_pipeline.defs.resources import StorageResource
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place

DAY = "2024-05-01"
TABLES = {"detections": "detection_id", "crops": "crop_id", "tracklets": "tracklet_id", "embeddings": "embedding_id"}


def snapshot(root: Path) -> dict[str, list[str]]:
    """Every id of every table, sorted: equal snapshots mean no lost and no duplicated rows."""
    parquet = ParquetStore(str(root))
    found: dict[str, list[str]] = {}
    for asset, column in TABLES.items():
        ids = []
        for camera in parquet.cameras(asset, DAY):
            ids += [
                str(v)
                for v in parquet.read(asset, {"date": DAY, "camera": camera}, columns=[column])[column].to_pylist()
            ]
        found[asset] = sorted(ids)
    store = IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    for name, column in (
        ("appearances", "tracklet_id"),
        ("entity_members", "tracklet_id"),
        ("entity_timelines", "timeline_id"),
    ):
        found[name] = sorted(str(r[column]) for r in store.rows(name, columns=[column]))
    return found


def run_cli(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "reid_pipeline.cli",
        "run",
        "--date",
        DAY,
        "--data-root",
        str(root),
        "--profile",
        "offline",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_a_run_killed_midway_and_run_again_leaves_consistent_tables(vtest_clip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "REID_EMBEDDING__OFFLINE": "true", "REID_DETECTION__OFFLINE": "true"}
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for root in (clean, killed):
        place(root / "raw", DAY, "gate", vtest_clip)
        place(root / "raw", DAY, "plaza", vtest_clip)

    reference = run_cli(clean, {**env, "DAGSTER_HOME": ""})
    assert reference.wait(timeout=300) == 0

    victim = run_cli(killed, {**env, "DAGSTER_HOME": ""})
    # Kill it as soon as the first camera's detections are on disk: later stages are mid-flight.
    marker = killed / "parquet" / "detections" / f"date={DAY}"
    deadline = time.monotonic() + 240
    # A finished Parquet file, not just its folder: a folder appears a moment before its file is written.
    while not any(marker.rglob("*.parquet")) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    partial = snapshot(killed)
    assert partial["detections"] and not partial["entity_timelines"]  # it really stopped midway

    again = run_cli(killed, {**env, "DAGSTER_HOME": ""})
    assert again.wait(timeout=300) == 0
    assert snapshot(killed) == snapshot(clean)


@pytest.mark.slow
def test_late_camera_footage_is_picked_up_by_the_sensor_and_merged(
    make_settings: Callable[..., Settings], vtest_clip: Path
) -> None:
    from reid_pipeline.defs.partitions import camera_day_key

    settings = make_settings(detection={"profile": "offline", "offline": True})
    root = Path(settings.storage.data_root)
    place(root / "raw", DAY, "gate", vtest_clip)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    assert all(r.success for r in run_camera_days(defs, settings, DAY, instance=instance, log=lambda _m: None))
    assert run_identity_day(defs, settings, DAY, log=lambda _m: None).success
    before = snapshot(root)

    sensor = defs.resolve_sensor_def("footage_sensor")
    resources = {"storage": StorageResource(data_root=str(root))}
    first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert isinstance(first, dg.SensorResult)
    place(root / "raw", DAY, "plaza", vtest_clip)  # the late camera
    late = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
    assert isinstance(late, dg.SensorResult)
    (request,) = late.run_requests
    assert request.partition_key == camera_day_key(DAY, "plaza")
    instance.add_dynamic_partitions("cameras", ["plaza"])
    job = defs.resolve_job_def("camera_day_job")
    run = job.execute_in_process(partition_key=request.partition_key, instance=instance)
    assert run.success
    identity = defs.resolve_job_def("identity_job").execute_in_process(partition_key=DAY, instance=instance)
    assert identity.success and all(e.passed for e in identity.get_asset_check_evaluations())

    after = snapshot(root)
    for table in TABLES:  # the gate camera's rows are all still there, the plaza's added, nothing twice
        assert set(before[table]) < set(after[table]), table
        assert len(set(after[table])) == len(after[table]), f"{table} has duplicated ids"
    store = IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    cameras = {r["camera_id"] for r in store.rows("appearances", columns=["camera_id"])}
    assert cameras == {"gate", "plaza"}
    members = store.rows("entity_members", columns=["tracklet_id"])
    assert len(members) == len(after["appearances"])  # every appearance of both cameras belongs to an entity
