"""The long camera-day built for ``bench pipeline``, and the figures computed from step spans and samples."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from reid_pipeline.lib.bench.camera_day import BENCH_CAMERA, BENCH_DAY, plan_passes, write_camera_day
from reid_pipeline.lib.bench.memory import RssSample, RssSampler
from reid_pipeline.lib.bench.pipeline import MB, JobSpan, StepSpan, format_report, pipeline_report


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.grab():
        frames += 1
    capture.release()
    return frames


def test_camera_day_is_written_in_clock_named_files_and_reused(vtest: Path, tmp_path: Path) -> None:
    day = write_camera_day(tmp_path, hours=25 / 3600, sources=[vtest], seed=3, file_s=10.0)

    assert day.footage_s == pytest.approx(25.0)
    assert [f.name for f in day.files] == ["08-00-00.mp4", "08-00-10.mp4", "08-00-20.mp4"]
    assert all(f.parent == tmp_path / BENCH_DAY / BENCH_CAMERA for f in day.files)
    assert [frame_count(f) for f in day.files] == [100, 100, 50], "10 s files at 10 fps, the last one cut short"
    written = [f.stat().st_mtime_ns for f in day.files]

    again = write_camera_day(tmp_path, hours=25 / 3600, sources=[vtest], seed=3, file_s=10.0)
    assert [f.stat().st_mtime_ns for f in again.files] == written, "the same plan reuses the files"

    other = write_camera_day(tmp_path, hours=15 / 3600, sources=[vtest], seed=4, file_s=10.0)
    assert sorted(p.name for p in other.files) == sorted(
        p.name for p in (tmp_path / BENCH_DAY / BENCH_CAMERA).iterdir() if not p.name.startswith(".")
    )
    assert len(other.files) == 2, "another plan replaces the folder's footage"


def test_passes_vary_their_start_and_mirroring(vtest: Path) -> None:
    from reid_pipeline.lib.bench.camera_day import _probe

    clip = _probe(vtest)
    passes = plan_passes([clip], total_frames=10 * clip.frames, seed=0)

    assert sum(p.frames for p in passes) == 10 * clip.frames
    assert len({p.start_frame for p in passes}) > 1, "passes start at different frames"
    assert {p.mirror for p in passes} == {True, False}
    assert all(p.start_frame + p.frames <= clip.frames for p in passes)


def test_hours_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--hours"):
        write_camera_day(tmp_path, hours=0)


def sampler(*samples: tuple[float, int, float]) -> RssSampler:
    memory = RssSampler()
    memory.samples.extend(RssSample(at, rss * MB, cpu) for at, rss, cpu in samples)
    return memory


def test_report_attributes_peaks_and_cpu_to_the_stage_that_ran() -> None:
    memory = sampler((0.0, 100, 0.0), (5.0, 900, 8.0), (10.0, 300, 16.0), (12.0, 400, 18.0), (20.0, 200, 19.0))
    camera = JobSpan(
        "camera_day_job",
        0.0,
        12.0,
        True,
        [
            StepSpan("detections", 0.0, 10.0, True, {"detections": 40}),
            StepSpan("detections_schema", 10.0, 11.0, True, check=True),
            StepSpan("crops_schema", 11.0, 12.0, True, check=True),
        ],
    )
    identity = JobSpan(
        "identity_job", 12.0, 20.0, True, [StepSpan("appearances", 12.0, 20.0, True, {"appearances": 4})]
    )

    report = pipeline_report(3600.0, [camera, identity], memory, {"profile": "offline"})

    stages = {(s["job"], s["stage"]): s for s in report["stages"]}  # type: ignore[attr-defined]
    detections = stages[("camera_day_job", "detections")]
    assert detections["seconds"] == 10.0 and detections["realtime_factor"] == 360.0
    assert detections["peak_rss_mb"] == 900.0 and detections["cpu_s"] == 16.0
    assert detections["rows"] == {"detections": 40}
    checks = stages[("camera_day_job", "asset checks (2)")]
    assert checks["seconds"] == 2.0 and checks["peak_rss_mb"] == 400.0
    assert stages[("identity_job", "appearances")]["peak_rss_mb"] == 400.0
    end = report["end_to_end"]
    assert end == {  # type: ignore[comparison-overlap]
        "seconds": 20.0,
        "realtime_factor": 180.0,
        "cpu_s": 19.0,
        "realtime_factor_cpu_bound": end["realtime_factor_cpu_bound"],  # type: ignore[index]
        "peak_rss_mb": 900.0,
        "success": True,
    }
    assert report["footage_hours"] == 1.0 and report["profile"] == "offline"


def test_report_prints_one_line_per_stage_and_says_when_a_job_failed() -> None:
    memory = sampler((0.0, 100, 0.0), (4.0, 100, 1.0))
    failed = JobSpan("camera_day_job", 0.0, 4.0, False, [StepSpan("detections", 0.0, 4.0, False)], "no footage")
    report = pipeline_report(60.0, [failed], memory, {"profile": "offline", "source": "vtest.avi"})
    report.update(load_before=1.0, load_after=2.0, build_footage_s=0.5)

    text = format_report(report)

    assert "detections" in text and "FAILED: no footage" in text
    assert report["end_to_end"]["success"] is False  # type: ignore[index]


def test_the_cpu_of_a_worker_that_has_exited_still_counts() -> None:
    """A worker process ends before the run does (an idle isolation worker exits); its CPU seconds stay in
    the tree's total once it has been waited for."""
    import subprocess
    import sys

    import psutil

    from reid_pipeline.lib.bench.memory import tree_usage

    me = psutil.Process()
    _, before = tree_usage(me)
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)  # started, burned 0.6 s of CPU, exited, waited for
    _, after = tree_usage(me)
    assert after - before >= 0.5
