"""``eval tracker``: tracker-only identity quality over sample rates, trackers, buffers and stitching.

The detector runs once per sample rate, on frames aligned with the labelled ones (so every
labelled frame is detected whatever the rate); each tracker configuration then replays those
detections. Scores, on the labelled frames only:

- IDF1 / IDP / IDR and ID switches (py-motmetrics) of person tracks against the ground truth;
- fragments per person: how many distinct track ids cover each labelled person (1 is perfect);
- cost: detector milliseconds per second of video at that rate, and tracking + stitching time.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import reduce
from itertools import pairwise
from math import gcd
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from reid_pipeline.lib.detection.stitching import (
    SIGNATURE_DIMS,
    StitchSpec,
    build_fragments,
    colour_signature,
    stitch,
    summed_signatures,
)
from reid_pipeline.lib.detection.tracking import Tracker, TrackingSpec
from reid_pipeline.lib.detection.types import Detections, Detector
from reid_pipeline.lib.evaluation.detection_eval import box_iou, truth_xyxy
from reid_pipeline.lib.evaluation.labelling import iter_frames
from reid_pipeline.lib.evaluation.pipeline_eval import TruthBox
from reid_pipeline.lib.evaluation.tracking import evaluate_tracking


@dataclass(frozen=True)
class TrackerConfig:
    fps: float
    tracker: str
    buffer_s: float
    stitch_gap_s: float  # 0 = no stitching
    match_buffer: float = 0.0
    stitch_min_similarity: float = 0.75


@dataclass(frozen=True)
class TrackerScores:
    fps: float
    tracker: str
    buffer_s: float
    stitch_gap_s: float
    match_buffer: float
    idf1: float
    idp: float
    idr: float
    id_switches: int
    tracks: int
    fragments_per_person: float
    detect_ms_per_video_s: float
    track_ms_per_video_s: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def video_info(video: Path) -> VideoInfo:
    """Frame rate and frame count as the container states them."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise FileNotFoundError(f"cannot open {video}: is it a video file OpenCV can decode?")
        fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
        return VideoInfo(float(fps), int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def sample_step(source_fps: float, fps: float, labelled: Sequence[int]) -> int:
    """Every how many source frames ``fps`` detects; refuses a rate whose frames miss labelled ones."""
    if not labelled:
        raise ValueError("the ground truth has no labelled frames")
    step = max(1, round(source_fps / fps))
    frames = sorted(labelled)
    spacing = reduce(gcd, (b - a for a, b in pairwise(frames)), 0)
    if spacing and spacing % step:
        raise ValueError(
            f"at {fps:g} fps every {step}th frame is detected, which skips frames the ground truth labels (every "
            f"{spacing}th): choose a rate whose step divides {spacing}, e.g. {source_fps / spacing:g} fps or a multiple"
        )
    return step


@dataclass
class SampledDetections:
    """Person detections (with colour signatures) on the frames a sample rate takes, and their cost."""

    step: int
    fps: float  # the rate actually sampled: source fps / step
    source_fps: float
    frames: dict[int, Detections]
    signatures: dict[int, np.ndarray]
    seconds: float


def detect_sampled(
    video: Path,
    detector: Detector,
    fps: float,
    labelled: Sequence[int],
    batch_size: int = 8,
    person_class: int = 0,
) -> SampledDetections:
    """Detect on every ``step``-th frame, aligned so that every labelled frame is among them."""
    info = video_info(video)
    step = sample_step(info.fps, fps, labelled)
    anchor = min(labelled)
    found: dict[int, Detections] = {}
    signatures: dict[int, np.ndarray] = {}
    batch: list[tuple[int, np.ndarray]] = []
    seconds = 0.0

    def flush() -> None:
        nonlocal seconds
        started = time.perf_counter()
        results = detector.detect([image for _, image in batch])
        seconds += time.perf_counter() - started
        for (frame, image), result in zip(batch, results, strict=True):
            people = result.subset(result.class_ids == person_class)
            found[frame] = people
            signatures[frame] = np.array([colour_signature(image, box) for box in people.xyxy]).reshape(
                -1, SIGNATURE_DIMS
            )
        batch.clear()

    for number, image in enumerate(iter_frames(video), start=1):
        if (number - anchor) % step == 0:
            batch.append((number, image))
            if len(batch) == batch_size:
                flush()
    if batch:
        flush()
    return SampledDetections(step, info.fps / step, info.fps, found, signatures, seconds)


def run_tracker(
    sampled: SampledDetections, config: TrackerConfig, min_score: float
) -> tuple[list[tuple[int, int, np.ndarray]], float]:
    """``[(frame, track id, xyxy)]`` of person tracks (stitched when asked) and the seconds it took.

    The trackers in use read no pixels (BoT-SORT runs without camera-motion compensation or
    re-id), so detections are replayed without decoding the video again.
    """
    spec = TrackingSpec(config.tracker, config.buffer_s, config.match_buffer)
    tracker = Tracker(
        spec.name, sampled.fps, buffer_s=spec.buffer_s, min_score=min_score, match_buffer=spec.match_buffer
    )
    blank = np.zeros((8, 8, 3), np.uint8)
    rows: list[tuple[int, int, np.ndarray]] = []
    signatures: list[np.ndarray] = []
    started = time.perf_counter()
    for frame in sorted(sampled.frames):
        found = sampled.frames[frame]
        for t in tracker.update(found, blank):
            box = np.array(t.xyxy)
            index = int(np.flatnonzero(np.all(found.xyxy == box.astype(np.float32), axis=1))[0])
            rows.append((frame, t.track_id, box))
            signatures.append(sampled.signatures[frame][index])
    if config.stitch_gap_s > 0 and rows:
        fragments = build_fragments(
            [r[1] for r in rows],
            ["person"] * len(rows),
            [(r[0] - 1) / sampled.source_fps for r in rows],
            [r[2].tolist() for r in rows],
            summed_signatures([r[1] for r in rows], signatures),
        )
        root = stitch(fragments, StitchSpec(max_gap_s=config.stitch_gap_s, min_similarity=config.stitch_min_similarity))
        rows = [(frame, root[track], box) for frame, track, box in rows]
    return rows, time.perf_counter() - started


def _rows_on_truth(
    rows: Sequence[tuple[int, int, np.ndarray]], truth: Mapping[int, Sequence[TruthBox]], iou: float
) -> list[tuple[tuple[int, int, np.ndarray], int | None]]:
    """Every row on a labelled frame with the person its box is assigned to (Hungarian, IoU >= ``iou``;
    0 = an ignored box), or None when it is assigned to nobody."""
    by_frame: dict[int, list[tuple[int, int, np.ndarray]]] = defaultdict(list)
    for row in rows:
        if row[0] in truth:
            by_frame[row[0]].append(row)
    paired: list[tuple[tuple[int, int, np.ndarray], int | None]] = []
    for frame, found in sorted(by_frame.items()):
        boxes = truth[frame]
        person: dict[int, int] = {}
        if len(boxes):
            overlap = box_iou(np.array([r[2] for r in found]), truth_xyxy(boxes))
            for r, c in zip(*linear_sum_assignment(-overlap), strict=True):
                if overlap[r, c] >= iou:
                    person[int(r)] = boxes[c].person
        paired += [(row, person.get(i)) for i, row in enumerate(found)]
    return paired


def fragments_per_person(
    rows: Sequence[tuple[int, int, np.ndarray]], truth: Mapping[int, Sequence[TruthBox]], iou: float
) -> float:
    """Mean number of distinct track ids matched (Hungarian, IoU >= ``iou``) to each labelled person."""
    tracks_of: dict[int, set[int]] = defaultdict(set)
    for (_, track, _), person in _rows_on_truth(rows, truth, iou):
        if person:
            tracks_of[person].add(track)
    return round(float(np.mean([len(t) for t in tracks_of.values()])), 2) if tracks_of else 0.0


def drop_ignored(
    rows: Sequence[tuple[int, int, np.ndarray]], truth: Mapping[int, Sequence[TruthBox]], iou: float
) -> list[tuple[int, int, np.ndarray]]:
    """Rows on labelled frames, less those on people the ground truth ignores (``conf = 0``)."""
    return [row for row, person in _rows_on_truth(rows, truth, iou) if person != 0]


def score_tracking(
    sampled: SampledDetections,
    config: TrackerConfig,
    truth: Mapping[int, Sequence[TruthBox]],
    min_score: float,
    video_seconds: float,
    iou: float = 0.5,
) -> TrackerScores:
    """Track ``sampled`` with ``config`` and score it on the labelled frames; costs per second of video."""
    rows, spent = run_tracker(sampled, config, min_score)
    on_truth = drop_ignored(rows, truth, iou)
    with tempfile.TemporaryDirectory() as folder:
        gt_path, pred_path = Path(folder) / "gt.txt", Path(folder) / "pred.txt"
        gt_path.write_text(
            "".join(
                f"{f},{t.person},{t.box.x},{t.box.y},{t.box.w},{t.box.h},{int(t.person > 0)},-1,-1,-1\n"
                for f, boxes in sorted(truth.items())
                for t in boxes
            )
        )
        pred_path.write_text(
            "".join(
                f"{f},{track},{b[0]:.1f},{b[1]:.1f},{b[2] - b[0]:.1f},{b[3] - b[1]:.1f},1,-1,-1,-1\n"
                for f, track, b in on_truth
            )
        )
        metrics = evaluate_tracking(gt_path, pred_path, iou)
    return TrackerScores(
        fps=round(sampled.fps, 3),
        tracker=config.tracker,
        buffer_s=config.buffer_s,
        stitch_gap_s=config.stitch_gap_s,
        match_buffer=config.match_buffer,
        idf1=float(metrics["idf1"]),
        idp=float(metrics["idp"]),
        idr=float(metrics["idr"]),
        id_switches=int(metrics["num_switches"]),
        tracks=len({track for _, track, _ in on_truth}),
        fragments_per_person=fragments_per_person(on_truth, truth, iou),
        detect_ms_per_video_s=round(1000 * sampled.seconds / video_seconds, 1),
        track_ms_per_video_s=round(1000 * spent / video_seconds, 1),
    )
