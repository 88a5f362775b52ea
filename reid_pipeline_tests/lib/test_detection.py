from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.detection.classes import ENTITY_TYPE_OF, class_ids_for
from reid_pipeline.lib.detection.factory import build_detector, choose_profile
from reid_pipeline.lib.detection.hog import HogPersonDetector
from reid_pipeline.lib.detection.tracking import Tracker
from reid_pipeline.lib.detection.types import Detections
from reid_pipeline.lib.detection.yolo import YoloDetector
from reid_pipeline.lib.footage.sampling import iter_video_frames
from reid_pipeline.settings import DetectionSettings


def test_detections_validate_shapes() -> None:
    with pytest.raises(ValueError, match=r"xyxy must be shape \(N, 4\), got \(3, 5\)"):
        Detections(np.zeros((3, 5)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"scores must be shape \(2,\)"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))


def test_class_mapping() -> None:
    assert class_ids_for(["person"]) == [0]
    assert class_ids_for(["vehicle"]) == [1, 2, 3, 5, 7]
    assert ENTITY_TYPE_OF[2] == "vehicle" and ENTITY_TYPE_OF[21] == "animal" and ENTITY_TYPE_OF[0] == "person"
    assert 9 not in ENTITY_TYPE_OF  # traffic light: not an entity
    with pytest.raises(ValueError, match="unknown entity types"):
        class_ids_for(["robot"])


def test_hog_finds_the_walkers_in_vtest(vtest_clip: Path) -> None:
    detector = HogPersonDetector(confidence=0.3)
    frames = [f.image for f in iter_video_frames(vtest_clip, 1.0)][:4]
    results = detector.detect(frames)
    assert len(results) == 4
    counts = [len(r) for r in results]
    # vtest.avi shows several pedestrians in every frame; HOG finds at least two of them in each.
    assert min(counts) >= 2, counts
    for found in results:
        heights = found.xyxy[:, 3] - found.xyxy[:, 1]
        widths = found.xyxy[:, 2] - found.xyxy[:, 0]
        assert np.all(heights > widths), "pedestrian boxes are taller than wide"
        assert np.all((found.scores >= 0.3) & (found.scores <= 1))
        assert np.all(found.class_ids == 0)


def test_hog_finds_nobody_in_an_empty_frame() -> None:
    assert len(HogPersonDetector().detect([np.zeros((576, 768, 3), np.uint8)])[0]) == 0


def test_yolo_random_weights_run_in_batches() -> None:
    detector = YoloDetector("yolov8n.yaml", class_ids_for(["person", "vehicle"]), confidence=0.0001, imgsz=160)
    frames = [np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8) for i in range(3)]
    results = detector.detect(frames)
    assert len(results) == 3
    for found in results:
        assert found.xyxy.shape[1] == 4 and found.xyxy.dtype == np.float32
        assert set(found.class_ids.tolist()) <= {0, 1, 2, 3, 5, 7}
    assert detector.backend == "ultralytics-yolo" and detector.model_name == "yolov8n.yaml"


def test_offline_missing_weights_fail_fast_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "weights" / "yolo11n.pt"
    with pytest.raises(FileNotFoundError, match=r"yolo11n\.pt.*REID_DETECTION__YOLO_WEIGHTS"):
        YoloDetector(str(missing), [0], offline=True)


def test_auto_profile_falls_back_to_offline_with_a_one_line_note() -> None:
    choice = choose_profile(DetectionSettings(profile="auto", yolo_weights="/nonexistent/yolov8n.pt", offline=True))
    assert choice.profile == "offline"
    assert choice.note and "\n" not in choice.note and "offline profile" in choice.note
    assert choose_profile(DetectionSettings(profile="auto", yolo_weights="yolov8n.yaml")).profile == "standard"
    assert choose_profile(DetectionSettings(profile="standard")).profile == "standard"


def test_build_detector_by_profile() -> None:
    assert build_detector(DetectionSettings(), "offline").backend == "opencv-dnn-ssd"
    assert build_detector(DetectionSettings(yolo_weights="yolov8n.yaml"), "standard").backend == "ultralytics-yolo"
    with pytest.raises(ValueError, match="unknown detection profile"):
        build_detector(DetectionSettings(), "fancy")


@pytest.mark.parametrize("name", ["bytetrack", "botsort"])
def test_tracker_keeps_identity_of_a_moving_box(name: str) -> None:
    tracker = Tracker(name, sample_fps=2.0)
    image = np.zeros((240, 320, 3), np.uint8)
    ids = []
    for step in range(6):
        x = 20.0 + 10 * step
        found = Detections(
            np.array([[x, 50, x + 40, 150], [250, 20, 290, 110]], np.float32),
            np.array([0.9, 0.8], np.float32),
            np.array([0, 2], np.int64),
        )
        tracked = tracker.update(found, image)
        ids.append({t.class_id: t.track_id for t in tracked})
        if tracked:
            box = next(t for t in tracked if t.class_id == 0)
            assert box.xyxy == (x, 50.0, x + 40, 150.0), "reports the detector's own box"
    assert len({i[0] for i in ids if 0 in i}) == 1 and len({i[2] for i in ids if 2 in i}) == 1
    assert ids[-1][0] != ids[-1][2]


def test_tracker_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown tracker"):
        Tracker("sort", sample_fps=2.0)


def test_buffered_matching_keeps_a_fast_walker_on_one_track() -> None:
    """At a low sample rate a tight box moves past its own width between frames: plain IoU loses it."""
    image = np.zeros((300, 800, 3), np.uint8)

    def track_ids(match_buffer: float) -> list[int]:
        tracker = Tracker("bytetrack", sample_fps=2.0, match_buffer=match_buffer)
        ids = []
        for step in range(8):
            x = 20.0 + 45 * step  # 30 px wide, 45 px further each step: no overlap with the last box
            found = Detections(
                np.array([[x, 50, x + 30, 150]], np.float32), np.array([0.9], np.float32), np.zeros(1, np.int64)
            )
            for t in tracker.update(found, image):
                assert t.xyxy == (x, 50.0, x + 30, 150.0), "reports the detector's own tight box"
                ids.append(t.track_id)
        return ids

    assert track_ids(1.0) == [1] * 8, "followed in every frame as one track"
    assert track_ids(0.0) == [1], "without the buffer the walker is lost after the first frame"
