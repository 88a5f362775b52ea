"""``eval detection``: precision, recall and AP of person boxes against hand-labelled ground truth.

Each backend runs on exactly the labelled frames. Per frame, detections (persons only, best score
first) are matched one-to-one to ground-truth boxes at IoU >= threshold, the PASCAL VOC way:

- a detection on a counted box is a true positive, a second one on the same box a false positive;
- a detection whose best overlap is an ignored box (``conf = 0``: a person too small or too hidden to
  ask for) counts as nothing, and ignored boxes are never missed;
- anything else is a false positive; counted boxes left over are misses.

AP is the area under the all-point interpolated precision-recall curve over every score the
backend reports; precision and recall are also given at its operating threshold.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.evaluation.pipeline_eval import TruthBox


@dataclass(frozen=True)
class DetectionScores:
    backend: str
    model: str
    frames: int
    ground_truth: int
    operating_threshold: float
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    ap50: float
    ms_per_frame: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def box_iou(boxes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in ``boxes`` (N, 4) with every xyxy box in ``truth`` (M, 4): (N, M)."""
    if len(boxes) == 0 or len(truth) == 0:
        return np.zeros((len(boxes), len(truth)))
    left = np.maximum(boxes[:, None, 0], truth[None, :, 0])
    top = np.maximum(boxes[:, None, 1], truth[None, :, 1])
    right = np.minimum(boxes[:, None, 2], truth[None, :, 2])
    bottom = np.minimum(boxes[:, None, 3], truth[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_t = (truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1])
    union = area_b[:, None] + area_t[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def truth_xyxy(truth: Sequence[TruthBox]) -> np.ndarray:
    return np.array([[t.box.x, t.box.y, t.box.x + t.box.w, t.box.y + t.box.h] for t in truth]).reshape(-1, 4)


def match_frame(
    boxes: np.ndarray, scores: np.ndarray, truth: Sequence[TruthBox], threshold: float
) -> list[tuple[float, bool]]:
    """``(score, is_true_positive)`` for every detection that counts (those on ignored boxes do not)."""
    overlap = box_iou(boxes, truth_xyxy(truth))
    counted = np.array([t.person > 0 for t in truth], dtype=bool)
    taken = np.zeros(len(truth), dtype=bool)
    outcome = []
    for i in np.argsort(-scores, kind="stable"):
        if len(truth):
            best = int(np.argmax(overlap[i]))
            if overlap[i, best] >= threshold:
                if not counted[best]:
                    continue  # a detection of a person we do not ask for: neither right nor wrong
                if not taken[best]:
                    taken[best] = True
                    outcome.append((float(scores[i]), True))
                    continue
        outcome.append((float(scores[i]), False))
    return outcome


def average_precision(outcomes: Sequence[tuple[float, bool]], positives: int) -> float:
    """All-point interpolated AP (PASCAL VOC 2010+) of scored outcomes against ``positives`` boxes."""
    if positives == 0 or not outcomes:
        return 0.0
    ordered = sorted(outcomes, key=lambda o: -o[0])
    hits = np.cumsum([1 if ok else 0 for _, ok in ordered])
    precision = hits / np.arange(1, len(ordered) + 1)
    recall = hits / positives
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def score_detector(
    detector: Detector,
    images: Mapping[int, np.ndarray],
    truth: Mapping[int, Sequence[TruthBox]],
    operating_threshold: float,
    iou: float = 0.5,
    batch_size: int = 8,
    person_class: int = 0,
) -> DetectionScores:
    """Run ``detector`` on ``images`` (frame -> BGR) in batches and score its person boxes.

    ``detector`` should report scores well below ``operating_threshold`` so the AP curve is whole;
    precision and recall are read at ``operating_threshold``.
    """
    frames = sorted(images)
    detector.detect([images[frames[0]]])  # the model loads and warms up outside the timed part
    found = {}
    started = time.perf_counter()
    for i in range(0, len(frames), batch_size):
        batch = frames[i : i + batch_size]
        for frame, result in zip(batch, detector.detect([images[f] for f in batch]), strict=True):
            found[frame] = result
    elapsed = time.perf_counter() - started
    outcomes: list[tuple[float, bool]] = []
    for frame in frames:
        people = found[frame].subset(found[frame].class_ids == person_class)
        outcomes += match_frame(people.xyxy.astype(np.float64), people.scores, truth.get(frame, []), iou)
    positives = sum(1 for f in frames for t in truth.get(f, []) if t.person > 0)
    kept = [ok for score, ok in outcomes if score >= operating_threshold]
    true_pos = sum(kept)
    return DetectionScores(
        backend=detector.backend,
        model=detector.model_name,
        frames=len(frames),
        ground_truth=positives,
        operating_threshold=operating_threshold,
        precision=round(true_pos / len(kept), 4) if kept else 0.0,
        recall=round(true_pos / positives, 4) if positives else 0.0,
        true_positives=true_pos,
        false_positives=len(kept) - true_pos,
        ap50=round(average_precision(outcomes, positives), 4),
        ms_per_frame=round(1000 * elapsed / len(frames), 1),
    )
