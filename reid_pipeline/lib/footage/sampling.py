"""Decode video frames at a sampling rate, skip frames where nothing moved, hand them out in batches.

Every frame of a compressed video must be decoded, but only sampled frames are converted to arrays,
and only moving (or key) frames reach the detector: an empty CCTV hour costs a decode pass and a
cheap frame difference, not an hour of inference.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

T = TypeVar("T")

# Stills are decoded to at most this many pixels on the long side (detectors see far less anyway), and a
# still above MAX_STILL_PIXELS is refused by the manifest: memory per still stays bounded.
MAX_STILL_SIDE = 4096
MAX_STILL_PIXELS = 150_000_000


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its position in the file and its BGR pixels.

    ``scale`` is the size of ``image`` relative to the file's own pixels (below 1 for a large still
    decoded smaller): boxes found on ``image`` divided by it are in file coordinates.
    """

    index: int
    offset_s: float
    image: np.ndarray
    scale: float = 1.0


@dataclass
class SamplingStats:
    """What the sampler did with a file, for logs, metadata and benchmarks."""

    decoded: int = 0
    sampled: int = 0
    motion_skipped: int = 0
    too_small: int = 0  # sampled frames smaller than the detector's minimum input
    errors: list[str] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return self.sampled - self.motion_skipped - self.too_small

    def add(self, other: SamplingStats) -> None:
        """Count ``other`` (one file's stats) into these."""
        self.decoded += other.decoded
        self.sampled += other.sampled
        self.motion_skipped += other.motion_skipped
        self.too_small += other.too_small
        self.errors.extend(other.errors)


def iter_video_frames(
    path: Path, sample_fps: float | None, stats: SamplingStats | None = None, until_s: float | None = None
) -> Iterator[Frame]:
    """Frames of ``path`` at about ``sample_fps`` per second (all frames when None), up to ``until_s``.

    A file that breaks off mid-way yields what decoded before the break and records the error in
    ``stats`` instead of raising: footage up to a corruption point is still footage.
    """
    import av

    stats = stats if stats is not None else SamplingStats()
    next_due = 0.0
    step = 1.0 / sample_fps if sample_fps else 0.0
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        stats.errors.append(f"{path.name}: cannot open it any more ({exc})")
        return
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        first_pts: float | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                offset = index / rate
                if frame.pts is not None and frame.time_base is not None:
                    pts = float(frame.pts * frame.time_base)
                    first_pts = pts if first_pts is None else first_pts
                    offset = pts - first_pts
                if until_s is not None and offset >= until_s:
                    return
                stats.decoded += 1
                # Half a frame of slack so 10 fps sampled at 2 fps takes exactly every 5th frame.
                if step and offset + 0.5 / rate < next_due:
                    continue
                next_due = (next_due if step else 0.0) + step
                while step and next_due <= offset:
                    next_due += step
                stats.sampled += 1
                yield Frame(index, offset, frame.to_ndarray(format="bgr24"))
        except (av.error.FFmpegError, ValueError, MemoryError) as exc:  # a pixel format to_ndarray lacks, too
            stats.errors.append(f"{path.name}: decoding stopped after frame {stats.decoded} ({exc})")


def read_frames(path: Path, indices: Iterable[int]) -> Iterator[Frame]:
    """The frames with the given decode indices, in order (used to cut crops after detection)."""
    import av

    wanted = sorted(set(indices))
    if not wanted:
        return
    position = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        for index, frame in enumerate(container.decode(stream)):
            if index == wanted[position]:
                yield Frame(index, index / rate, frame.to_ndarray(format="bgr24"))
                position += 1
                if position == len(wanted):
                    return


_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def read_image(path: Path, max_side: int = MAX_STILL_SIDE) -> Frame:
    """A still image as a one-frame "video", at most ``max_side`` pixels on its long side.

    OpenCV decodes large JPEGs at 1/2, 1/4 or 1/8 scale directly (bounded memory); what OpenCV
    cannot read (GIF, some TIFFs, anything else Pillow knows) is read with Pillow. EXIF
    orientation is applied either way.
    """
    from PIL import ImageOps

    with open_still(path) as header:  # reads the header only: the size before any decoding
        width, height = header.size[::-1] if _rotated(header) else header.size
    reduce = 1
    while reduce < 8 and max(width, height) / (reduce * 2) >= max_side:
        reduce *= 2
    image = cv2.imread(str(path), _REDUCED[reduce])
    if image is None:
        with open_still(path) as still:
            still.draft("RGB", (max(1, width // reduce), max(1, height // reduce)))
            rgb = np.asarray(ImageOps.exif_transpose(still).convert("RGB"))
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if max(image.shape[:2]) > max_side:
        factor = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return Frame(0, 0.0, image, scale=image.shape[1] / width if width else 1.0)


def open_still(path: Path) -> PILImage:
    """``PIL.Image.open`` as Pillow ships it.

    Importing ultralytics replaces ``Image.open`` with a version that, on a file Pillow does not
    know, pip-installs ``pi-heif`` (and fails offline): probing a text file must not install
    anything. Its wrapper keeps Pillow's own function, which is used here.
    """
    from PIL import Image

    opener = Image.open
    if getattr(opener, "__module__", "PIL.Image") != "PIL.Image":
        opener = getattr(sys.modules.get(opener.__module__), "_image_open", opener)
    return opener(path)


def _rotated(image: PILImage) -> bool:
    """True when the still's EXIF orientation turns it by 90 or 270 degrees (width and height swap)."""
    return image.getexif().get(0x0112) in (5, 6, 7, 8)


class MotionGate:
    """Decides whether a frame is worth detecting on, by difference to the last frame that was.

    Comparing with the last *detected* frame (not the previous one) lets slow movement add up
    until it crosses the threshold. A key frame every ``keyframe_interval_s`` catches people who
    stand still after the scene settled.
    """

    def __init__(self, threshold: float, keyframe_interval_s: float, width: int = 160) -> None:
        self.threshold = threshold
        self.keyframe_interval_s = keyframe_interval_s
        self.width = width
        self._reference: np.ndarray | None = None
        self._reference_offset = 0.0

    def _small_gray(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(gray, (5, 5), 0)

    def changed_share(self, image: np.ndarray) -> float:
        """Share of pixels that differ noticeably from the reference frame (1.0 when there is none)."""
        if self._reference is None:
            return 1.0
        diff = cv2.absdiff(self._small_gray(image), self._reference)
        return float(np.count_nonzero(diff > 25)) / diff.size

    def admit(self, frame: Frame) -> bool:
        """True when ``frame`` should be detected on; it then becomes the new reference."""
        due = self._reference is None or frame.offset_s - self._reference_offset >= self.keyframe_interval_s
        if due or self.changed_share(frame.image) >= self.threshold:
            self._reference = self._small_gray(frame.image)
            self._reference_offset = frame.offset_s
            return True
        return False


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` on a background thread, ``depth`` ahead of the consumer.

    Decoding (PyAV releases the GIL) then overlaps with inference on the consumer's side.
    An exception in the producer is re-raised in the consumer.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put(item)
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put(exc)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
