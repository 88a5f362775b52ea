"""Lay out real demo footage: OpenCV's sample pedestrian video cut into cameras and days.

``vtest.avi`` (Debian package ``opencv-doc``) is 79.5 s of CCTV-style footage of several people
walking. It is cut into four 20 s stretches, one per camera-day, and each stretch into two 10 s
files, so the demo exercises cross-camera and cross-day matching and multi-file camera-days:

- ``gate``  files are named by clock time (``08-00-00.mp4``): the time comes from the file name;
- ``plaza`` files carry a container ``creation_time`` and a neutral name: the time comes from the
  container. The plaza camera is mirrored, as a second camera would see the scene differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

VTEST_PATH = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DEMO_DAYS = ("2024-05-01", "2024-05-02")
DEMO_CAMERAS = ("gate", "plaza")
SEGMENT_S = 10.0
FILES_PER_CAMERA_DAY = 2


@dataclass(frozen=True)
class DemoClip:
    day: str
    camera_id: str
    first_s: float
    last_s: float
    start_time: datetime
    path: Path


def missing_source_error(source: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"demo footage {source} not found: install it with `sudo apt-get install -y opencv-doc` "
        "(Debian/Ubuntu), or pass another video with --source."
    )


def plan_demo(raw_root: Path) -> list[DemoClip]:
    """Which stretch of the source goes to which camera-day file."""
    clips = []
    slot = 0
    for day in DEMO_DAYS:
        for camera in DEMO_CAMERAS:
            for part in range(FILES_PER_CAMERA_DAY):
                first = slot * SEGMENT_S
                start = datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC) + timedelta(seconds=first)
                name = start.strftime("%H-%M-%S") if camera == "gate" else f"clip{part + 1:02d}"
                clips.append(
                    DemoClip(day, camera, first, first + SEGMENT_S, start, raw_root / day / camera / f"{name}.mp4")
                )
                slot += 1
    return clips


def write_clip(source: Path, clip: DemoClip, mirror: bool, container_time: bool) -> None:
    """Re-encode ``[first_s, last_s)`` of ``source`` to ``clip.path`` as H.264 MP4."""
    import av
    import numpy as np

    clip.path.parent.mkdir(parents=True, exist_ok=True)
    staging = clip.path.with_suffix(".partial.mp4")
    with av.open(str(source)) as reader, av.open(str(staging), "w") as writer:
        in_stream = reader.streams.video[0]
        rate = in_stream.average_rate or 10
        out_stream = writer.add_stream("libx264", rate=rate)
        out_stream.width = in_stream.codec_context.width
        out_stream.height = in_stream.codec_context.height
        out_stream.pix_fmt = "yuv420p"
        out_stream.options = {"crf": "23", "preset": "veryfast"}
        if container_time:
            writer.metadata["creation_time"] = clip.start_time.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        for index, frame in enumerate(reader.decode(in_stream)):
            offset = index / float(rate)
            if offset < clip.first_s:
                continue
            if offset >= clip.last_s:
                break
            image: np.ndarray = frame.to_ndarray(format="bgr24")
            if mirror:
                image = np.ascontiguousarray(image[:, ::-1])
            for packet in out_stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                writer.mux(packet)
        for packet in out_stream.encode():
            writer.mux(packet)
    staging.replace(clip.path)


def make_demo_footage(raw_root: Path, source: Path = VTEST_PATH) -> list[DemoClip]:
    """Write the demo's camera-day folders under ``raw_root``; existing files are kept as they are."""
    if not source.is_file():
        raise missing_source_error(source)
    clips = plan_demo(raw_root)
    for clip in clips:
        if not clip.path.exists():
            plaza = clip.camera_id == "plaza"
            write_clip(source, clip, mirror=plaza, container_time=plaza)
    return clips
