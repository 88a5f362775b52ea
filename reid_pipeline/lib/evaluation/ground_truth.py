"""Ground truth for the demo footage: labels per tracklet (from the review export) and vtest.avi MOT boxes.

People label tracklets on contact sheets: ``label`` names the person of the first crops, and
``split_at_crop`` (``"6:B;9:?"``) says from which crop on the row shows someone else (a tracker
identity switch). ``?`` means "cannot tell" (too small, several people in one box): such boxes are
written to the MOT file with ``conf = 0`` so scoring ignores them instead of calling them errors.

Boxes and frames are mapped back to ``vtest.avi`` itself (source frame numbers, un-mirrored
coordinates), so the ground truth does not depend on how the demo cuts the video into cameras.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from reid_pipeline.lib.footage.demo import DemoClip, plan_demo

UNKNOWN = "?"
VTEST_FPS = 10.0
VTEST_WIDTH = 768


@dataclass(frozen=True)
class SourceBox:
    """One detection placed on the source video: 1-based frame, left/top/width/height in pixels."""

    frame: int
    x: float
    y: float
    w: float
    h: float


def crop_labels(label: str, splits: str, crops: int) -> list[str]:
    """Per-crop person labels of a tracklet of ``crops`` crops."""
    labels = [label.strip() or UNKNOWN] * crops
    for part in filter(None, (p.strip() for p in splits.split(";"))):
        start, _, name = part.partition(":")
        if not start.isdigit() or not name.strip() or not 1 <= int(start) <= crops:
            raise ValueError(f"split {part!r} is not <crop number 1..{crops}>:<label>")
        labels[int(start) - 1 :] = [name.strip()] * (crops - int(start) + 1)
    return labels


def read_label_csv(path: Path, columns: set[str], how_to_make: str) -> list[dict[str, str]]:
    """Rows of a hand-written CSV that must have ``columns``; a missing file says ``how_to_make`` one."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {how_to_make}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not columns <= set(rows[0]):
        raise ValueError(f"{path} needs the columns {', '.join(sorted(columns))}")
    return rows


def read_tracklet_labels(path: Path) -> dict[str, tuple[str, str]]:
    """``tracklet_id -> (label, split_at_crop)`` from a label CSV of ``review export``."""
    hint = "export one with `reid-pipeline review export` and fill it in (split_at_crop is optional)"
    rows = read_label_csv(path, {"tracklet_id", "label"}, hint)
    return {r["tracklet_id"]: (r["label"], r.get("split_at_crop") or "") for r in rows}


def clip_index(raw_root: Path) -> dict[tuple[str, str, str], DemoClip]:
    """Demo clips keyed by (date, camera, file name)."""
    return {(c.day, c.camera_id, c.path.name): c for c in plan_demo(raw_root)}


def to_source(clip: DemoClip, frame_index: int, bbox: list[float]) -> SourceBox:
    """Where a detection of a demo clip lies on vtest.avi (plaza clips are mirrored copies)."""
    x1, y1, x2, y2 = bbox
    if clip.camera_id == "plaza":
        x1, x2 = VTEST_WIDTH - x2, VTEST_WIDTH - x1
    frame = round(clip.first_s * VTEST_FPS) + frame_index + 1
    return SourceBox(frame, x1, y1, x2 - x1, y2 - y1)


def source_detections(detections: pa.Table, clips: dict[tuple[str, str, str], DemoClip]) -> list[dict[str, object]]:
    """Detections with their source box, in time order per tracklet."""
    rows = []
    for d in detections.to_pylist():
        clip = clips.get((d["date"], d["camera_id"], Path(d["path"]).name))
        if clip is None:
            raise ValueError(f"{d['path']} is not a demo clip: ground truth covers the demo footage only")
        rows.append({**d, "source": to_source(clip, d["frame_index"], d["bbox"])})
    return sorted(rows, key=lambda r: (r["tracklet_id"], r["timestamp"], r["detection_id"]))


def mot_ground_truth(detections: list[dict[str, object]], labels: dict[str, tuple[str, str]]) -> list[str]:
    """MOTChallenge lines ``frame,id,x,y,w,h,conf,-1,-1,-1`` for labelled tracklets' detections."""
    by_tracklet: dict[str, list[dict[str, object]]] = defaultdict(list)
    for d in detections:
        by_tracklet[str(d["tracklet_id"])].append(d)
    number = person_numbers(labels)
    lines = []
    for tracklet, members in by_tracklet.items():
        if tracklet not in labels:
            continue
        label, splits = labels[tracklet]
        for person, d in zip(crop_labels(label, splits, len(members)), members, strict=True):
            box = d["source"]
            assert isinstance(box, SourceBox)
            known = person != UNKNOWN
            person_id = number[person] if known else 0
            lines.append(
                f"{box.frame},{person_id},{box.x:.1f},{box.y:.1f},{box.w:.1f},{box.h:.1f},{int(known)},-1,-1,-1"
            )
    return sorted(lines, key=lambda line: tuple(int(v) for v in line.split(",")[:2]))


def person_numbers(labels: dict[str, tuple[str, str]]) -> dict[str, int]:
    """MOT ids 1, 2, ... for the person labels in alphabetical order (``?`` has none)."""
    names = sorted({n for label, splits in labels.values() for n in [label, *_split_names(splits)]} - {UNKNOWN})
    return {name: i + 1 for i, name in enumerate(names)}


def _split_names(splits: str) -> list[str]:
    return [p.partition(":")[2].strip() for p in splits.split(";") if p.strip()]


def demo_detections(data_root: str) -> pa.Table:
    """Every detection of the demo's camera-days under ``data_root``."""
    from reid_pipeline.lib.footage.demo import DEMO_CAMERAS, DEMO_DAYS
    from reid_pipeline.lib.storage.parquet import ParquetStore

    store = ParquetStore(data_root)
    parts = [store.read("detections", {"date": day, "camera": camera}) for day in DEMO_DAYS for camera in DEMO_CAMERAS]
    return pa.concat_tables(parts)
