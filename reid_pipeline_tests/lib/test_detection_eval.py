"""eval detection and eval tracker: the scoring maths by hand, and the sampling plumbing around a detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from reid_pipeline.lib.detection.run import renumbered
from reid_pipeline.lib.detection.stitching import SIGNATURE_DIMS, StitchSpec, summed_signatures
from reid_pipeline.lib.detection.types import Detections
from reid_pipeline.lib.evaluation.detection_eval import average_precision, match_frame, score_detector
from reid_pipeline.lib.evaluation.ground_truth import SourceBox
from reid_pipeline.lib.evaluation.pipeline_eval import TruthBox
from reid_pipeline.lib.evaluation.tracker_eval import (
    SampledDetections,
    TrackerConfig,
    detect_sampled,
    sample_step,
    score_tracking,
)


def truth_box(frame: int, person: int, x: float, y: float = 50, w: float = 30, h: float = 90) -> TruthBox:
    return TruthBox(person, SourceBox(frame, x, y, w, h))


def test_average_precision_by_hand() -> None:
    # Ranked: hit, miss, hit of 3 positives -> precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3.
    outcomes = [(0.9, True), (0.8, False), (0.7, True)]
    assert average_precision(outcomes, 3) == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    assert average_precision([], 3) == 0.0


def test_matching_ignores_people_nobody_asked_for_and_counts_doubles_as_wrong() -> None:
    truth = [truth_box(1, 1, 0), truth_box(1, 0, 200)]  # a counted person and an ignored one
    boxes = np.array([[0, 50, 30, 140], [1, 50, 31, 140], [200, 50, 230, 140], [500, 0, 530, 90]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    outcome = match_frame(boxes, scores, truth, 0.5)
    assert outcome == [(0.9, True), (0.8, False), (0.6, False)], "double, ignored (dropped), nobody"


class _Replay:
    """Plumbing stand-in for a detector: boxes written down per frame, in call order."""

    backend, model_name, min_score, min_frame_side = "replay", "replay", 0.3, 1

    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes, self.seen = boxes, 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for _ in frames:
            xyxy = np.array(self.boxes[self.seen % len(self.boxes)], np.float32).reshape(-1, 4)
            out.append(Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), np.zeros(len(xyxy), np.int64)))
            self.seen += 1
        return out


def test_score_detector_reads_precision_and_recall_at_the_operating_threshold() -> None:
    images = {1: np.zeros((100, 100, 3), np.uint8), 2: np.zeros((100, 100, 3), np.uint8)}
    truth = {1: [truth_box(1, 1, 0)], 2: [truth_box(2, 1, 0), truth_box(2, 2, 60)]}
    scores = score_detector(_Replay([[0, 50, 30, 140]]), images, truth, operating_threshold=0.5, batch_size=1)
    assert (scores.true_positives, scores.false_positives, scores.ground_truth) == (2, 0, 3)
    assert scores.precision == 1.0 and scores.recall == pytest.approx(2 / 3, abs=1e-4)


def test_a_sample_rate_that_skips_labelled_frames_is_refused() -> None:
    assert sample_step(10.0, 2.0, [6, 16, 26]) == 5
    assert sample_step(10.0, 10.0, [6, 16, 26]) == 1
    with pytest.raises(ValueError, match="skips frames the ground truth labels"):
        sample_step(10.0, 3.0, [6, 16, 26])
    with pytest.raises(ValueError, match="no labelled frames"):
        sample_step(10.0, 2.0, [])


def test_detect_sampled_covers_every_labelled_frame(vtest_clip: Path) -> None:
    sampled = detect_sampled(vtest_clip, _Replay([[0, 50, 30, 140]]), 2.0, [6, 16, 26], batch_size=4)
    assert {6, 16, 26} <= set(sampled.frames) and sampled.step == 5 and sampled.fps == pytest.approx(2.0, rel=0.01)
    assert all(sampled.signatures[f].shape == (1, SIGNATURE_DIMS) for f in sampled.frames)


def test_a_walker_tracked_as_one_person_scores_full_idf1() -> None:
    frames = {
        f: Detections(
            np.array([[10.0 * f, 50, 10.0 * f + 30, 140]], np.float32),
            np.array([0.9], np.float32),
            np.zeros(1, np.int64),
        )
        for f in range(1, 30, 5)
    }
    colour = {f: np.ones((1, SIGNATURE_DIMS), np.float32) / np.sqrt(SIGNATURE_DIMS) for f in frames}
    sampled = SampledDetections(5, 2.0, 10.0, frames, colour, 0.1)
    truth = {f: [truth_box(f, 7, 10.0 * f)] for f in (6, 16, 26)}
    scores = score_tracking(sampled, TrackerConfig(2.0, "bytetrack", 3.0, 4.0, 1.0), truth, 0.3, 3.0)
    assert scores.idf1 == 1.0 and scores.tracks == 1 and scores.fragments_per_person == 1.0


def test_renumbering_joins_stitched_fragments_under_one_tracklet_id() -> None:
    start = datetime(2024, 5, 1, 8, tzinfo=UTC)

    def row(track: int, second: float, x: float) -> dict[str, object]:
        return {
            "date": "2024-05-01",
            "camera_id": "gate",
            "track_id": track,
            "tracklet_id": f"2024-05-01/gate/{track:06d}",
            "entity_type": "person",
            "timestamp": start + timedelta(seconds=second),
            "bbox": [x, 50.0, x + 30, 150.0],
        }

    # Track 1 walks right until 2 s and is lost; track 2 picks it up at 3.5 s; track 3 is someone far away.
    rows = [row(1, s, 100 + 40 * s) for s in (0, 1, 2)] + [row(2, s, 100 + 40 * s) for s in (3.5, 4.5)]
    rows += [row(3, s, 600) for s in (0, 1)]
    same = np.eye(SIGNATURE_DIMS, dtype=np.float32)[0]
    sums = summed_signatures([int(str(r["track_id"])) for r in rows], [same] * len(rows))
    table = renumbered(pa.Table.from_pylist(rows), sums, StitchSpec(max_gap_s=4.0))
    assert table["track_id"].to_pylist() == [1, 1, 1, 1, 1, 2, 2]
    assert set(table["tracklet_id"].to_pylist()) == {"2024-05-01/gate/000001", "2024-05-01/gate/000002"}
    assert table.schema == pa.Table.from_pylist(rows).schema
