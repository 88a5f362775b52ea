"""Find footage on disk and account for every file: one manifest row per file, whatever became of it.

Layout: ``<raw>/<YYYY-MM-DD>/<camera_id>/`` (sub-folders are searched too). Every entry under a
camera folder gets a row with a ``status``:

- ``ok``: decodes; later stages read it;
- ``error``: it should be footage but cannot be read (empty, corrupt, truncated, unreadable,
  a dangling link, a crash of the decoder);
- ``skipped``: the pipeline chose not to read it (not footage, a copy of another file, a link
  leaving the footage root, a link to a folder, a FIFO or device).

``error`` then holds the reason, naming the file and the fix. The one exception: names that start
with a dot (and everything inside a folder so named) are ignored without a row, since operating
systems, sync tools and editors write them (``.DS_Store``, ``._clip.mp4``, ``.syncthing.tmp``).

Files are recognised by content: a known extension picks the decoder tried first (PyAV for videos,
Pillow for stills), the other is tried when the first does not recognise the data, and a file of
any other extension is probed once with both. One bad file never sinks a camera-day: with
``isolate=True`` every probe runs in a worker process, so even a native crash becomes an error row.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from reid_pipeline.lib.footage.isolation import Session, WorkerDied
from reid_pipeline.lib.footage.sampling import MAX_STILL_PIXELS, MAX_STILL_SIDE, open_still
from reid_pipeline.lib.footage.timestamps import (
    EXIF_DATETIME,
    EXIF_DATETIME_ORIGINAL,
    EXIF_IFD,
    TimeSource,
    mtime_of,
    parse_container_time,
    parse_exif_datetime,
    time_from_filename,
)
from reid_pipeline.lib.storage.rows import TableRow
from reid_pipeline.lib.storage.schemas import FOOTAGE_MANIFEST

VIDEO_SUFFIXES = frozenset(
    {
        ".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".ts", ".mts", ".m2ts",
        ".mpg", ".mpeg", ".3gp", ".flv", ".wmv", ".asf", ".ogv",
    }
)  # fmt: skip
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
FOOTAGE_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
# FFmpeg demuxers that accept text: a README must not become a "video" of rendered characters.
TEXT_FORMATS = frozenset({"tty", "ass", "srt", "webvtt", "subviewer", "microdvd", "jacosub"})
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Camera ids become partition keys and file names: keep them to characters safe in both.
CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_SKIPPED = "skipped"
REENCODE = "re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or remove it from the folder"


@dataclass(frozen=True)
class FootageFile(TableRow):
    """One row of ``footage_manifest``."""

    SCHEMA: ClassVar[pa.Schema] = FOOTAGE_MANIFEST

    file_id: str
    date: str
    camera_id: str
    path: str
    kind: str  # video | image | other (never read)
    size_bytes: int
    start_time: datetime | None = None
    time_source: str | None = None
    duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None
    content_hash: str | None = None
    error: str | None = None  # why the file is not read (status error or skipped): names the file and the fix
    status: str = STATUS_OK


def camera_day_dir(raw_root: Path, day: str, camera_id: str) -> Path:
    return raw_root / day / camera_id


def list_camera_days(raw_root: Path) -> dict[str, list[str]]:
    """Every ``date -> [camera ids]`` under ``raw_root`` whose folder holds at least one entry."""
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


def hidden(name: str) -> bool:
    """The one rule for what gets no manifest row: a name that starts with a dot."""
    return name.startswith(".")


def footage_files(folder: Path) -> list[Path]:
    """Every entry under ``folder`` that gets a manifest row, sorted by path.

    Files, links (dangling ones too) and anything else that is not a folder; real sub-folders are
    searched, links to folders are entries (they are reported, not followed), and a sub-folder
    that cannot be listed is an entry too. Hidden names are left out with all they contain.
    """
    if not folder.is_dir():
        return []
    found: list[Path] = []

    def unlistable(exc: OSError) -> None:
        if exc.filename and Path(exc.filename) != folder:
            found.append(Path(exc.filename))

    for top, dirs, files in os.walk(folder, onerror=unlistable):
        base = Path(top)
        dirs[:] = sorted(d for d in dirs if not hidden(d))
        for name in list(dirs):
            if (base / name).is_symlink():  # os.walk lists links to folders among the folders
                found.append(base / name)
                dirs.remove(name)
        found.extend(base / name for name in files if not hidden(name))
    return sorted(found)


def file_fingerprint(folder: Path) -> str:
    """Cheap change marker for a camera-day folder (names, sizes, mtimes), used by the footage sensor."""
    digest = hashlib.sha256()
    for path in footage_files(folder):
        try:
            info = path.stat()
        except OSError:  # a dangling link or a loop: its own entry still marks a change
            info = path.lstat()
        digest.update(f"{path.relative_to(folder)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class _Unrecognised(Exception):
    """The decoder does not know this data at all (as opposed to knowing it and finding it broken)."""


class _StillTooLarge(Exception):
    """A still above MAX_STILL_PIXELS: refused before it is decoded."""


def _probe_video(path: Path, zone: tzinfo, stills: bool = False) -> dict[str, Any]:
    """Stream facts from the container, and proof that at least one frame decodes.

    FFmpeg also reads single images; those are left to Pillow (EXIF time, bounded decoding) unless
    ``stills`` says Pillow already gave up on the file.
    """
    import av

    try:
        container = av.open(str(path))
    except av.error.InvalidDataError as exc:
        raise _Unrecognised(f"{type(exc).__name__}: {exc}") from exc
    with container:
        if container.format.name in TEXT_FORMATS:
            raise _Unrecognised(f"text read as {container.format.name!r}, not video")
        if not stills and (container.format.name == "image2" or container.format.name.endswith("_pipe")):
            raise _Unrecognised(f"a still image ({container.format.name})")
        if not container.streams.video:
            raise _Unrecognised("the file holds no video stream")
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
        if first is None or not first.width or not first.height:
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
    """Size and EXIF time of a still, and proof that all of it decodes, in bounded memory."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
        try:
            image = open_still(path)
        except UnidentifiedImageError as exc:
            raise _Unrecognised(str(exc)) from exc
        except Image.DecompressionBombError as exc:
            raise _StillTooLarge(str(exc)) from exc
        with image:
            width, height = image.size
            if width * height > MAX_STILL_PIXELS:
                raise _StillTooLarge(f"{width}x{height} pixels")
            # JPEGs decode at 1/2..1/8 scale when large (DCT scaling): the whole file is still read, so a
            # truncated one fails here, but memory stays bounded.
            image.draft("RGB", (MAX_STILL_SIDE, MAX_STILL_SIDE))
            image.load()
            exif = image.getexif()
            taken = parse_exif_datetime(exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL), zone)
            taken = taken or parse_exif_datetime(exif.get(EXIF_DATETIME), zone)
    return {"width": width, "height": height, "frame_count": 1, "exif_time": taken}


