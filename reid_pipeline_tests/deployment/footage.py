"""Footage of the deployment tests: short stretches of vtest.avi per camera-day (plaza mirrored, as a second
camera would see the scene), and a plain in-process run of the same camera-days to compare against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.footage.demo import DemoClip, write_clip
from reid_pipeline.settings import Settings, load_settings

BACKFILL_DAYS = ("2024-05-01", "2024-05-02")
CAMERAS = ("gate", "plaza")
RETRY_DAY = "2024-05-03"  # one camera-day whose worker is killed mid-run
# Seconds of vtest.avi per (day, camera); the retried day is longer, so its detection step is still running
# when the test kills the worker.
STRETCHES = {
    (BACKFILL_DAYS[0], "gate"): (0.0, 6.0),
    (BACKFILL_DAYS[0], "plaza"): (3.0, 9.0),
    (BACKFILL_DAYS[1], "gate"): (5.0, 11.0),
    (BACKFILL_DAYS[1], "plaza"): (8.0, 14.0),
    (RETRY_DAY, "gate"): (20.0, 45.0),
}
NIGHTLY_STRETCHES = {"gate": (40.0, 46.0), "plaza": (43.0, 49.0)}


def settings_env(data_root: Path) -> dict[str, str]:
    """The settings every process of the deployment reads: offline models, one data root."""
    return {
        "REID_STORAGE__DATA_ROOT": str(data_root),
        "REID_DETECTION__PROFILE": "offline",
        "REID_DETECTION__OFFLINE": "true",
        "REID_EMBEDDING__PROFILE": "offline",
        "REID_EMBEDDING__OFFLINE": "true",
        "YOLO_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }


def place_clip(vtest: Path, raw_root: Path, day: str, camera: str, stretch: tuple[float, float]) -> Path:
    path = raw_root / day / camera / "08-00-00.mp4"
    start = datetime.fromisoformat(f"{day}T08:00:00").replace(tzinfo=UTC)
    write_clip(vtest, DemoClip(day, camera, stretch[0], stretch[1], start, path), camera == "plaza", False)
    return path


def place_footage(vtest: Path, raw_root: Path) -> None:
    for (day, camera), stretch in STRETCHES.items():
        place_clip(vtest, raw_root, day, camera, stretch)


def reference_run(data_root: Path) -> Settings:
    """Every camera-day of STRETCHES and the backfill days' identities, in-process, on an in-memory instance."""
    settings = load_settings(
        storage={"data_root": str(data_root)},
        detection={"profile": "offline", "offline": True},
        embedding={"profile": "offline", "offline": True},
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, list(CAMERAS))  # type: ignore[arg-type]
    for day, camera in STRETCHES:
        key = camera_day_key(day, camera)
        assert defs.resolve_job_def("camera_day_job").execute_in_process(partition_key=key, instance=instance).success
    for day in BACKFILL_DAYS:
        assert defs.resolve_job_def("identity_job").execute_in_process(partition_key=day, instance=instance).success
    return settings
