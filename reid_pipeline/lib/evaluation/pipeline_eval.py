"""``eval pipeline``: identity quality of a whole demo run against vtest.avi ground truth.

Every detection of the run is placed on vtest.avi and matched (Hungarian, IoU >= threshold) to the
ground-truth boxes of its frame. A tracklet takes the person most of its matched boxes belong to.
Then:

- identity F1: pairwise precision/recall/F1 of the run's global entities over labelled tracklets,
  for all pairs, for pairs on different cameras of one day, and for pairs on different days;
  B-cubed and ARI over all;
- IDF1 and MOTA (py-motmetrics) of the run's boxes labelled with their global entity, on the
  frames the ground truth covers, against the same boxes labelled by the tracker alone (tracklets).
  Boxes on ignored ground truth (``conf = 0``: people nobody could tell apart) are dropped first.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
from reid_pipeline.lib.evaluation.ground_truth import SourceBox
from reid_pipeline.lib.evaluation.tracking import evaluate_tracking


@dataclass(frozen=True)
class TruthBox:
    person: int  # 0 = ignored
    box: SourceBox


def read_mot_truth(path: Path) -> dict[int, list[TruthBox]]:
    """Ground-truth boxes by frame; ``conf = 0`` rows become ignored boxes (person 0)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the MOTChallenge ground truth of vtest.avi")
    frames: dict[int, list[TruthBox]] = defaultdict(list)
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(",")
        try:
            frame, person, x, y, w, h, conf = (float(v) for v in fields[:7])
        except ValueError as exc:
            raise ValueError(f"{path}:{number} is not frame,id,x,y,w,h,conf,... ({exc})") from exc
        kept = int(person) if conf >= 1 else 0
        frames[int(frame)].append(TruthBox(kept, SourceBox(int(frame), x, y, w, h)))
    return frames


def iou(a: SourceBox, b: SourceBox) -> float:
    left, top = max(a.x, b.x), max(a.y, b.y)
    right, bottom = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def match_detections(
    detections: list[dict[str, object]], truth: Mapping[int, list[TruthBox]], threshold: float
) -> dict[str, int | None]:
    """detection_id -> person (0 = ignored box), or None when it matches no ground-truth box."""
    by_frame: dict[int, list[dict[str, object]]] = defaultdict(list)
    for d in detections:
        box = d["source"]
        assert isinstance(box, SourceBox)
        by_frame[box.frame].append(d)
    matched: dict[str, int | None] = {str(d["detection_id"]): None for d in detections}
    for frame, found in by_frame.items():
        boxes = truth.get(frame, [])
        if not boxes:
            continue
        overlap = np.array([[iou(d["source"], t.box) for t in boxes] for d in found])  # type: ignore[arg-type]
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols, strict=True):
            if overlap[r, c] >= threshold:
                matched[str(found[r]["detection_id"])] = boxes[c].person
    return matched


def tracklet_truth(
    detections: list[dict[str, object]], matched: Mapping[str, int | None], labelled_frames: Collection[int]
) -> dict[str, int]:
    """The person most of a tracklet's boxes on labelled frames match; tracklets mostly on ignored or no
    boxes get none. Boxes on frames nobody labelled have no say: the ground truth covers one frame in
    ten, the pipeline detects more often."""
    votes: dict[str, Counter[int | None]] = defaultdict(Counter)
    for d in detections:
        box = d["source"]
        assert isinstance(box, SourceBox)
        if box.frame in labelled_frames:
            votes[str(d["tracklet_id"])][matched[str(d["detection_id"])]] += 1
    truth = {}
    for tracklet, counter in votes.items():
        person = counter.most_common(1)[0][0]
        if person:  # neither None (unmatched) nor 0 (ignored)
            truth[tracklet] = person
    return truth


def pair_scores(
    tracklets: list[tuple[str, str, str]],
    truth: Mapping[str, int],
    predicted: Mapping[str, str],
    keep: Callable[[tuple[str, str, str], tuple[str, str, str]], bool],
) -> dict[str, float | int]:
    """Pairwise precision/recall/F1 over pairs of (tracklet, date, camera) that ``keep`` selects."""
    true_pos = false_pos = false_neg = pairs = 0
    for a, b in combinations(tracklets, 2):
        if not keep(a, b):
            continue
        pairs += 1
        same_truth = truth[a[0]] == truth[b[0]]
        same_pred = predicted.get(a[0], a[0]) == predicted.get(b[0], b[0])
        true_pos += same_truth and same_pred
        false_pos += same_pred and not same_truth
        false_neg += same_truth and not same_pred
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": true_pos + false_neg,
        "pairs": pairs,
    }


def identity_scores(
    detections: list[dict[str, object]], truth: Mapping[str, int], predicted: Mapping[str, str]
) -> dict[str, object]:
    """Pairwise scores for all, cross-camera (same day) and cross-day pairs of labelled tracklets.

    A run none of whose tracklets lands on a labelled person (a detector whose boxes never reach the
    IoU threshold) scores zero pairs and has no clustering scores, rather than failing.
    """
    places = {str(d["tracklet_id"]): (str(d["tracklet_id"]), str(d["date"]), str(d["camera_id"])) for d in detections}
    labelled = sorted(places[t] for t in truth if t in places)
    clustering = (
        score_clustering(
            {t: predicted.get(t, t) for t, _, _ in labelled}, {t: truth[t] for t, _, _ in labelled}
        ).as_dict()
        if labelled
        else None
    )
    return {
        "labelled_tracklets": len(labelled),
        "people": len(set(truth.values())),
        "all_pairs": pair_scores(labelled, truth, predicted, lambda a, b: True),
        "cross_camera": pair_scores(labelled, truth, predicted, lambda a, b: a[1] == b[1] and a[2] != b[2]),
        "cross_day": pair_scores(labelled, truth, predicted, lambda a, b: a[1] != b[1]),
        "clustering": clustering,
    }


def _mot_lines(detections: list[dict[str, object]], ids: Mapping[str, int]) -> list[str]:
    lines = []
    for d in detections:
        box = d["source"]
        assert isinstance(box, SourceBox)
        lines.append(f"{box.frame},{ids[str(d['tracklet_id'])]},{box.x},{box.y},{box.w},{box.h},1,-1,-1,-1")
    return lines


def tracking_scores(
    detections: list[dict[str, object]],
    matched: Mapping[str, int | None],
    truth: Mapping[int, list[TruthBox]],
    predicted: Mapping[str, str],
    gt_path: Path,
    threshold: float,
) -> dict[str, dict[str, float | int]]:
    """IDF1/MOTA with global entity ids and with tracklet ids, on frames that have ground truth."""
    scored = [d for d in detections if matched[str(d["detection_id"])] != 0 and d["source"].frame in truth]  # type: ignore[attr-defined]
    tracklets = sorted({str(d["tracklet_id"]) for d in scored})
    by_tracklet = {t: i + 1 for i, t in enumerate(tracklets)}
    entities = sorted({predicted.get(t, t) for t in tracklets})
    entity_number = {e: i + 1 for i, e in enumerate(entities)}
    by_entity = {t: entity_number[predicted.get(t, t)] for t in tracklets}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, ids in (("global_entities", by_entity), ("tracklets_only", by_tracklet)):
            path = Path(folder) / f"{name}.txt"
            path.write_text("\n".join(_mot_lines(scored, ids)) + "\n")
            scores = evaluate_tracking(gt_path, path, threshold)
            results[name] = {k: scores[k] for k in ("idf1", "idp", "idr", "mota", "num_switches")}
    return results
