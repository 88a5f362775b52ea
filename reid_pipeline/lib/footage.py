"""Find footage on disk and describe each file: one manifest row per file, errors included.

Layout: ``<raw>/<YYYY-MM-DD>/<camera_id>/*.{mp4,avi,mkv,mov,jpg,jpeg,png}``. A file that cannot be
read becomes a row with ``error`` set (and is skipped downstream) rather than an exception: one bad
file never sinks a camera-day.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from reid_pipeline.lib.timestamps import (
    EXIF_DATETIME,
    EXIF_DATETIME_ORIGINAL,
    EXIF_IFD,
    TimeSource,
    mtime_of,
    parse_container_time,
    parse_exif_datetime,
    time_from_filename,
)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
FOOTAGE_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Camera ids become partition keys and file names: keep them to characters safe in both.
CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class FootageFile:
    """One row of ``footage_manifest``."""

    file_id: str
    date: str
    camera_id: str
    path: str
    kind: str
    size_bytes: int
    start_time: datetime | None = None
    time_source: str | None = None
    duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None
    content_hash: str | None = None
    error: str | None = None

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def camera_day_dir(raw_root: Path, day: str, camera_id: str) -> Path:
    return raw_root / day / camera_id


def list_camera_days(raw_root: Path) -> dict[str, list[str]]:
    """Every ``date -> [camera ids]`` under ``raw_root`` that holds at least one footage file."""
    found: dict[str, list[str]] = {}
    if not raw_root.is_dir():
        return found
    for day_dir in sorted(p for p in raw_root.iterdir() if p.is_dir() and DATE_DIR.match(p.name)):
        cameras = [
            cam.name
            for cam in sorted(day_dir.iterdir())
            if cam.is_dir() and CAMERA_ID.match(cam.name) and footage_files(cam)
        ]
        if cameras:
            found[day_dir.name] = cameras
    return found


def footage_files(folder: Path) -> list[Path]:
    """Footage files directly in ``folder``, sorted by name; hidden files and other types ignored."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FOOTAGE_SUFFIXES
    )


def file_fingerprint(folder: Path) -> str:
    """Cheap change marker for a camera-day folder (names, sizes, mtimes), used by the footage sensor."""
    digest = hashlib.sha256()
    for path in footage_files(folder):
        stat = path.stat()
        digest.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _probe_video(path: Path) -> dict[str, Any]:
    """Stream facts from the container, and proof that at least one frame decodes."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file holds no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        frames = int(stream.frames) or None
        if frames is None and duration and fps:
            frames = round(duration * fps)
        first = next(container.decode(stream), None)
        if first is None:
            raise ValueError("no frame could be decoded")
        created = container.metadata.get("creation_time") or stream.metadata.get("creation_time")
        return {
            "fps": fps,
            "duration_s": duration if duration is not None else (frames / fps if frames and fps else None),
            "frame_count": frames,
            "width": first.width,
            "height": first.height,
            "container_time": parse_container_time(created),
        }


def _probe_image(path: Path, zone: tzinfo) -> dict[str, Any]:
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # decodes fully, so a truncated JPEG fails here and not later
        exif = image.getexif()
        taken = parse_exif_datetime(exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL), zone)
        taken = taken or parse_exif_datetime(exif.get(EXIF_DATETIME), zone)
        return {"width": image.width, "height": image.height, "frame_count": 1, "exif_time": taken}


def describe_file(path: Path, raw_root: Path, day: str, camera_id: str, zone: tzinfo) -> FootageFile:
    """Probe one footage file into a manifest row; failures become the row's ``error``."""
    relative = path.relative_to(raw_root).as_posix()
    kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"
    size = path.stat().st_size
    path_id = "path-" + hashlib.sha256(relative.encode()).hexdigest()[:16]
    base = FootageFile(file_id=path_id, date=day, camera_id=camera_id, path=relative, kind=kind, size_bytes=size)
    if size == 0:
        return replace(base, error=f"{relative}: empty file (0 bytes); copy it again from the camera.")
    digest = content_hash(path)
    # The id joins content and place: the same bytes under two cameras (or days) are two files, whose
    # detection ids must not collide, while two copies within one camera-day share an id and are caught.
    file_id = hashlib.sha256(f"{day}/{camera_id}/{digest}".encode()).hexdigest()[:16]
    base = replace(base, file_id=file_id, content_hash=digest)
    try:
        facts = _probe_video(path) if kind == "video" else _probe_image(path, zone)
    except Exception as exc:  # any decoder failure is this file's problem, not the day's
        what = "video" if kind == "video" else "image"
        return replace(
            base,
            error=f"{relative}: cannot decode {what} ({type(exc).__name__}: {exc}); "
            "the file is corrupt or truncated: re-export it or remove it from the folder.",
        )
    start, source = _start_time(path, date.fromisoformat(day), zone, facts)
    return replace(
        base,
        start_time=start,
        time_source=source,
        duration_s=facts.get("duration_s"),
        fps=facts.get("fps"),
        frame_count=facts.get("frame_count"),
        width=facts.get("width"),
        height=facts.get("height"),
    )


def _start_time(path: Path, day: date, zone: tzinfo, facts: dict[str, Any]) -> tuple[datetime, str]:
    for key, source in (("container_time", TimeSource.CONTAINER), ("exif_time", TimeSource.EXIF)):
        moment = facts.get(key)
        if isinstance(moment, datetime):
            return moment, source.value
    named = time_from_filename(path, day, zone)
    if named is not None:
        return named, TimeSource.FILENAME.value
    return mtime_of(path), TimeSource.MTIME.value


def build_manifest(raw_root: Path, day: str, camera_id: str, zone: tzinfo) -> list[FootageFile]:
    """Manifest rows for one camera-day, in start-time order; duplicate copies of a file are errors."""
    folder = camera_day_dir(raw_root, day, camera_id)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no footage folder {folder}: put the camera's files in {raw_root}/<YYYY-MM-DD>/<camera_id>/"
        )
    rows = [describe_file(path, raw_root, day, camera_id, zone) for path in footage_files(folder)]
    seen: dict[str, str] = {}
    unique: list[FootageFile] = []
    for row in rows:
        if row.error is None and row.file_id in seen:
            # The same bytes twice would double every detection downstream.
            copy_id = "copy-" + hashlib.sha256(row.path.encode()).hexdigest()[:16]
            error = f"{row.path}: same content as {seen[row.file_id]}; skipped as a copy."
            row = replace(row, file_id=copy_id, error=error)
        elif row.error is None:
            seen[row.file_id] = row.path
        unique.append(row)
    return sorted(unique, key=lambda r: (r.start_time is None, r.start_time or datetime.min, r.path))
