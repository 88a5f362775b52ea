"""``reid-pipeline bench pipeline``: an H-hour camera-day through the real jobs, timed stage by stage.

The footage is written once under ``<data_root>/bench-pipeline/raw`` and reused by later runs of the same
length; everything the pipeline wrote there before (Parquet, LanceDB, reports, the Dagster instance) is
cleared first, so each run starts from nothing, as a new camera-day would. The jobs are the ones
``reid-pipeline run`` launches: ``camera_day_job`` for the camera-day, then ``identity_job`` for the day,
on a Dagster instance of the benchmark's own.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from reid_pipeline.defs.launch import CameraDayRun, run_camera_days, run_identity_day
from reid_pipeline.defs.step_timings import step_spans
from reid_pipeline.lib.bench.camera_day import write_camera_day
from reid_pipeline.lib.bench.memory import RssSampler
from reid_pipeline.lib.bench.pipeline import JobSpan, pipeline_report
from reid_pipeline.lib.storage.parquet import is_uri
from reid_pipeline.settings import Settings

BENCH_FOLDER = "bench-pipeline"
KEPT = {"raw", ".model_config"}  # the written footage and the model libraries' settings survive a rerun


def bench_root(settings: Settings) -> Path:
    """``<data_root>/bench-pipeline``; the benchmark writes footage and measures disk I/O, so it is local."""
    if is_uri(settings.storage.data_root):
        raise ValueError(
            f"bench pipeline writes its footage locally; data_root {settings.storage.data_root} is a URI: "
            "pass a local folder with --data-root"
        )
    return Path(settings.storage.data_root) / BENCH_FOLDER


def _clear_outputs(root: Path) -> None:
    for child in root.iterdir() if root.is_dir() else []:
        if child.name not in KEPT:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _timed(job: str, launch: Callable[[], CameraDayRun], instance: dg.DagsterInstance) -> JobSpan:
    start = time.time()
    run = launch()
    end = time.time()
    return JobSpan(job, start, end, run.success, step_spans(instance, run.run_id), run.error)


def run_bench_pipeline(
    settings: Settings,
    hours: float,
    sources: list[Path] | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Write ``hours`` of footage, run both jobs over it and return :func:`pipeline_report`'s figures."""
    from reid_pipeline.definitions import build_definitions

    root = bench_root(settings)
    started = time.perf_counter()
    camera_day = write_camera_day(root / "raw", hours, sources, seed)
    built_s = round(time.perf_counter() - started, 1)
    log(f"{camera_day.footage_s / 3600:.2f} h of footage in {len(camera_day.files)} files ({built_s} s to write)")
    _clear_outputs(root)
    storage = settings.storage.model_copy(update={"data_root": str(root), "raw_root": "", "local_dir": ""})
    settings = settings.model_copy(update={"storage": storage})
    home = root / "dagster_home"
    home.mkdir()
    # Configured as the CLI's own instance (launch.dagster_instance): no telemetry, the pipeline runs offline too.
    instance = dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}})
    defs = build_definitions(settings)
    day, camera = camera_day.day, camera_day.camera_id
    load_before = round(os.getloadavg()[0], 2)
    with RssSampler() as memory:
        jobs = [
            _timed(
                "camera_day_job",
                lambda: run_camera_days(defs, settings, day, [camera], instance, log)[0],
                instance,
            )
        ]
        if jobs[0].success:
            jobs.append(_timed("identity_job", lambda: run_identity_day(defs, settings, day, log, instance), instance))
    context: dict[str, object] = {
        "profile": settings.detection.profile,
        "embedding_profile": settings.embedding.profile,
        "source": ", ".join(sorted({Path(p).name for p in (sources or [])})) or "vtest.avi",
        "files": len(camera_day.files),
        "passes": camera_day.passes,
        "sample_fps": settings.footage.sample_fps,
        "build_footage_s": built_s,
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
    }
    return pipeline_report(camera_day.footage_s, jobs, memory, context)