def kind_by_suffix(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else None


def _probe(path: Path, zone: tzinfo) -> tuple[str, dict[str, Any]]:
    """(kind, facts) by content: the decoder the extension suggests first, the other one only when the
    first does not recognise the data (a broken file of a known format is not re-guessed)."""
    order = ("video", "image") if kind_by_suffix(path) == "video" else ("image", "video")
    unrecognised: _Unrecognised | None = None
    for kind in order:
        try:
            if kind == "image":
                return kind, _probe_image(path, zone)
            return kind, _probe_video(path, zone, stills=unrecognised is not None)
        except _StillTooLarge:
            raise
        except _Unrecognised as exc:
            unrecognised = unrecognised or exc
        except Exception as exc:
            if kind == order[0]:
                raise
            raise _Broken(kind, exc) from exc
    assert unrecognised is not None
    raise unrecognised


class _Broken(Exception):
    """The second decoder recognised the data but could not decode it."""

    def __init__(self, kind: str, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.kind = kind


def _inside(real: Path, roots: tuple[Path, ...]) -> bool:
    return any(real == root or real.is_relative_to(root) for root in roots)


class _Refused(Exception):
    """A file the manifest keeps with a status other than ok, and why (said to the user, with the fix)."""

    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


def describe_file(
    path: Path, raw_root: Path, day: str, camera_id: str, zone: tzinfo, links_outside_root: bool = False
) -> FootageFile:
    """Probe one entry into a manifest row; every failure becomes the row's status and reason."""
    relative = path.relative_to(raw_root).as_posix()
    path_id = "path-" + hashlib.sha256(relative.encode()).hexdigest()[:16]
    base = FootageFile(
        file_id=path_id,
        date=day,
        camera_id=camera_id,
        path=relative,
        kind=kind_by_suffix(path) or "other",
        size_bytes=0,
    )
    try:
        if path.is_symlink():
            _check_link(
                path, (raw_root.resolve(), camera_day_dir(raw_root, day, camera_id).resolve()), links_outside_root
            )
        base = replace(base, size_bytes=_regular_file_size(path))
        if base.size_bytes == 0:
            raise _Refused(STATUS_ERROR, "empty file (0 bytes); copy it again from the camera.")
        digest = _content_digest(path)
        # The id joins content and place: the same bytes under two cameras (or days) are two files, whose
        # detection ids must not collide, while two copies within one camera-day share an id and are caught.
        file_id = hashlib.sha256(f"{day}/{camera_id}/{digest}".encode()).hexdigest()[:16]
        base = replace(base, file_id=file_id, content_hash=digest)
        kind, facts = _decode_facts(path, zone)
    except _Refused as refused:
        return replace(base, status=refused.status, error=f"{relative}: {refused.why}")
    start, source = _start_time(path, date.fromisoformat(day), zone, facts)
    return replace(
        base,
        kind=kind,
        start_time=start,
        time_source=source,
        duration_s=facts.get("duration_s"),
        fps=facts.get("fps"),
        frame_count=facts.get("frame_count"),
        width=facts.get("width"),
        height=facts.get("height"),
    )


def _check_link(path: Path, roots: tuple[Path, ...], links_outside_root: bool) -> None:
    """Refuse a link that is dangling, cannot be followed, leaves the footage root (unless allowed) or names a
    folder."""
    target = os.readlink(path)
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise _Refused(
            STATUS_ERROR, f"dangling link to {target}: restore the file it points to, or delete the link."
        ) from None
    except (OSError, RuntimeError) as exc:
        raise _Refused(STATUS_ERROR, f"link to {target} cannot be followed ({exc}): fix or delete the link.") from None
    if not links_outside_root and not _inside(real, roots):
        raise _Refused(
            STATUS_SKIPPED,
            f"link outside the footage root (to {real}): copy the file into the folder, or allow such links "
            "with footage.links_outside_root = true.",
        )
    if real.is_dir():
        raise _Refused(
            STATUS_SKIPPED, f"link to a folder ({target}): links to folders are not followed; move the files here."
        )


def _regular_file_size(path: Path) -> int:
    """The size of a plain, readable file; anything else is refused."""
    try:
        info = path.stat()
    except OSError as exc:
        raise _Refused(
            STATUS_ERROR, f"cannot read it ({exc.strerror or exc}): check the file and its permissions."
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise _Refused(STATUS_ERROR, "folder that cannot be listed: make it readable (chmod a+rx) or remove it.")
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(STATUS_SKIPPED, "not a regular file (a FIFO, socket or device): footage must be plain files.")
    return info.st_size


def _content_digest(path: Path) -> str:
    try:
        return content_hash(path)
    except OSError as exc:
        raise _Refused(
            STATUS_ERROR, f"cannot read it ({exc.strerror or exc}): make it readable (chmod a+r) or remove it."
        ) from None


def _decode_facts(path: Path, zone: tzinfo) -> tuple[str, dict[str, Any]]:
    """What the decoders say of the file (kind, duration, size ...); a file they cannot read is refused."""
    try:
        return _probe(path, zone)
    except _StillTooLarge as exc:
        limit = f"{MAX_STILL_PIXELS / 1e6:.0f} MP"
        raise _Refused(
            STATUS_ERROR, f"still too large ({exc}; the limit is {limit}): scale it down or split it."
        ) from None
    except _Unrecognised as exc:
        if kind_by_suffix(path) is None:
            raise _Refused(
                STATUS_SKIPPED,
                f"not footage: neither PyAV (video) nor Pillow (still) recognises it ({exc}); move it out of "
                "the camera folder, or convert it to a video or image format.",
            ) from None
        what = "video" if kind_by_suffix(path) == "video" else "image"
        raise _Refused(
            STATUS_ERROR, f"cannot decode {what} ({exc}); the file is not what its name says: {REENCODE}."
        ) from None
    except Exception as exc:  # any decoder failure is this file's problem, not the day's
        what = exc.kind if isinstance(exc, _Broken) else ("image" if kind_by_suffix(path) == "image" else "video")
        cause = str(exc) if isinstance(exc, _Broken) else f"{type(exc).__name__}: {exc}"
        raise _Refused(
            STATUS_ERROR, f"cannot decode {what} ({cause}); the file is corrupt or truncated: {REENCODE}."
        ) from None


def _start_time(path: Path, day: date, zone: tzinfo, facts: dict[str, Any]) -> tuple[datetime, str]:
    for key, source in (("container_time", TimeSource.CONTAINER), ("exif_time", TimeSource.EXIF)):
        moment = facts.get(key)
        if isinstance(moment, datetime):
            return moment, source.value
    named = time_from_filename(path, day, zone)
    if named is not None:
        return named, TimeSource.FILENAME.value
    return mtime_of(path), TimeSource.MTIME.value


@dataclass(frozen=True)
class _ProbeJob:
    path: Path
    raw_root: Path
    day: str
    camera_id: str
    zone: tzinfo
    links_outside_root: bool


def _no_state() -> None:
    return None


def _describe(_state: None, job: _ProbeJob) -> Iterator[FootageFile]:
    yield describe_file(job.path, job.raw_root, job.day, job.camera_id, job.zone, job.links_outside_root)


def _crashed(job: _ProbeJob, died: WorkerDied) -> FootageFile:
    relative = job.path.relative_to(job.raw_root).as_posix()
    return FootageFile(
        file_id="path-" + hashlib.sha256(relative.encode()).hexdigest()[:16],
        date=job.day,
        camera_id=job.camera_id,
        path=relative,
        kind=kind_by_suffix(job.path) or "other",
        size_bytes=job.path.lstat().st_size,
        status=STATUS_ERROR,
        error=f"{relative}: reading it crashed the decoder (worker process {died.reason}); the file is corrupt or "
        f"trips a bug in a native library: {REENCODE}.",
    )


def build_manifest(
    raw_root: Path, day: str, camera_id: str, zone: tzinfo, links_outside_root: bool = False, isolate: bool = False
) -> list[FootageFile]:
    """Rows for every entry of one camera-day, in start-time order (unread files last).

    Copies of a file (same bytes, or a second link to it) are skipped as duplicates. With
    ``isolate`` the probes run in a worker process, so a decoder crash is an error row.
    """
    folder = camera_day_dir(raw_root, day, camera_id)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no footage folder {folder}: put the camera's files in {raw_root}/<YYYY-MM-DD>/<camera_id>/"
        )
    rows: list[FootageFile] = []
    with Session(_no_state, _describe, isolated=isolate) as session:
        for path in footage_files(folder):
            job = _ProbeJob(path, raw_root, day, camera_id, zone, links_outside_root)
            try:
                rows.extend(session.run(job))
            except WorkerDied as died:
                rows.append(_crashed(job, died))
    return _mark_duplicates(rows, raw_root)


def _mark_duplicates(rows: list[FootageFile], raw_root: Path) -> list[FootageFile]:
    """The same bytes twice would double every detection downstream: keep one, skip the others.

    Real files win over links to them, then the first by path.
    """
    seen: dict[str, str] = {}
    marked: list[FootageFile] = []
    for row in sorted(rows, key=lambda r: ((raw_root / r.path).is_symlink(), r.path)):
        if row.status == STATUS_OK and row.file_id in seen:
            first = seen[row.file_id]
            same = os.path.samefile(raw_root / row.path, raw_root / first)
            what = f"a second name (link) for {first}" if same else f"same content as {first}"
            copy_id = "copy-" + hashlib.sha256(row.path.encode()).hexdigest()[:16]
            row = replace(row, file_id=copy_id, status=STATUS_SKIPPED, error=f"{row.path}: {what}; skipped as a copy.")
        elif row.status == STATUS_OK:
            seen[row.file_id] = row.path
        marked.append(row)
    return sorted(marked, key=lambda r: (r.start_time is None, r.start_time or datetime.min, r.path))
