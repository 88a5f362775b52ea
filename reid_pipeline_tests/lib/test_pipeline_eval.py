"""Ground truth from tracklet labels, box matching, and identity scores on hand-made cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import pytest

from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
from reid_pipeline.lib.evaluation.ground_truth import SourceBox, crop_labels, mot_ground_truth, to_source
from reid_pipeline.lib.evaluation.pipeline_eval import (
    TruthBox,
    identity_scores,
    iou,
    match_detections,
    pair_scores,
    read_mot_truth,
    tracklet_truth,
)
from reid_pipeline.lib.footage.demo import DemoClip

START = datetime(2024, 5, 1, 8, tzinfo=UTC)


def test_crop_labels_follow_splits() -> None:
    assert crop_labels("A", "", 3) == ["A", "A", "A"]
    assert crop_labels("A", "2:B;3:C", 4) == ["A", "B", "C", "C"]
    assert crop_labels("", "3:?", 3) == ["?", "?", "?"]
    with pytest.raises(ValueError, match=r"crop number 1\.\.3"):
        crop_labels("A", "5:B", 3)


def test_plaza_boxes_are_mirrored_back_onto_the_source() -> None:
    gate = DemoClip("2024-05-01", "gate", 10.0, 20.0, START, Path("a.mp4"))
    plaza = DemoClip("2024-05-01", "plaza", 20.0, 30.0, START, Path("b.mp4"))
    assert to_source(gate, 0, [10, 20, 60, 120]) == SourceBox(101, 10, 20, 50, 100)
    # 768 px wide: x 10..60 in the mirrored clip is 708..758 in the source.
    assert to_source(plaza, 4, [10, 20, 60, 120]) == SourceBox(205, 708, 20, 50, 100)


def _detection(det: str, tracklet: str, frame: int, x: float, date: str = "d1", camera: str = "c1") -> dict:
    return {
        "detection_id": det,
        "tracklet_id": tracklet,
        "date": date,
        "camera_id": camera,
        "timestamp": frame,
        "source": SourceBox(frame, x, 0, 10, 20),
    }


def test_mot_lines_number_people_and_mark_unknown_boxes_ignored() -> None:
    detections = [_detection("a1", "t1", 1, 0), _detection("a2", "t1", 2, 1), _detection("b1", "t2", 1, 50)]
    lines = mot_ground_truth(detections, {"t1": ("B", "2:?"), "t2": ("A", "")})
    assert lines == [
        "1,1,50.0,0.0,10.0,20.0,1,-1,-1,-1",  # A is person 1 (alphabetical)
        "1,2,0.0,0.0,10.0,20.0,1,-1,-1,-1",
        "2,0,1.0,0.0,10.0,20.0,0,-1,-1,-1",  # unknown: conf 0
    ]


def test_iou_by_hand() -> None:
    a, b = SourceBox(1, 0, 0, 10, 10), SourceBox(1, 5, 0, 10, 10)
    assert iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, SourceBox(1, 20, 20, 5, 5)) == 0.0


def test_matching_and_majority_vote(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,0,0,10,20,1,-1,-1,-1\n1,2,50,0,10,20,1,-1,-1,-1\n2,1,1,0,10,20,1,-1,-1,-1\n3,0,0,0,10,20,0\n")
    truth = read_mot_truth(gt)
    assert [t.person for t in truth[1]] == [1, 2] and truth[3] == [TruthBox(0, SourceBox(3, 0, 0, 10, 20))]
    detections = [
        _detection("a1", "t1", 1, 1),
        _detection("a2", "t1", 2, 0),
        _detection("a3", "t1", 3, 0),  # on an ignored box
        _detection("b1", "t2", 1, 49),
        _detection("b2", "t2", 4, 49),  # frames nobody labelled: no say in who t2 is
        _detection("b3", "t2", 5, 49),
        _detection("c1", "t3", 2, 300),  # on nobody
    ]
    matched = match_detections(detections, truth, 0.5)
    assert matched == {"a1": 1, "a2": 1, "a3": 0, "b1": 2, "b2": None, "b3": None, "c1": None}
    assert tracklet_truth(detections, matched, set(truth)) == {"t1": 1, "t2": 2}


def test_pair_subsets_by_hand() -> None:
    # Person 1 on camera c1 (t1) and c2 (t2) on day d1, and on day d2 (t3); person 2 on c1 d1 (t4).
    tracklets = [("t1", "d1", "c1"), ("t2", "d1", "c2"), ("t3", "d2", "c1"), ("t4", "d1", "c1")]
    truth = {"t1": 1, "t2": 1, "t3": 1, "t4": 2}
    predicted = {"t1": "E1", "t2": "E1", "t3": "E2", "t4": "E2"}
    cross_camera = pair_scores(tracklets, truth, predicted, lambda a, b: a[1] == b[1] and a[2] != b[2])
    # Cross-camera pairs: (t1,t2) same and joined, (t2,t4) different and apart.
    assert cross_camera == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "true_pairs": 1, "pairs": 2}
    cross_day = pair_scores(tracklets, truth, predicted, lambda a, b: a[1] != b[1])
    # Cross-day pairs: t3 with t1, t2 (same person, missed) and t4 (different, wrongly joined).
    assert cross_day == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "true_pairs": 2, "pairs": 3}


def test_all_pairs_agree_with_clustering_scores_on_random_labels() -> None:
    rng = random.Random(5)
    for _ in range(5):
        names = [f"t{i}" for i in range(15)]
        truth = {n: rng.randrange(4) for n in names}
        predicted = {n: f"E{rng.randrange(5)}" for n in names}
        places = [(n, "d", "c") for n in names]
        scores = pair_scores(places, truth, predicted, lambda a, b: True)
        reference = score_clustering(predicted, truth)
        assert scores["precision"] == pytest.approx(reference.pairwise_precision, abs=1e-4)
        assert scores["recall"] == pytest.approx(reference.pairwise_recall, abs=1e-4)
        assert scores["pairs"] == len(list(combinations(names, 2)))


def test_a_run_that_matches_nobody_scores_zero_instead_of_failing() -> None:
    detections = [_detection("a1", "t1", 1, 300)]
    scores = identity_scores(detections, {}, {"t1": "E1"})
    assert scores["labelled_tracklets"] == 0 and scores["clustering"] is None
    assert scores["all_pairs"]["pairs"] == 0
