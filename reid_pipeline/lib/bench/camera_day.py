"""Build a long camera-day from real footage, for measuring the pipeline end to end.

The source clips (OpenCV's ``vtest.avi`` by default: 79.5 s of pedestrians) are played in passes, each from
a different start frame and every other one mirrored, so the tracker and the identity stage see a varied
scene rather than one clip repeated frame for frame. Passes are written with OpenCV one frame at a time into
hourly files named by clock time (``08-00-00.mp4``), as a recorder would: memory stays at a few frames
whatever the number of hours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from reid_pipeline.lib.footage.demo import VTEST_PATH, missing_source_error

BENCH_DAY = "2024-06-03"
BENCH_CAMERA = "bench"
FIRST_HOUR = 8
FILE_S = 3600.0  # one file per recorded hour
MAX_START_SHARE = 0.5  # a pass starts in the first half of its clip: every pass is at least half a clip long
PLAN_FILE = ".bench-plan.json"  # which plan wrote the files, so a rerun reuses them (dot: not footage)


@dataclass(frozen=True)
class Pass:
    """One play of a source clip: from ``start_frame`` to its end, mirrored or not."""

    source: str
    start_frame: int
    frames: int
    mirror: bool


@dataclass(frozen=True)
class CameraDay:
    """The written camera-day: its files and how many seconds of footage they hold."""

    day: str
    camera_id: str
    files: list[Path]
    footage_s: float
    fps: float
    passes: int


@dataclass(frozen=True)
class _Clip:
    path: Path
    frames: int
    fps: float
    width: int
    height: int


def _probe(path: Path) -> _Clip:
    if not path.is_file():
        raise missing_source_error(path) if path == VTEST_PATH else FileNotFoundError(f"source clip {path} not found")
    capture = cv2.VideoCapture(str(path))
    try:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 10.0
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if frames < 2 or min(size) < 1:
        raise ValueError(f"source clip {path} does not decode with OpenCV (frames {frames}, size {size})")
    return _Clip(path, frames, fps, *size)


def plan_passes(clips: list[_Clip], total_frames: int, seed: int) -> list[Pass]:
    """Passes over the clips, in turn, until ``total_frames`` frames are planned (the last one cut short)."""
    rng = np.random.default_rng(seed)
    passes: list[Pass] = []
    planned = 0
    while planned < total_frames:
        clip = clips[len(passes) % len(clips)]
        start = int(rng.integers(0, max(1, int(clip.frames * MAX_START_SHARE))))
        frames = min(clip.frames - start, total_frames - planned)
        passes.append(Pass(str(clip.path), start, frames, mirror=len(passes) % 2 == 1))
        planned += frames
    return passes


def _frames_of(passes: list[Pass], size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Every planned frame, in order, read from the sources as it is needed."""
    for one in passes:
        capture = cv2.VideoCapture(one.source)
        try:
            for _ in range(one.start_frame):  # read, not seek: AVI seeking lands on key frames only
                capture.grab()
            for _ in range(one.frames):
                ok, image = capture.read()
                if not ok:
                    break
                if image.shape[1::-1] != size:
                    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                yield np.ascontiguousarray(image[:, ::-1]) if one.mirror else image
        finally:
            capture.release()


def _clock_name(seconds: float) -> str:
    """``HH-MM-SS.mp4``: the footage scan reads a file's start time from such a name."""
    whole = int(seconds)
    return f"{whole // 3600:02d}-{whole % 3600 // 60:02d}-{whole % 60:02d}.mp4"


def write_camera_day(
    raw_root: Path, hours: float, sources: list[Path] | None = None, seed: int = 0, file_s: float = FILE_S
) -> CameraDay:
    """Write ``hours`` of footage under ``raw_root/<BENCH_DAY>/<BENCH_CAMERA>/``, one file per ``file_s``.

    Files already written by the same plan are kept (writing 4 hours takes minutes); any other content of the
    folder is replaced.
    """
    if hours <= 0:
        raise ValueError(f"--hours must be above 0, got {hours}")
    clips = [_probe(path) for path in (sources or [VTEST_PATH])]
    fps = clips[0].fps
    size = (clips[0].width, clips[0].height)
    total = round(hours * 3600 * fps)
    passes = plan_passes(clips, total, seed)
    folder = raw_root / BENCH_DAY / BENCH_CAMERA
    per_file = max(1, round(file_s * fps))
    files = [folder / _clock_name(FIRST_HOUR * 3600 + i * per_file / fps) for i in range(-(-total // per_file))]
    plan = json.dumps({"fps": fps, "size": size, "per_file": per_file, "passes": [asdict(p) for p in passes]})
    marker = folder / PLAN_FILE
    if not (marker.is_file() and marker.read_text() == plan and all(f.is_file() for f in files)):
        _write_files(folder, files, passes, fps, size, per_file)
        marker.write_text(plan)
    return CameraDay(BENCH_DAY, BENCH_CAMERA, files, total / fps, fps, len(passes))


def _write_files(
    folder: Path, files: list[Path], passes: list[Pass], fps: float, size: tuple[int, int], per_file: int
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")  # MPEG-4 part 2: what OpenCV's own FFmpeg writes without extras
    frames = _frames_of(passes, size)
    for path in files:
        staging = path.with_name(f".{path.name}")  # a dot name: the footage scan ignores a half-written file
        writer = cv2.VideoWriter(str(staging), fourcc, fps, size)
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {staging} (mp4v): check the folder is writable")
        try:
            for _, image in zip(range(per_file), frames, strict=False):
                writer.write(image)
        finally:
            writer.release()
        staging.replace(path)
