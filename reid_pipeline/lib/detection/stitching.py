"""Within-camera tracklet stitching: join the fragments one person's track breaks into.

A tracker loses people behind a lamp post, in a missed detection or two, or at a cut between two
files of one camera, and starts a new track when they reappear. Multi-camera tracking pipelines
repair that before cross-camera matching: a fragment that ends is joined to one that starts
shortly after when

- the gap is short (``max_gap_s``) and the two never appear at the same time,
- the motion is plausible: the second starts where the first, carried on at its own velocity,
  would be (within a body height, plus some slack for every second of gap), at a similar size,
- the appearance agrees: colour histograms of the upper and lower body (the strongest offline
  appearance cue measured on this footage) have a cosine similarity of at least ``min_similarity``.

Candidates are joined greedily, cheapest first, each fragment gaining at most one successor and one
predecessor, so chains form in time order and never branch.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from reid_pipeline.settings import DetectionSettings

HUE_BINS, SAT_BINS = 8, 4
SIGNATURE_DIMS = 2 * HUE_BINS * SAT_BINS
MIN_SIGNATURE_PX = 4  # a box thinner than this has no usable colour
VELOCITY_WINDOW_S = 3.0  # the end of a fragment predicts its motion; its whole history may turn


@dataclass(frozen=True)
class StitchSpec:
    """How far apart (seconds) fragments may be joined, and how alike they must look."""

    max_gap_s: float = 4.0
    min_similarity: float = 0.75
    slack_heights_per_s: float = 0.5  # position tolerance grows by half a body height per second of gap

    @classmethod
    def from_settings(cls, spec: DetectionSettings) -> StitchSpec:
        return cls(spec.stitch_max_gap_s, spec.stitch_min_similarity)


@dataclass
class Fragment:
    """One tracker track: its times (s), boxes (N, 4 xyxy) and mean colour signature."""

    track_id: int
    entity_type: str
    times: np.ndarray
    boxes: np.ndarray
    signature: np.ndarray

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1])


def colour_signature(image: np.ndarray, xyxy: Sequence[float]) -> np.ndarray:
    """Hue x saturation histograms of the box's upper and lower halves, square-rooted and unit length."""
    height, width = image.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(width, round(xyxy[2])), min(height, round(xyxy[3]))
    signature = np.zeros(SIGNATURE_DIMS, np.float32)
    if x2 - x1 < MIN_SIGNATURE_PX or y2 - y1 < MIN_SIGNATURE_PX:
        return signature
    hsv = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2HSV)
    middle = hsv.shape[0] // 2
    halves = [hsv[:middle], hsv[middle:]]
    parts = [cv2.calcHist([half], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).reshape(-1) for half in halves]
    joined = np.sqrt(np.concatenate(parts)).astype(np.float32)
    norm = float(np.linalg.norm(joined))
    return joined / norm if norm > 0 else signature


def summed_signatures(track_ids: Sequence[int], signatures: Sequence[np.ndarray]) -> dict[int, np.ndarray]:
    """Per track, the float64 sum of its detections' colour signatures (what :func:`build_fragments` pools)."""
    sums: dict[int, np.ndarray] = {}
    for track, signature in zip(track_ids, signatures, strict=True):
        add_signature(sums, int(track), signature)
    return sums


def add_signature(sums: dict[int, np.ndarray], track: int, signature: np.ndarray) -> None:
    """Add one detection's signature to its track's running sum (a day's detections keep a sum per track)."""
    if track in sums:
        sums[track] += signature
    else:
        sums[track] = signature.astype(np.float64)


