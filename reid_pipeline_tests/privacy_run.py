"""A small two-day run on real footage for the privacy tests, and a scan of every file under a data root.

Each day gets a different stretch of vtest.avi (some walkers are in both), one camera, so the days hold
different pictures and vectors and some people are linked across days.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.footage.demo import DemoClip, write_clip
from reid_pipeline.settings import Settings, load_settings

DAYS = ("2024-05-01", "2024-05-02")
CAMERA = "gate"
STRETCHES = {"2024-05-01": (0.0, 8.0), "2024-05-02": (5.0, 13.0)}  # seconds of vtest.avi


def settings_for(root: Path) -> Settings:
    """Offline models; no picture or vector limit, as if these 2024 days were still fresh."""
    return load_settings(
        storage={"data_root": str(root)},
        detection={"profile": "offline", "offline": True},
        embedding={"profile": "offline", "offline": True},
        retention={"image_days": None, "vector_days": None},
        # Backbone vectors: what these tests expect of the run (which review pairs cross days, which rows an
        # erasure leaves alone) was drawn on them. With site adaptation an erasure also re-trains the adapter
        # without the erased crops, which changes everyone's vectors: tests/defs/test_site_adapter.py.
        identity={"adaptation": "none"},
    )


def make_footage(root: Path, vtest: Path) -> None:
    for day, (first, last) in STRETCHES.items():
        path = root / "raw" / day / CAMERA / "08-00-00.mp4"
        start = datetime.fromisoformat(f"{day}T08:00:00").replace(tzinfo=UTC)
        write_clip(vtest, DemoClip(day, CAMERA, first, last, start, path), False, False)


def run_days(settings: Settings, days: Iterable[str] = DAYS, camera_days: bool = True) -> None:
    """Camera-day and identity jobs of ``days`` through Dagster, on an in-memory instance."""
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, [CAMERA])  # type: ignore[arg-type]
    for day in days:
        if camera_days:
            run = defs.resolve_job_def("camera_day_job").execute_in_process(
                partition_key=camera_day_key(day, CAMERA), instance=instance
            )
            assert run.success
        assert defs.resolve_job_def("identity_job").execute_in_process(partition_key=day, instance=instance).success


def needles(values: Iterable[bytes]) -> set[bytes]:
    """Byte strings to look for: each value as is and as the base64 a report embeds."""
    found = set()
    for value in values:
        if value:
            found |= {value, base64.b64encode(value)}
    return found


def missing(values: Iterable[bytes], found: Iterable[bytes]) -> list[bytes]:
    """Values that a scan found in neither form (raw, base64)."""
    seen = set(found)
    return [v for v in values if v and v not in seen and base64.b64encode(v) not in seen]


def file_bytes(path: Path) -> bytes:
    """A file's bytes; a Parquet file's also decompressed (compression would hide what it holds)."""
    raw = path.read_bytes()
    if path.suffix == ".parquet":
        sink = io.BytesIO()
        pq.write_table(pq.read_table(path), sink, compression="none", use_dictionary=False)
        raw += sink.getvalue()
    return raw


def scan(root: Path, wanted: set[bytes]) -> dict[bytes, list[str]]:
    """Where under ``root`` (every file: Parquet, LanceDB data, versions and indexes, reports) each byte string is."""
    where: dict[bytes, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        content = file_bytes(path)
        for needle in wanted:
            if needle in content:
                where.setdefault(needle, []).append(str(path.relative_to(root)))
    return where


def places(found: dict[bytes, list[str]]) -> list[str]:
    """The files a scan found anything in (what an assertion message should show)."""
    return sorted({path for paths in found.values() for path in paths})
