"""``reid-pipeline bench pipeline`` on a few seconds of footage: the flow and the report's shape, never speed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reid_pipeline.cli import main
from reid_pipeline.lib.bench.camera_day import BENCH_CAMERA, BENCH_DAY

CAMERA_DAY_STAGES = {"footage_manifest", "detections", "crops", "tracklets", "embeddings", "attributes"}
IDENTITY_STAGES = {
    "site_adapter",
    "appearances",
    "daily_entities",
    "entities",
    "entity_timelines",
    "watch_sightings",
    "daily_report",
}


def parquet_rows(root: Path, asset: str) -> int:
    return pq.read_metadata(root / f"parquet/{asset}/date={BENCH_DAY}/camera={BENCH_CAMERA}/part-0.parquet").num_rows


@pytest.mark.slow
def test_bench_pipeline_runs_both_jobs_and_reports_every_stage(
    vtest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hours = 12 / 3600
    argv = ["bench", "pipeline", "--hours", str(hours), "--profile", "offline", "--data-root", str(tmp_path), "--json"]

    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)

    root = tmp_path / "bench-pipeline"
    assert report["footage_hours"] == pytest.approx(hours, abs=1e-3)
    assert report["profile"] == "offline" and report["files"] == 1
    stages = {(s["job"], s["stage"]): s for s in report["stages"]}
    assert {stage for job, stage in stages if job == "camera_day_job"} >= CAMERA_DAY_STAGES
    assert {stage for job, stage in stages if job == "identity_job"} >= IDENTITY_STAGES
    assert any(stage.startswith("asset checks") for _, stage in stages), "checks are timed as a stage of their own"

    detections = stages[("camera_day_job", "detections")]["rows"]
    assert detections["detections"] == parquet_rows(root, "detections") > 0, "rows out are the stored rows"
    assert detections["footage_outcomes"] == 1
    assert stages[("camera_day_job", "crops")]["rows"]["crops"] == parquet_rows(root, "crops")
    assert stages[("camera_day_job", "tracklets")]["rows"]["tracklets"] == parquet_rows(root, "tracklets")
    assert stages[("identity_job", "appearances")]["rows"]["appearances"] > 0

    for stage in report["stages"]:
        assert stage["seconds"] >= 0 and stage["peak_rss_mb"] > 0 and stage["cpu_s"] >= 0
    jobs = {job["job"]: job for job in report["jobs"]}
    assert set(jobs) == {"camera_day_job", "identity_job"} and all(job["success"] for job in jobs.values())
    for name, job in jobs.items():
        steps = sum(s["seconds"] for (owner, _), s in stages.items() if owner == name)
        assert job["seconds"] >= steps - 0.05, "a job's wall time holds its steps"
    end = report["end_to_end"]
    assert end["success"] is True
    assert end["seconds"] == pytest.approx(sum(job["seconds"] for job in jobs.values()), abs=0.05)
    assert end["realtime_factor"] == pytest.approx(hours * 3600 / end["seconds"], rel=0.02)
    assert end["peak_rss_mb"] == max(s["peak_rss_mb"] for s in report["stages"] + report["jobs"])

    # A rerun starts from nothing but the footage: the same rows, no second camera-day's worth.
    assert main([a for a in argv if a != "--json"]) == 0
    printed = capsys.readouterr().out
    assert "end to end" in printed and "detections" in printed
    assert parquet_rows(root, "detections") == detections["detections"]
