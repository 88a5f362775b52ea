"""One deployment for every deployment test: services up, footage in place, the identity sensor and the nightly
schedule switched on (as an operator does after installing), then stopped after the last test.

Skipped, saying what is missing, where Postgres, Redis, Chromium or the Python packages are not installed;
``REID_DEPLOYMENT_REQUIRED=1`` (set by CI's test command) turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reid_pipeline_tests.deployment.services import missing_tools

# The nightly tick is chosen this far ahead of bring-up, so the schedule is on before it comes.
TICK_LEAD_S = 100


@dataclass(frozen=True)
class Site:
    deployment: object  # cluster.Deployment (imported lazily: it needs the optional packages)
    data_root: Path
    tick: datetime
    nightly_day: str


def _require_tools() -> None:
    missing = missing_tools()
    if not missing:
        return
    reason = "deployment tests need " + "; ".join(missing)
    if os.environ.get("REID_DEPLOYMENT_REQUIRED") == "1":
        pytest.fail(reason + " (REID_DEPLOYMENT_REQUIRED=1)")
    pytest.skip(reason)


def next_tick(now: datetime, lead_s: int) -> datetime:
    """The first whole minute at least ``lead_s`` after ``now`` (cron resolution is a minute)."""
    moment = now + timedelta(seconds=lead_s + 59)
    return moment.replace(second=0, microsecond=0)


@pytest.fixture(scope="session")
def site(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_tools()
    from reid_pipeline.defs.partitions import cameras
    from reid_pipeline_tests.deployment.cluster import Deployment
    from reid_pipeline_tests.deployment.footage import (
        CAMERAS,
        NIGHTLY_STRETCHES,
        place_clip,
        place_footage,
        settings_env,
    )
    from reid_pipeline_tests.deployment.ui_api import start_schedule, start_sensor

    folder = tmp_path_factory.mktemp("deployment")
    data_root = folder / "data"
    place_footage(vtest, data_root / "raw")
    tick = next_tick(datetime.now(UTC), TICK_LEAD_S)
    nightly_day = (tick.date() - timedelta(days=1)).isoformat()
    for camera, stretch in NIGHTLY_STRETCHES.items():
        place_clip(vtest, data_root / "raw", nightly_day, camera, stretch)
    env = {
        **settings_env(data_root),
        "REID_OPERATIONS__NIGHTLY_TIME": f"{tick:%H:%M}",
        "REID_OPERATIONS__NIGHTLY_TIMEZONE": "UTC",
    }
    deployment = Deployment(folder, env, workers=int(os.environ.get("REID_DEPLOYMENT_WORKERS", "2")))
    try:
        deployment.start()
        deployment.instance().add_dynamic_partitions(cameras.name, list(CAMERAS))  # as `reid-pipeline run` does
        start_sensor(deployment, "identity_after_camera_day")
        start_schedule(deployment, "nightly_camera_days")
        assert datetime.now(UTC) < tick, f"bring-up took past the nightly tick {tick}: raise TICK_LEAD_S"
        yield Site(deployment, data_root, tick, nightly_day)
    finally:
        deployment.stop()


@pytest.fixture(scope="session")
def reference(site: Site, vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same camera-days run in-process (computed while the deployment waits for its nightly tick)."""
    from reid_pipeline_tests.deployment.footage import place_footage, reference_run

    root = tmp_path_factory.mktemp("reference") / "data"
    place_footage(vtest, root / "raw")
    reference_run(root)
    return root
