"""Decode video frames at a sampling rate, skip frames where nothing moved, hand them out in batches.

Every frame of a compressed video must be decoded, but only sampled frames are converted to arrays,
and only moving (or key) frames reach the detector: an empty CCTV hour costs a decode pass and a
cheap frame difference, not an hour of inference.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its position in the file and its BGR pixels."""

    index: int
    offset_s: float
    image: np.ndarray


@dataclass
class SamplingStats:
    """What the sampler did with a file, for logs, metadata and benchmarks."""

    decoded: int = 0
    sampled: int = 0
    motion_skipped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return self.sampled - self.motion_skipped


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
    with av.open(str(path)) as container:
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
        except av.error.FFmpegError as exc:
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


def read_image(path: Path) -> Frame:
    """A still image as a one-frame "video"."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: cannot read image; the file is corrupt or not an image.")
    return Frame(0, 0.0, image)


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
