"""Detection that no file can sink: size guard before native code, crashes contained per file."""

from __future__ import annotations

import ctypes
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.crops.cropping import cut_crops
from reid_pipeline.lib.detection.hog import HogPersonDetector
from reid_pipeline.lib.detection.run import DetectionRun, detect_camera_day
from reid_pipeline.lib.detection.tracking import TrackingSpec
from reid_pipeline.lib.detection.types import Detections
from reid_pipeline.lib.footage.files import build_manifest
from reid_pipeline.lib.footage.outcomes import file_outcomes
from reid_pipeline.settings import CropSettings, FootageSettings
from reid_pipeline_tests.conftest import place
from reid_pipeline_tests.footage_corpus import vtest_frames, write_still, write_video

DAY = "2024-05-01"
CRASH_WIDTH = 200


class FixedBoxDetector:
    """Plumbing stand-in: one box at a fixed place in every frame; segfaults on frames CRASH_WIDTH wide."""

    backend = "test-fixed-box"
    model_name = "fixed box"
    min_score = 0.1
    min_frame_side = 8

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for frame in frames:
            if frame.shape[1] == CRASH_WIDTH:
                ctypes.string_at(0)  # what a native library does on an input it was not built for
            box = np.array([[100, 100, 200, 300]], np.float32)
            out.append(Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int64)))
        return out


def fixed_box_detector() -> FixedBoxDetector:
    """The recipe the worker process builds its detector from."""
    return FixedBoxDetector()


def _detect(
    raw: Path, camera: str, isolate: bool, detector: object = None
) -> tuple[list[dict[str, object]], DetectionRun]:
    manifest = [row.as_row() for row in build_manifest(raw, DAY, camera, UTC)]
    run = detect_camera_day(
        manifest,
        raw,
        detector or FixedBoxDetector(),  # type: ignore[arg-type]
        TrackingSpec(),
        FootageSettings(isolate_files=isolate, motion_gating=False),
        recipe=fixed_box_detector if isolate else None,
    )
    return manifest, run


def _by_file(rows: list[dict[str, object]]) -> dict[str, list[tuple[object, ...]]]:
    out: dict[str, list[tuple[object, ...]]] = {}
    for r in rows:
        out.setdefault(str(r["path"]).rsplit("/", 1)[1], []).append((r["detection_id"], r["frame_index"], r["bbox"]))
    return out


def test_a_segfault_on_one_file_is_that_files_error_and_the_others_are_detected(tmp_path: Path, vtest: Path) -> None:
    frames = vtest_frames(vtest, 6, size=(320, 240))
    crashing = [np.zeros((240, CRASH_WIDTH, 3), np.uint8)] * 4
    raw = tmp_path / "raw"
    for camera in ("with_crash", "without"):
        folder = raw / DAY / camera
        write_video(folder / "08-00-00.mp4", frames[:3])
        write_video(folder / "08-10-00.mp4", frames[3:])
    write_video(raw / DAY / "with_crash" / "08-05-00.mp4", crashing)

    manifest, run = _detect(raw, "with_crash", isolate=True)
    _, alone = _detect(raw, "without", isolate=False)

    crash = run.reports[f"{DAY}/with_crash/08-05-00.mp4"]
    assert crash.error is not None and "SIGSEGV" in crash.error and "08-05-00.mp4" in crash.error
    found = _by_file(run.table.to_pylist())
    assert set(found) == {"08-00-00.mp4", "08-10-00.mp4"}
    strip = {name: [(f, b) for _, f, b in rows] for name, rows in found.items()}
    assert strip == {name: [(f, b) for _, f, b in rows] for name, rows in _by_file(alone.table.to_pylist()).items()}
    assert run.table["track_id"].to_pylist() == alone.table["track_id"].to_pylist()  # no track numbers lost
    outcomes = {Path(o["path"]).name: o for o in file_outcomes(manifest, run.table, run.reports)}
    assert outcomes["08-05-00.mp4"]["status"] == "error" and outcomes["08-05-00.mp4"]["detections"] == 0
    assert outcomes["08-00-00.mp4"]["status"] == "ok" and outcomes["08-00-00.mp4"]["detections"] > 0


def test_frames_below_the_detectors_minimum_never_reach_it(tmp_path: Path, vtest_clip: Path, vtest: Path) -> None:
    raw = tmp_path / "raw"
    folder = place(raw, DAY, "gate", vtest_clip, names=["08-00-00.mp4"])
    write_video(folder / "08-05-00.mp4", vtest_frames(vtest, 6, size=(96, 64)))  # crashed HOG before the guard

    manifest, run = _detect(raw, "gate", isolate=False, detector=HogPersonDetector())

    tiny = run.reports[f"{DAY}/gate/08-05-00.mp4"]
    assert tiny.stats.sampled > 0 and tiny.stats.too_small == tiny.stats.sampled and tiny.stats.detected == 0
    assert "96x64 px are smaller than the opencv-hog detector takes" in " ".join(tiny.stats.errors)
    assert {Path(str(p)).name for p in run.table["path"].to_pylist()} == {"08-00-00.mp4"}
    outcomes = {Path(o["path"]).name: o for o in file_outcomes(manifest, run.table, run.reports)}
    assert outcomes["08-05-00.mp4"]["status"] == "skipped" and "smaller than" in str(outcomes["08-05-00.mp4"]["reason"])
    assert outcomes["08-00-00.mp4"]["status"] == "ok" and outcomes["08-00-00.mp4"]["tracklets"] > 0


def test_a_large_still_is_detected_smaller_and_its_boxes_are_in_file_pixels(tmp_path: Path, vtest: Path) -> None:
    raw = tmp_path / "raw"
    write_still(raw / DAY / "trail" / "IMG_0001.jpg", vtest_frames(vtest, 1)[0], size=(8192, 6144))

    manifest, run = _detect(raw, "trail", isolate=True)

    (row,) = run.table.to_pylist()
    assert row["bbox"] == [200.0, 200.0, 400.0, 600.0]  # found at (100, 100, 200, 300) on the 4096 px wide decode
    (crop,) = cut_crops([row], manifest, raw, CropSettings())
    assert (crop["width"], crop["height"]) == (100, 200)  # cut from the same 4096 px decode


def test_detections_made_into_arrow_a_few_rows_at_a_time_are_the_same_table(
    tmp_path: Path, vtest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long file's rows become Arrow a chunk at a time; the camera-day's table, stitching included, is the
    one a whole file at a time gives."""
    from reid_pipeline.lib.detection import run as detection_run

    folder = tmp_path / "raw" / DAY / "gate"
    write_video(folder / "08-00-00.mp4", vtest_frames(vtest, 5, size=(320, 240)))
    write_video(folder / "08-10-00.mp4", vtest_frames(vtest, 4, size=(320, 240)))
    _, whole = _detect(tmp_path / "raw", "gate", isolate=False)
    monkeypatch.setattr(detection_run, "ROWS_PER_PART", 1)
    _, chunked = _detect(tmp_path / "raw", "gate", isolate=False)
    assert whole.table.num_rows >= 2 and len(set(whole.table["file_id"].to_pylist())) == 2
    assert chunked.table.to_pylist() == whole.table.to_pylist()
