"""Tools to hand-label people on a video: motion proposals, ruled zoom views and identity strips.

Ground truth must not come from the detectors it judges. The proposals here come from background
subtraction (OpenCV MOG2 over every frame), which shares no failure mode with a learned detector:
it finds what moves, merges people who walk together and misses people who stand still. A person
checks every proposal on ruled, magnified views, tightens it, splits merged blobs, deletes shadows
and adds whoever is missing; identity strips (every box of one person in time order) then show
whether the numbering holds over the whole video.

Labels are MOTChallenge lines ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based source frames;
``conf = 0`` marks a box scoring must ignore (a person nobody can tell from a crowd).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

RULER_PX = 24  # width of the ruled margin around a zoom view


@dataclass(frozen=True)
class LabelBox:
    """One labelled box: 1-based source frame, person id (0 = unnumbered proposal), left/top/width/height."""

    frame: int
    person: int
    x: float
    y: float
    w: float
    h: float
    conf: int = 1

    def __post_init__(self) -> None:
        if self.w <= 0 or self.h <= 0:
            raise ValueError(
                f"frame {self.frame} id {self.person}: box width and height must be > 0, got {self.w}x{self.h}"
            )

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        return round(self.x), round(self.y), round(self.x + self.w), round(self.y + self.h)

    def mot_line(self) -> str:
        return f"{self.frame},{self.person},{self.x:.0f},{self.y:.0f},{self.w:.0f},{self.h:.0f},{self.conf},-1,-1,-1"


def label_frames(first: int, last: int, step: int) -> list[int]:
    """1-based frame numbers ``first, first + step, ... <= last``."""
    if first < 1 or step < 1 or last < first:
        raise ValueError(f"frames need 1 <= first <= last and step >= 1, got {first}..{last} step {step}")
    return list(range(first, last + 1, step))


def read_labels(path: Path) -> list[LabelBox]:
    """Boxes of a MOTChallenge file; a malformed line is an error naming its line number."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: write labels as frame,id,x,y,w,h,conf,-1,-1,-1 lines")
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            frame, person, x, y, w, h, conf = (float(v) for v in line.split(",")[:7])
            boxes.append(LabelBox(int(frame), int(person), x, y, w, h, int(conf)))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {line!r} is not frame,id,x,y,w,h,conf,... ({exc})") from exc
    return boxes