def build_fragments(
    track_ids: Sequence[int] | np.ndarray,
    entity_types: Sequence[str],
    times: Sequence[float] | np.ndarray,
    boxes: Sequence[Sequence[float]] | np.ndarray,
    signature_sums: Mapping[int, np.ndarray],
) -> list[Fragment]:
    """Fragments from per-detection columns (any order; times in seconds) and each track's summed colour
    signature (:func:`summed_signatures`), in the order their tracks first appear in the columns.
    """
    tracks = np.asarray(track_ids, dtype=np.int64)
    seconds = np.asarray(times, dtype=np.float64)
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.lexsort((seconds, tracks))  # by track, then time; ties keep their order
    groups = np.split(order, np.flatnonzero(np.diff(tracks[order])) + 1) if len(order) else []
    fragments = []
    for rows in sorted(groups, key=lambda rows: int(rows.min())):
        track = int(tracks[rows[0]])
        total = np.asarray(signature_sums[track], dtype=np.float64)
        norm = float(np.linalg.norm(total))
        fragments.append(
            Fragment(
                track,
                entity_types[int(rows[0])],
                seconds[rows],
                corners[rows],
                (total / norm if norm > 0 else total).astype(np.float32),
            )
        )
    return fragments


def _centre(box: np.ndarray) -> np.ndarray:
    return np.asarray((box[..., :2] + box[..., 2:]) / 2)


def _velocity(fragment: Fragment, at_start: bool) -> np.ndarray:
    """Pixels per second over the last (or first) few seconds of the fragment."""
    if len(fragment.times) < 2:
        return np.zeros(2)
    if at_start:
        keep = fragment.times <= fragment.start + VELOCITY_WINDOW_S
    else:
        keep = fragment.times >= fragment.end - VELOCITY_WINDOW_S
    times, centres = fragment.times[keep], _centre(fragment.boxes[keep])
    if len(times) < 2 or times[-1] == times[0]:
        return np.zeros(2)
    return (centres[-1] - centres[0]) / (times[-1] - times[0])


def link_cost(a: Fragment, b: Fragment, spec: StitchSpec) -> float | None:
    """How unlikely it is that ``b`` continues ``a`` (lower is likelier), or None when it cannot."""
    gap = b.start - a.end
    if a.entity_type != b.entity_type or not 0 < gap <= spec.max_gap_s:
        return None
    last, first = a.boxes[-1], b.boxes[0]
    height_a, height_b = last[3] - last[1], first[3] - first[1]
    if min(height_a, height_b) <= 0 or not 2 / 3 <= height_b / height_a <= 3 / 2:
        return None
    # Both ends predict the meeting point: a carried forward, b carried backward; take the better.
    forward = _centre(last) + _velocity(a, at_start=False) * gap
    backward = _centre(first) - _velocity(b, at_start=True) * gap
    miss = min(
        float(np.linalg.norm(forward - _centre(first))),
        float(np.linalg.norm(backward - _centre(last))),
        float(np.linalg.norm(_centre(first) - _centre(last))),  # someone who stood still
    )
    scale = (height_a + height_b) / 2
    allowed = scale * (0.5 + spec.slack_heights_per_s * gap)
    similarity = float(np.dot(a.signature, b.signature))
    if miss > allowed or similarity < spec.min_similarity:
        return None
    return miss / allowed + (1.0 - similarity) / max(1e-6, 1.0 - spec.min_similarity) + gap / spec.max_gap_s


def stitch(fragments: Sequence[Fragment], spec: StitchSpec) -> dict[int, int]:
    """``track_id -> id of the first fragment of its chain`` for every fragment (itself when unjoined)."""
    if spec.max_gap_s <= 0:
        return {f.track_id: f.track_id for f in fragments}
    # Only fragments starting within max_gap_s after another ends can continue it: sorted starts and a
    # bisection keep a long camera-day from comparing every fragment with every other.
    ordered = sorted(fragments, key=lambda f: f.start)
    starts = [f.start for f in ordered]
    candidates = []
    for a in fragments:
        first = bisect_right(starts, a.end)
        last = bisect_right(starts, a.end + spec.max_gap_s)
        for b in ordered[first:last]:
            cost = link_cost(a, b, spec)
            if cost is not None:
                candidates.append((cost, a.track_id, b.track_id))
    successor: dict[int, int] = {}
    predecessor: dict[int, int] = {}
    for _cost, a_id, b_id in sorted(candidates):
        if a_id in successor or b_id in predecessor:
            continue
        successor[a_id], predecessor[b_id] = b_id, a_id
    root = {}
    for fragment in fragments:
        head = fragment.track_id
        while head in predecessor:
            head = predecessor[head]
        root[fragment.track_id] = head
    return root
