"""The production deployment on real services: the daemon's nightly tick, a backfill launched with the UI's own
mutation and run on Celery workers, pools enforced by the instance, and a run retried after a worker dies.

The tests share one deployment (``site``) and run in file order: the nightly tick comes first in time.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from reid_pipeline_tests.deployment.conftest import Site
from reid_pipeline_tests.deployment.event_log import partition_of
from reid_pipeline_tests.deployment.services import children

pytestmark = pytest.mark.deployment

CAMERA_DAY_TABLES = ("footage_manifest", "detections", "footage_outcomes", "tracklets", "crops", "embeddings")
DAILY_TABLES = {
    "appearances": ["tracklet_id", "date", "camera_id", "n_detections", "entity_type"],
    "daily_entities": ["daily_entity_id", "date", "tracklet_ids", "needs_review"],
}
ACTIVE = [
    dg.DagsterRunStatus.NOT_STARTED,  # created by a sensor or schedule, not yet in the queue
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _runs(site: Site, **tags: str) -> list[dg.DagsterRun]:
    return list(site.deployment.instance().get_runs(dg.RunsFilter(tags=tags)))  # type: ignore[attr-defined]


def _wait(check, timeout_s: float, what: str, site: Site) -> None:  # type: ignore[no-untyped-def]
    from reid_pipeline_tests.deployment.services import wait_until

    def checked() -> bool:
        site.deployment.check_alive()  # type: ignore[attr-defined]
        return bool(check())

    wait_until(checked, timeout_s, what, interval_s=2)


def _settle(site: Site, timeout_s: float = 600) -> None:
    """Until no run is queued or in progress (sensor-requested runs included)."""
    instance = site.deployment.instance()  # type: ignore[attr-defined]
    _wait(lambda: not instance.get_runs(dg.RunsFilter(statuses=ACTIVE)), timeout_s, "runs to finish", site)


def _camera_day(run: dg.DagsterRun) -> tuple[str, str]:
    from reid_pipeline.defs.partitions import split_camera_day

    return split_camera_day(partition_of(run))


def _parquet_equal(ours: Path, theirs: Path, day: str, camera: str) -> list[str]:
    from reid_pipeline.lib.storage.parquet import ParquetStore

    part = {"date": day, "camera": camera}
    a, b = ParquetStore(str(ours)), ParquetStore(str(theirs))
    return [t for t in CAMERA_DAY_TABLES if not a.read(t, part).equals(b.read(t, part))]


def _daily_rows(root: Path, day: str) -> dict[str, list[tuple[str, ...]]]:
    from reid_pipeline.lib.identity.store import IdentityStore

    store = IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    return {
        name: sorted(tuple(str(row[c]) for c in columns) for row in store.rows(name, f"date = '{day}'", columns))
        for name, columns in DAILY_TABLES.items()
    }


def test_nightly_schedule_tick_requests_yesterdays_camera_days(site: Site, reference: Path) -> None:
    """The daemon ticks the schedule at the chosen time and launches one run per camera of yesterday."""
    from reid_pipeline_tests.deployment.ui_api import schedule_ticks

    _wait(lambda: len(_runs(site, **{"dagster/schedule_name": "nightly_camera_days"})) >= 2, 600, "the tick", site)
    runs = _runs(site, **{"dagster/schedule_name": "nightly_camera_days"})
    assert sorted(_camera_day(r) for r in runs) == [(site.nightly_day, "gate"), (site.nightly_day, "plaza")]
    assert {r.tags["dagster/run_key"] for r in runs} == {f"nightly|{site.nightly_day}|{c}" for c in ("gate", "plaza")}
    assert {r.tags["reid/trigger"] for r in runs} == {"nightly_camera_days"}

    def launched() -> list[dict[str, object]]:
        ticks = schedule_ticks(site.deployment, "nightly_camera_days")  # type: ignore[arg-type]
        return [t for t in ticks if t["status"] == "SUCCESS" and t["runIds"]]

    _wait(launched, 120, "the tick to be recorded with its runs", site)
    ticks = launched()
    assert len(ticks) == 1, ticks
    assert ticks[0]["timestamp"] == site.tick.timestamp()  # the daemon ticked at the chosen time
    assert sorted(ticks[0]["runIds"]) == sorted(r.run_id for r in runs)
    identity = _identity_runs(site, [site.nightly_day], len(runs))
    finished = site.deployment.instance().get_runs(dg.RunsFilter(run_ids=[r.run_id for r in runs]))  # type: ignore[attr-defined]
    assert {r.status for r in finished} == {dg.DagsterRunStatus.SUCCESS}
    assert {r.status for r in identity} == {dg.DagsterRunStatus.SUCCESS}


def _identity_runs(site: Site, days: list[str], count: int) -> list[dg.DagsterRun]:
    """The identity runs the run-status sensor requested for ``days``, once there are ``count`` and all are done."""

    def requested() -> list[dg.DagsterRun]:
        runs = _runs(site, **{"dagster/sensor_name": "identity_after_camera_day"})
        return [r for r in runs if r.tags.get("dagster/partition") in days]

    # The sensor looks every 30 s: wait for its requests, then for the runs they made.
    _wait(lambda: len(requested()) >= count, 600, f"{count} identity runs of {days}", site)
    _settle(site)
    return requested()


def test_backfill_launched_like_the_ui(site: Site, reference: Path) -> None:
    """2 days x 2 cameras through the webserver; the daemon launches the runs, Celery workers run the steps."""
    from reid_pipeline.defs.partitions import camera_day_key
    from reid_pipeline_tests.deployment.event_log import run_overlaps, step_spans
    from reid_pipeline_tests.deployment.footage import BACKFILL_DAYS, CAMERAS
    from reid_pipeline_tests.deployment.ui_api import job_assets, launch_backfill

    deployment = site.deployment
    instance = deployment.instance()  # type: ignore[attr-defined]
    _settle(site)
    partitions = [str(camera_day_key(d, c)) for d in BACKFILL_DAYS for c in CAMERAS]
    started = time.monotonic()
    backfill_id = launch_backfill(deployment, job_assets(deployment, "camera_day_job"), partitions)  # type: ignore[arg-type]
    _wait(lambda: instance.get_backfill(backfill_id).status.value != "REQUESTED", 900, "backfill", site)
    wall_s = time.monotonic() - started
    runs = _runs(site, **{"dagster/backfill": backfill_id})
    spans = step_spans(instance, [r.run_id for r in runs])
    first, last = min(s.start for s in spans), max(s.end for s in spans)
    print(
        f"\nbackfill of {len(partitions)} camera-days with {len(deployment.workers)} Celery workers: "  # type: ignore[attr-defined]
        f"{wall_s:.0f} s from the mutation to the backfill's end, {last - first:.0f} s from first step to last"
    )
    assert instance.get_backfill(backfill_id).status.value == "COMPLETED_SUCCESS"
    assert sorted(partition_of(r) for r in runs) == sorted(partitions)  # one run per camera-day
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert run_overlaps(runs, instance) >= 1  # runs were in progress together, so the pool had work to hold back

    # Every step ran in a Celery worker's process, not in the run's own process.
    worker_pids = _worker_process_ids(deployment)
    assert {s.pid for s in spans} <= worker_pids, ({s.pid for s in spans}, worker_pids)

    # Identity runs come from the run-status sensor, one per finished camera-day run.
    identity = _identity_runs(site, list(BACKFILL_DAYS), len(partitions))
    assert len(identity) == len(partitions)
    assert {r.tags["reid/trigger"] for r in identity} == {"identity_after_camera_day"}
    assert sorted(r.tags["dagster/partition"] for r in identity) == sorted(d for d in BACKFILL_DAYS for _ in CAMERAS)
    assert {r.status for r in identity} == {dg.DagsterRunStatus.SUCCESS}

    # The tables equal the plain in-process run's.
    for day in BACKFILL_DAYS:
        for camera in CAMERAS:
            assert _parquet_equal(site.data_root, reference, day, camera) == [], (day, camera)
        got, expected = _daily_rows(site.data_root, day), _daily_rows(reference, day)
        assert all(expected.values()) and got == expected, day

    # The pools held: never two steps of one pool at once, across every run so far.
    _assert_pools_held(site)


def _assert_pools_held(site: Site) -> None:
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.lib.deployment import POOLS
    from reid_pipeline.settings import load_settings
    from reid_pipeline_tests.deployment.event_log import overlaps, step_spans

    instance = site.deployment.instance()  # type: ignore[attr-defined]
    for pool, limit in POOLS.items():
        assert instance.event_log_storage.get_concurrency_info(pool).slot_count == limit
    defs = build_definitions(load_settings())
    pool_of = {a.node_def.name: a.node_def.pool for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)}
    assert {p for p in pool_of.values() if p} == set(POOLS)
    spans = step_spans(instance, [r.run_id for r in instance.get_runs()])
    for pool in POOLS:
        in_pool = [s for s in spans if pool_of.get(s.step_key) == pool]
        assert in_pool, pool
        assert overlaps(in_pool) == [], pool


def _worker_process_ids(deployment: object) -> set[int]:
    """The Celery workers' pool processes (children of each worker's main process)."""
    return {pid for w in deployment.workers for pid in children(w.process.pid)}  # type: ignore[attr-defined]


def test_worker_killed_mid_run_is_retried(site: Site, reference: Path) -> None:
    """SIGKILL the worker process running a step, then that whole worker: the run fails, the daemon retries it
    from the failure on the other worker, and the tables come out complete and unduplicated."""
    from reid_pipeline.defs.partitions import camera_day_key
    from reid_pipeline.lib.storage.parquet import ParquetStore
    from reid_pipeline_tests.deployment.footage import RETRY_DAY
    from reid_pipeline_tests.deployment.ui_api import job_assets, launch_backfill

    deployment = site.deployment
    instance = deployment.instance()  # type: ignore[attr-defined]
    _settle(site)
    started = time.monotonic()
    partition = str(camera_day_key(RETRY_DAY, "gate"))
    backfill_id = launch_backfill(deployment, job_assets(deployment, "camera_day_job"), [partition])  # type: ignore[arg-type]

    def detection_started() -> list[dg.EventLogEntry]:
        runs = _runs(site, **{"dagster/backfill": backfill_id})
        return [
            r
            for run in runs
            for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            if r.step_key == "detections"
        ]

    _wait(detection_started, 600, "the detections step to start", site)
    step = detection_started()[0]
    pid = step.dagster_event.pid if step.dagster_event else None
    assert pid is not None
    worker = next(w for w in deployment.workers if pid in children(w.process.pid))  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)  # the process running the step dies, as under the OOM killer
    failed_run = step.run_id
    _wait(
        lambda: instance.get_run_by_id(failed_run).status == dg.DagsterRunStatus.FAILURE, 300, "the run to fail", site
    )
    os.killpg(worker.process.pid, signal.SIGKILL)  # then the rest of that worker
    worker.process.wait(timeout=30)
    worker.stop()  # closes its log
    deployment.workers.remove(worker)  # type: ignore[attr-defined]

    _wait(lambda: _runs(site, **{"dagster/parent_run_id": failed_run}), 300, "the retry run", site)
    retry = _runs(site, **{"dagster/parent_run_id": failed_run})[0]
    _wait(lambda: instance.get_run_by_id(retry.run_id).status == dg.DagsterRunStatus.SUCCESS, 600, "the retry", site)
    _wait(lambda: instance.get_backfill(backfill_id).status.value != "REQUESTED", 300, "backfill", site)
    print(
        f"\nworker killed mid-step; retry run {retry.run_id[:8]} succeeded {time.monotonic() - started:.0f} s after launch"
    )
    assert retry.tags["dagster/retry_number"] == "1"
    assert partition_of(retry) == partition
    # From the failure: the manifest step that had succeeded was not run again.
    restarted = {r.step_key for r in instance.all_logs(retry.run_id, of_type=dg.DagsterEventType.STEP_START)}
    assert "detections" in restarted and "footage_manifest" not in restarted

    assert _parquet_equal(site.data_root, reference, RETRY_DAY, "gate") == []
    detections = ParquetStore(str(site.data_root)).read("detections", {"date": RETRY_DAY, "camera": "gate"})
    ids = detections.column("detection_id").to_pylist()
    assert ids and len(ids) == len(set(ids))
    _settle(site)
    # The killed step never reported its end: the monitoring daemon gave its gpu slot back after the run ended.
    assert instance.event_log_storage.get_concurrency_info("gpu").claimed_slots == []
    _assert_pools_held(site)