def write_labels(path: Path, boxes: Iterable[LabelBox]) -> Path:
    """Boxes as MOTChallenge lines, sorted by frame then id (a stable file to review in diffs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(boxes, key=lambda b: (b.frame, b.person, b.x, b.y))
    path.write_text("".join(b.mot_line() + "\n" for b in ordered))
    return path


def read_identities(path: Path) -> dict[int, int]:
    """``part id -> person`` from a CSV with columns ``part_id`` and ``person``."""
    from reid_pipeline.lib.evaluation.ground_truth import read_label_csv

    rows = read_label_csv(path, {"part_id", "person"}, "write part_id,person[,label] lines")
    mapping: dict[int, int] = {}
    for row in rows:
        part, person = int(row["part_id"]), int(row["person"])
        if mapping.setdefault(part, person) != person:
            raise ValueError(f"{path}: part id {part} is mapped to two people")
    return mapping


def merge_parts(parts: Sequence[Sequence[LabelBox]], identities: Mapping[int, int]) -> list[LabelBox]:
    """Boxes of separately labelled stretches under one numbering of people over the whole video.

    Each stretch numbers its people in its own range; ``identities`` says which part ids are the
    same person. An unmapped id is an error: nobody may silently become a person of their own.
    """
    merged = []
    for boxes in parts:
        for b in boxes:
            if b.person not in identities:
                raise ValueError(f"frame {b.frame}: part id {b.person} has no person in the identities file")
            merged.append(LabelBox(b.frame, identities[b.person], b.x, b.y, b.w, b.h, b.conf))
    frames_seen: dict[tuple[int, int], int] = {}
    for b in merged:
        key = (b.frame, b.person)
        frames_seen[key] = frames_seen.get(key, 0) + 1
        if frames_seen[key] > 1:
            raise ValueError(f"frame {b.frame}: person {b.person} has two boxes after merging the parts")
    return merged


def check_labels(boxes: Sequence[LabelBox], frames: Sequence[int], width: int, height: int) -> list[str]:
    """Problems a labeller must fix: boxes off the frame or outside the labelled frames, ids used twice."""
    problems = []
    wanted = set(frames)
    seen: set[tuple[int, int]] = set()
    for b in boxes:
        where = f"frame {b.frame} id {b.person}"
        if b.frame not in wanted:
            problems.append(f"{where}: frame is not one of the labelled frames")
        x1, y1, x2, y2 = b.xyxy
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            problems.append(f"{where}: box {b.xyxy} leaves the {width}x{height} frame")
        if b.person > 0 and (b.frame, b.person) in seen:
            problems.append(f"{where}: id used twice in one frame")
        if b.person <= 0 and b.conf == 1:
            problems.append(f"{where}: counted box without a person number (use conf 0 to ignore it)")
        seen.add((b.frame, b.person))
    return problems


def iter_frames(video: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {video}: is it a video file OpenCV can decode?")
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield image
    finally:
        capture.release()


def read_frames(video: Path, frames: Iterable[int]) -> dict[int, np.ndarray]:
    """BGR images of the 1-based ``frames`` of ``video``."""
    wanted = set(frames)
    images: dict[int, np.ndarray] = {}
    count = 0
    for count, image in enumerate(iter_frames(video), start=1):
        if count in wanted:
            images[count] = image
        if len(images) == len(wanted):
            break
    missing = sorted(wanted - set(images))
    if missing:
        raise ValueError(f"{video} has {count} frames; frames {missing[:5]} do not exist")
    return images


def motion_proposals(video: Path, frames: Iterable[int], min_area: int = 120) -> list[LabelBox]:
    """Boxes around what moves at ``frames``, from MOG2 background subtraction run over the whole video.

    Shadows (MOG2's grey label) are left out so boxes hug bodies; blobs are closed vertically so a
    person split at the waist by a background of the same colour stays one box.
    """
    wanted = set(frames)
    subtractor = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=24, detectShadows=True)
    kernel_open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    kernel_close = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 15))
    boxes: list[LabelBox] = []
    # Two passes: the first only learns the background, so early frames get proposals as good as late ones.
    for learning in (True, False):
        for number, image in enumerate(iter_frames(video), start=1):
            mask = subtractor.apply(image)
            if learning or number not in wanted:
                continue
            body = cv2.morphologyEx((mask == 255).astype(np.uint8), cv2.MORPH_OPEN, kernel_open)
            body = cv2.morphologyEx(body, cv2.MORPH_CLOSE, kernel_close)
            count, _, stats, _ = cv2.connectedComponentsWithStats(body)
            for x, y, w, h, area in stats[1:count]:
                if area >= min_area and h >= 12:
                    boxes.append(LabelBox(number, 0, float(x), float(y), float(w), float(h), 0))
    return boxes


def _colour(person: int) -> tuple[int, int, int]:
    if person <= 0:
        return (255, 0, 255)  # unnumbered proposals in magenta: nothing in the scene has that colour
    hue = (person * 47) % 180
    bgr = cv2.cvtColor(np.array([[[hue, 220, 255]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_boxes(image: np.ndarray, boxes: Iterable[LabelBox], grid: int = 50) -> np.ndarray:
    """A copy of ``image`` with a pixel grid (labelled every ``2 * grid`` px) and numbered boxes."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    for x in range(0, width, grid):
        cv2.line(canvas, (x, 0), (x, height), (90, 90, 90), 1)
        if x % (2 * grid) == 0:
            cv2.putText(canvas, str(x), (x + 2, 10), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
    for y in range(0, height, grid):
        cv2.line(canvas, (0, y), (width, y), (90, 90, 90), 1)
        if y % (2 * grid) == 0:
            cv2.putText(canvas, str(y), (2, y - 2), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
    for b in boxes:
        x1, y1, x2, y2 = b.xyxy
        colour = _colour(b.person)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 1)
        tag = str(b.person) if b.conf else f"{b.person}?"
        cv2.putText(canvas, tag, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return canvas


def zoom_view(
    image: np.ndarray, region: tuple[int, int, int, int], boxes: Iterable[LabelBox], scale: int = 4
) -> np.ndarray:
    """``region`` (x1, y1, x2, y2) magnified ``scale`` times with rulers in source pixels on all sides.

    Ticks every 2 px, numbers every 10 px, so an edge can be read to the pixel; box edges are drawn
    between pixels, on the outline of the box, so tightness can be judged against the body.
    """
    height, width = image.shape[:2]
    x1, y1 = max(0, region[0]), max(0, region[1])
    x2, y2 = min(width, region[2]), min(height, region[3])
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"region {region} is empty inside the {width}x{height} frame")
    patch = cv2.resize(image[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    canvas = cv2.copyMakeBorder(patch, RULER_PX, RULER_PX, RULER_PX + 8, RULER_PX, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    left = RULER_PX + 8

    def at_x(x: float) -> int:
        return left + round((x - x1) * scale)

    def at_y(y: float) -> int:
        return RULER_PX + round((y - y1) * scale)

    for x in range(x1 - x1 % 2, x2 + 1, 2):
        long = x % 10 == 0
        for edge, sign in ((RULER_PX - 1, -1), (canvas.shape[0] - RULER_PX, 1)):
            cv2.line(canvas, (at_x(x), edge), (at_x(x), edge + sign * (8 if long else 3)), (255, 255, 255), 1)
        if long:
            cv2.putText(canvas, str(x), (at_x(x) - 9, 9), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 255, 255), 1)
    for y in range(y1 - y1 % 2, y2 + 1, 2):
        long = y % 10 == 0
        for edge, sign in ((left - 1, -1), (canvas.shape[1] - RULER_PX, 1)):
            cv2.line(canvas, (edge, at_y(y)), (edge + sign * (8 if long else 3), at_y(y)), (255, 255, 255), 1)
        if long:
            cv2.putText(canvas, str(y), (0, at_y(y) + 4), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 255, 255), 1)
    for b in boxes:
        bx1, by1, bx2, by2 = b.xyxy
        if bx2 < x1 or bx1 > x2 or by2 < y1 or by1 > y2:
            continue
        colour = _colour(b.person)
        cv2.rectangle(canvas, (at_x(bx1), at_y(by1)), (at_x(bx2), at_y(by2)), colour, 1)
        tag = str(b.person) if b.conf else f"{b.person}?"
        cv2.putText(canvas, tag, (at_x(bx1) + 2, at_y(by1) + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return canvas


def identity_strip(
    images: Mapping[int, np.ndarray], boxes: Iterable[LabelBox], height: int = 128, per_row: int = 16
) -> np.ndarray:
    """Every box of one person in frame order, scaled to ``height`` px, each captioned with its frame."""
    tiles = []
    for b in sorted(boxes, key=lambda b: b.frame):
        x1, y1, x2, y2 = b.xyxy
        crop = images[b.frame][max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
        scaled = cv2.resize(crop, (max(8, round(crop.shape[1] * height / crop.shape[0])), height))
        tile = np.zeros((height + 14, max(48, scaled.shape[1]), 3), np.uint8)
        tile[:height, : scaled.shape[1]] = scaled
        cv2.putText(tile, f"f{b.frame}", (1, height + 11), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
        tiles.append(tile)
    if not tiles:
        raise ValueError("no boxes to put in an identity strip")
    rows = [tiles[i : i + per_row] for i in range(0, len(tiles), per_row)]
    width = max(sum(t.shape[1] + 2 for t in row) for row in rows)
    sheet = np.zeros((len(rows) * (height + 16), width, 3), np.uint8)
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet[r * (height + 16) : r * (height + 16) + tile.shape[0], x : x + tile.shape[1]] = tile
            x += tile.shape[1] + 2
    return sheet
