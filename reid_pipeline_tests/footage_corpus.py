"""Generate odd footage for tests: every container, codec, size and breakage a camera folder may hold.

Nothing binary is checked in: clips are encoded here with PyAV from frames of OpenCV's vtest.avi
(real pedestrians, so good files give real detections), stills are written with Pillow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

SMALL = (384, 288)  # detectors see ~300 px anyway; small frames keep encoding and decoding quick


def vtest_frames(vtest: Path, count: int, size: tuple[int, int] = SMALL, stride: int = 5) -> list[np.ndarray]:
    """``count`` BGR frames of vtest.avi, ``stride`` source frames apart (people move between them)."""
    frames = []
    with av.open(str(vtest)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % stride == 0:
                frames.append(cv2.resize(frame.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA))
                if len(frames) == count:
                    break
    return frames


def encoder_missing(codec: str) -> str | None:
    """Why ``codec`` cannot be encoded with the installed PyAV wheel, or None when it can."""
    try:
        av.codec.Codec(codec, "w")
    except Exception as exc:  # UnknownCodecError; the wheel was built without it
        return f"this PyAV build has no {codec!r} encoder ({type(exc).__name__})"
    return None


@dataclass(frozen=True)
class Encoding:
    codec: str
    container: str | None = None  # FFmpeg muxer; None = from the file extension
    pix_fmt: str = "yuv420p"
    options: tuple[tuple[str, str], ...] = ()


H264 = Encoding("libx264", options=(("preset", "ultrafast"),))
ENCODINGS = {
    "h264": H264,
    "h264-in-mp4": Encoding("libx264", "mp4", options=(("preset", "ultrafast"),)),
    "vp9": Encoding("libvpx-vp9", "webm", options=(("deadline", "realtime"), ("cpu-used", "8"))),
    "hevc": Encoding("libx265", "matroska", options=(("preset", "ultrafast"), ("x265-params", "log-level=none"))),
    "mjpeg": Encoding("mjpeg", "avi", pix_fmt="yuvj420p"),
    "mpeg2": Encoding("mpeg2video"),
    "flv": Encoding("flv", "flv"),
    "wmv": Encoding("wmv2", "asf"),
}


def write_video(path: Path, frames: list[np.ndarray], encoding: Encoding = H264, fps: int = 10) -> Path:
    """Encode BGR ``frames`` into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format=encoding.container) as writer:
        stream = writer.add_stream(encoding.codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, encoding.pix_fmt
        stream.options = dict(encoding.options)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")):
                writer.mux(packet)
        for packet in stream.encode():
            writer.mux(packet)
    return path


def write_still(
    path: Path, image: np.ndarray, mode: str = "RGB", size: tuple[int, int] | None = None, format: str | None = None
) -> Path:
    """Save a BGR ``image`` with Pillow in ``mode`` (RGB, RGBA, L, CMYK), optionally resized first."""
    if size is not None:
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    rgb = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    if mode == "RGBA":
        rgb.putalpha(200)
        out = rgb
    else:
        out = rgb.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    lossy = format == "JPEG" or path.suffix.lower() in (".jpg", ".jpeg", ".webp")
    out.save(path, format=format, quality=85) if lossy else out.save(path, format=format)
    return path


@dataclass(frozen=True)
class Expect:
    """What the pipeline should make of a corpus entry.

    ``status`` is the manifest's; ``good`` entries must give exactly the detections they give
    alone; ``outcome`` is the final status after detection when it differs from the manifest's.
    ``reason`` must appear in the row's reason.
    """

    status: str
    good: bool = False
    reason: str = ""
    outcome: str | None = None


@dataclass
class Corpus:
    folder: Path
    expect: dict[str, Expect]  # by path relative to the camera folder
    skipped_codecs: dict[str, str]
    good_sources: dict[str, Path]  # good entry -> a file holding its bytes (links resolved)


def build_corpus(vtest: Path, raw_root: Path, day: str, camera: str, outside: Path) -> Corpus:
    """Fill ``raw_root/day/camera`` with the fuzz corpus; ``outside`` is a folder beyond the footage root."""
    folder = raw_root / day / camera
    folder.mkdir(parents=True)
    frames = vtest_frames(vtest, 16)
    expect: dict[str, Expect] = {}
    skipped: dict[str, str] = {}

    def video(name: str, codec: str, clip: list[np.ndarray] | None = None, fps: int = 10) -> Path | None:
        encoding = ENCODINGS[codec]
        missing = encoder_missing(encoding.codec)
        if missing:
            skipped[name] = missing
            return None
        expect[name] = Expect("ok", good=True)
        return write_video(folder / name, clip if clip is not None else frames[:12], encoding, fps)

    def add(name: str, status: str, reason: str = "", outcome: str | None = None) -> Path:
        expect[name] = Expect(status, reason=reason, outcome=outcome)
        return folder / name

    # Codecs and containers, each a real recording of people walking.
    video("h264.mp4", "h264")
    video("vp9.webm", "vp9")
    video("hevc.mkv", "hevc")
    video("mjpeg.avi", "mjpeg")
    video("mpeg2.mpg", "mpeg2", fps=25)
    video("h264.ts", "h264")
    video("h264.m2ts", "h264")
    video("h264.m4v", "h264")
    video("h264.3gp", "h264")
    video("flv1.flv", "flv")
    video("wmv2.wmv", "wmv")
    video("recorder export.dav", "h264-in-mp4", frames[1:11])  # unknown extension: probed by content
    video("Überwachung Tor 1 — 東口.mp4", "h264", frames[:6])
    video("sub/hour 08/nested.mp4", "h264", frames[4:10])
    # Sizes and rates.
    video("one_frame.mp4", "h264", frames[:1])
    video("fast_1000fps.mp4", "h264", frames[:12], fps=1000)
    uhd = [cv2.resize(f, (3840, 2160), interpolation=cv2.INTER_LINEAR) for f in frames[:3]]
    video("uhd_4k.mp4", "h264", uhd, fps=5)
    tiny = [cv2.resize(f, (96, 64), interpolation=cv2.INTER_AREA) for f in frames[:6]]
    video("tiny_96x64.mp4", "h264", tiny)
    # Stills.
    for name, mode in (("rgba.png", "RGBA"), ("grey.jpg", "L"), ("cmyk.jpg", "CMYK"), ("plain.bmp", "RGB")):
        expect[name] = Expect("ok", good=True)
        write_still(folder / name, frames[13], mode)
    for k, name in enumerate(("plain.tif", "plain.tiff", "plain.webp")):
        expect[name] = Expect("ok", good=True)
        write_still(folder / name, frames[9 + k], "RGB")
    expect["huge_9000x6750.jpg"] = Expect("ok", good=True)
    write_still(folder / "huge_9000x6750.jpg", frames[15], "RGB", size=(9000, 6750))
    expect["snapshot.img"] = Expect("ok", good=True)  # a JPEG under an unknown extension
    write_still(folder / "snapshot.img", frames[12], "RGB", format="JPEG")
    write_still(add("tiny_4x4.png", "ok", "smaller than", outcome="skipped"), frames[0], "RGB", size=(4, 4))
    # Broken files.
    good_mp4 = (folder / "h264.mp4").read_bytes()
    add("empty.mp4", "error", "empty file").write_bytes(b"")
    add("random.mp4", "error", "cannot decode video").write_bytes(np.random.default_rng(1).bytes(50_000))
    add("random.bin", "skipped", "not footage").write_bytes(np.random.default_rng(2).bytes(50_000))
    add("header_only.mp4", "error", "cannot decode video").write_bytes(good_mp4[:48])
    add("notes.txt", "skipped", "not footage").write_text("camera 3 was moved on Tuesday\n")
    jpeg = (folder / "grey.jpg").read_bytes()
    add("truncated.jpg", "error", "cannot decode image").write_bytes(jpeg[: len(jpeg) // 2])
    streamable = Encoding("libx264", "matroska", options=(("preset", "ultrafast"), ("x264-params", "keyint=3")))
    truncated_source = write_video(outside / "streamable.mkv", frames[:12], streamable)
    data = truncated_source.read_bytes()
    for k in range(10):
        cut = len(data) * (k + 1) // 11
        # Each decodes a prefix or is an error row: which one depends on where the cut falls.
        add(f"truncated_{k:02d}.mkv", "ok|error").write_bytes(data[:cut])
    # Links: inside the root (followed), a second name for a file here, dangling, leaving the root.
    library = raw_root / "library"
    write_video(library / "kept elsewhere.mp4", frames[2:10])
    os.symlink(library / "kept elsewhere.mp4", folder / "linked_in_root.mp4")
    expect["linked_in_root.mp4"] = Expect("ok", good=True)
    os.symlink("h264.mp4", add("second_name.mp4", "skipped", "second name"))
    os.symlink("gone.mp4", add("dangling.mp4", "error", "dangling link"))
    write_video(outside / "elsewhere.mp4", frames[:6])
    os.symlink(outside / "elsewhere.mp4", add("outside.mp4", "skipped", "link outside the footage root"))
    # Neither footage nor file: a FIFO would block a reader for ever.
    os.mkfifo(add("pipe.mp4", "skipped", "not a regular file"))
    # Ignored without a row: hidden names, and all inside hidden folders.
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumbs").mkdir()
    (folder / ".thumbs" / "a.jpg").write_bytes(jpeg)
    sources = {name: (folder / name).resolve() for name, e in expect.items() if e.good}
    return Corpus(folder, expect, skipped, sources)


def copy_good(corpus: Corpus, raw_root: Path, day: str, camera: str) -> Path:
    """The same camera-day holding only the corpus's good files (links replaced by their bytes)."""
    folder = raw_root / day / camera
    for name, source in corpus.good_sources.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        os.utime(target, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))  # same mtime: same start time
    return folder
