from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.footage import files as footage
from reid_pipeline.lib.footage.files import build_manifest, file_fingerprint, footage_files, list_camera_days
from reid_pipeline_tests.conftest import place, write_synthetic_clip
from reid_pipeline_tests.conftest import write_still as write_exif_still
from reid_pipeline_tests.footage_corpus import ENCODINGS, encoder_missing, vtest_frames, write_still, write_video

DAY = "2024-05-01"


def test_manifest_of_a_mixed_folder(tmp_path: Path, vtest_clip: Path) -> None:
    raw = tmp_path / "raw"
    folder = place(raw, DAY, "cam1", vtest_clip, names=["08-00-00.mp4"])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "corrupt.avi").write_bytes(b"RIFF" + bytes(range(256)) * 40)
    truncated = vtest_clip.read_bytes()[:4000]
    (folder / "truncated.mp4").write_bytes(truncated)
    (folder / "copy.mp4").write_bytes(vtest_clip.read_bytes())
    (folder / "notes.txt").write_text("not footage")
    (folder / ".hidden.mp4").write_bytes(b"x")

    rows = {Path(r.path).name: r for r in build_manifest(raw, DAY, "cam1", UTC)}

    assert set(rows) == {"08-00-00.mp4", "empty.mp4", "corrupt.avi", "truncated.mp4", "copy.mp4", "notes.txt"}
    good = rows["08-00-00.mp4"]
    assert good.error is None and good.status == "ok"
    assert (good.kind, good.width, good.height, good.fps, good.frame_count) == ("video", 768, 576, 10.0, 60)
    assert good.duration_s == pytest.approx(6.0, abs=0.2)
    assert good.start_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert good.time_source == "filename"
    assert good.content_hash and len(good.content_hash) == 64
    assert "empty file" in str(rows["empty.mp4"].error)
    for bad in ("corrupt.avi", "truncated.mp4"):
        assert "cannot decode video" in str(rows[bad].error)
        assert bad in str(rows[bad].error)
    assert "same content as 2024-05-01/cam1/08-00-00.mp4" in str(rows["copy.mp4"].error)
    assert "not footage" in str(rows["notes.txt"].error)
    statuses = {name: row.status for name, row in rows.items()}
    assert statuses == {
        "08-00-00.mp4": "ok",
        "empty.mp4": "error",
        "corrupt.avi": "error",
        "truncated.mp4": "error",
        "copy.mp4": "skipped",
        "notes.txt": "skipped",
    }
    assert len({r.file_id for r in rows.values()}) == len(rows), "file ids must be unique"


def test_stills_take_exif_time_then_mtime(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    folder = raw / DAY / "trail"
    folder.mkdir(parents=True)
    write_exif_still(folder / "IMG_0001.jpg", exif_time="2024:05:01 06:15:00")
    write_exif_still(folder / "IMG_0002.jpg")
    (folder / "IMG_0003.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken jpeg")

    rows = {Path(r.path).name: r for r in build_manifest(raw, DAY, "trail", UTC)}

    assert rows["IMG_0001.jpg"].time_source == "exif"
    assert rows["IMG_0001.jpg"].start_time == datetime(2024, 5, 1, 6, 15, tzinfo=UTC)
    assert rows["IMG_0002.jpg"].time_source == "mtime"
    assert (rows["IMG_0002.jpg"].kind, rows["IMG_0002.jpg"].width, rows["IMG_0002.jpg"].height) == ("image", 160, 120)
    assert "cannot decode image" in str(rows["IMG_0003.jpg"].error)


def test_container_creation_time_wins(tmp_path: Path) -> None:
    import av

    raw = tmp_path / "raw"
    folder = raw / DAY / "cam2"
    folder.mkdir(parents=True)
    clip = write_synthetic_clip(tmp_path / "plain.mp4")
    with av.open(str(clip)) as src, av.open(str(folder / "20240501_120000.mp4"), "w") as dst:
        dst.metadata["creation_time"] = "2024-05-01T07:45:00.000000Z"
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)

    (row,) = build_manifest(raw, DAY, "cam2", UTC)
    assert row.time_source == "container"
    assert row.start_time == datetime(2024, 5, 1, 7, 45, tzinfo=UTC)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="<YYYY-MM-DD>/<camera_id>"):
        build_manifest(tmp_path / "raw", DAY, "nocam", UTC)


def test_empty_camera_folder_gives_empty_manifest_and_is_not_listed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / DAY / "idle").mkdir(parents=True)
    assert build_manifest(raw, DAY, "idle", UTC) == []
    assert list_camera_days(raw) == {}


def test_list_camera_days_and_fingerprint(tmp_path: Path, synthetic_clip: Path) -> None:
    raw = tmp_path / "raw"
    folder = place(raw, DAY, "cam1", synthetic_clip)
    place(raw, "2024-05-02", "cam2", synthetic_clip)
    (raw / "not-a-date" / "cam3").mkdir(parents=True)
    assert list_camera_days(raw) == {DAY: ["cam1"], "2024-05-02": ["cam2"]}
    before = file_fingerprint(folder)
    place(raw, DAY, "cam1", synthetic_clip, names=["late.mp4"])
    assert file_fingerprint(folder) != before


def test_the_same_bytes_under_two_cameras_get_different_file_ids(tmp_path: Path) -> None:
    clip = write_synthetic_clip(tmp_path / "clip.mp4")
    raw = tmp_path / "raw"
    place(raw, "2024-05-01", "gate", clip)
    place(raw, "2024-05-01", "plaza", clip)
    (gate,) = build_manifest(raw, "2024-05-01", "gate", UTC)
    (plaza,) = build_manifest(raw, "2024-05-01", "plaza", UTC)
    assert gate.content_hash == plaza.content_hash and gate.file_id != plaza.file_id


@pytest.fixture(scope="module")
def walkers(vtest: Path) -> list[np.ndarray]:
    return vtest_frames(vtest, 8, size=(160, 120))


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("clip.webm", "vp9"),
        ("clip.m4v", "h264"),
        ("clip.ts", "h264"),
        ("clip.mts", "h264"),
        ("clip.m2ts", "h264"),
        ("clip.mpg", "mpeg2"),
        ("clip.mpeg", "mpeg2"),
        ("clip.3gp", "h264"),
        ("clip.flv", "flv"),
        ("clip.wmv", "wmv"),
    ],
)
def test_video_containers_beyond_mp4(tmp_path: Path, walkers: list[np.ndarray], name: str, codec: str) -> None:
    encoding = ENCODINGS[codec]
    missing = encoder_missing(encoding.codec)
    if missing:
        pytest.skip(missing)
    write_video(tmp_path / "raw" / DAY / "cam" / name, walkers, encoding, fps=25 if codec == "mpeg2" else 10)
    (row,) = build_manifest(tmp_path / "raw", DAY, "cam", UTC)
    assert (row.status, row.kind, row.width, row.height, row.error) == ("ok", "video", 160, 120, None)


@pytest.mark.parametrize("name", ["still.bmp", "still.tif", "still.tiff", "still.webp", "still.png", "still.jpeg"])
def test_still_formats(tmp_path: Path, walkers: list[np.ndarray], name: str) -> None:
    write_still(tmp_path / "raw" / DAY / "trail" / name, walkers[0])
    (row,) = build_manifest(tmp_path / "raw", DAY, "trail", UTC)
    assert (row.status, row.kind, row.width, row.height) == ("ok", "image", 160, 120)


def test_content_decides_not_the_extension(tmp_path: Path, walkers: list[np.ndarray]) -> None:
    raw = tmp_path / "raw"
    folder = raw / DAY / "cam"
    write_video(folder / "export.dav", walkers, ENCODINGS["h264-in-mp4"])  # unknown extension, a video inside
    write_still(folder / "snap.img", walkers[1], format="JPEG")  # unknown extension, a still inside
    write_still(folder / "mislabelled.mp4", walkers[2], format="JPEG")  # a still named like a video
    (folder / "readme.md").write_text("# camera 3\n")

    rows = {Path(r.path).name: r for r in build_manifest(raw, DAY, "cam", UTC)}

    assert (rows["export.dav"].status, rows["export.dav"].kind) == ("ok", "video")
    assert (rows["snap.img"].status, rows["snap.img"].kind) == ("ok", "image")
    assert (rows["mislabelled.mp4"].status, rows["mislabelled.mp4"].kind) == ("ok", "image")
    assert rows["readme.md"].status == "skipped" and rows["readme.md"].kind == "other"
    assert "readme.md: not footage" in str(rows["readme.md"].error)


def test_links_inside_followed_outside_reported_duplicates_skipped(tmp_path: Path, synthetic_clip: Path) -> None:
    raw = tmp_path / "raw"
    folder = place(raw, DAY, "cam", synthetic_clip, names=["b_real.mp4"])
    library = place(raw, "library", "kept", write_synthetic_clip(tmp_path / "other.mp4", seconds=1.0))
    outside = write_synthetic_clip(tmp_path / "outside.mp4", seconds=1.5)
    os.symlink(library / "other.mp4", folder / "from_library.mp4")
    os.symlink("b_real.mp4", folder / "a_second_name.mp4")  # sorts first, but the real file is the one kept
    os.symlink("missing.mp4", folder / "dangling.mp4")
    os.symlink(outside, folder / "escapes.mp4")
    os.symlink(library, folder / "folder_link")
    os.symlink("loop_b.mp4", folder / "loop_a.mp4")
    os.symlink("loop_a.mp4", folder / "loop_b.mp4")

    rows = {Path(r.path).name: r for r in build_manifest(raw, DAY, "cam", UTC)}

    assert {name: r.status for name, r in rows.items()} == {
        "b_real.mp4": "ok",
        "from_library.mp4": "ok",
        "a_second_name.mp4": "skipped",
        "dangling.mp4": "error",
        "escapes.mp4": "skipped",
        "folder_link": "skipped",
        "loop_a.mp4": "error",
        "loop_b.mp4": "error",
    }
    assert "a second name (link) for 2024-05-01/cam/b_real.mp4" in str(rows["a_second_name.mp4"].error)
    assert "dangling link to missing.mp4" in str(rows["dangling.mp4"].error)
    assert "escapes.mp4: link outside the footage root" in str(rows["escapes.mp4"].error)
    assert "links_outside_root" in str(rows["escapes.mp4"].error)
    assert "link to a folder" in str(rows["folder_link"].error)

    allowed = {Path(r.path).name: r for r in build_manifest(raw, DAY, "cam", UTC, links_outside_root=True)}
    assert allowed["escapes.mp4"].status == "ok" and allowed["escapes.mp4"].frame_count == 15


def test_every_entry_has_a_row_except_hidden_ones(tmp_path: Path, synthetic_clip: Path) -> None:
    raw = tmp_path / "raw"
    folder = place(raw, DAY, "cam", synthetic_clip)
    place(raw, DAY, "cam/08h", synthetic_clip, names=["nested.mp4"])
    (folder / ".DS_Store").write_bytes(b"\x00")
    (folder / ".sync").mkdir()
    (folder / ".sync" / "partial.mp4").write_bytes(b"\x00")
    os.mkfifo(folder / "pipe.mp4")  # opening it would block for ever

    rows = {r.path.split("/", 2)[2]: r for r in build_manifest(raw, DAY, "cam", UTC, isolate=True)}

    assert set(rows) == {"synthetic.mp4", "08h/nested.mp4", "pipe.mp4"}
    assert rows["08h/nested.mp4"].status == "ok"  # first by path; the same bytes again are a copy
    assert rows["synthetic.mp4"].status == "skipped" and "same content as" in str(rows["synthetic.mp4"].error)
    assert rows["pipe.mp4"].status == "skipped" and "not a regular file" in str(rows["pipe.mp4"].error)
    assert {p.name for p in footage_files(folder)} == {"synthetic.mp4", "nested.mp4", "pipe.mp4"}


def test_a_folder_of_only_unusable_files_is_still_listed_and_reported(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / DAY / "cam").mkdir(parents=True)
    (raw / DAY / "cam" / "Thumbs.db").write_bytes(b"\x00" * 64)
    assert list_camera_days(raw) == {DAY: ["cam"]}
    (row,) = build_manifest(raw, DAY, "cam", UTC)
    assert row.status == "skipped" and "Thumbs.db" in str(row.error)


def test_a_still_over_the_pixel_limit_is_an_error_naming_the_limit(
    tmp_path: Path, walkers: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(footage, "MAX_STILL_PIXELS", 10_000)
    write_still(tmp_path / "raw" / DAY / "trail" / "big.png", walkers[0])
    (row,) = build_manifest(tmp_path / "raw", DAY, "trail", UTC)
    assert row.status == "error" and "still too large (160x120 pixels; the limit is 0 MP)" in str(row.error)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_an_error(tmp_path: Path, synthetic_clip: Path) -> None:
    folder = place(tmp_path / "raw", DAY, "cam", synthetic_clip)
    (folder / "synthetic.mp4").chmod(0)
    (row,) = build_manifest(tmp_path / "raw", DAY, "cam", UTC)
    assert row.status == "error" and "cannot read it" in str(row.error)


def test_fingerprint_sees_nested_files_and_survives_dangling_links(tmp_path: Path, synthetic_clip: Path) -> None:
    folder = place(tmp_path / "raw", DAY, "cam", synthetic_clip)
    os.symlink("nowhere.mp4", folder / "dangling.mp4")
    before = file_fingerprint(folder)
    place(tmp_path / "raw", DAY, "cam/sub", synthetic_clip, names=["late.mp4"])
    assert file_fingerprint(folder) != before


def test_probing_installs_nothing_after_ultralytics_patched_pillow(tmp_path: Path, walkers: list[np.ndarray]) -> None:
    import ultralytics.utils.patches  # noqa: F401  (replaces PIL.Image.open with a pip-installing version)

    folder = tmp_path / "raw" / DAY / "cam"
    write_video(folder / "export.dav", walkers, ENCODINGS["h264-in-mp4"])
    (folder / "notes.txt").write_text("not footage\n")
    rows = {Path(r.path).name: r for r in build_manifest(tmp_path / "raw", DAY, "cam", UTC)}
    assert rows["export.dav"].status == "ok"
    assert rows["notes.txt"].status == "skipped" and "pi_heif" not in str(rows["notes.txt"].error)


def test_an_image_only_ffmpeg_reads_is_kept_as_a_one_frame_video(tmp_path: Path) -> None:
    import av

    if missing := encoder_missing("dpx"):
        pytest.skip(missing)
    folder = tmp_path / "raw" / DAY / "cam"
    folder.mkdir(parents=True)
    with av.open(str(folder / "frame.dpx"), "w", format="image2") as writer:  # DPX: Pillow has no reader
        stream = writer.add_stream("dpx", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
            writer.mux(packet)
        for packet in stream.encode():
            writer.mux(packet)
    (row,) = build_manifest(tmp_path / "raw", DAY, "cam", UTC)
    assert (row.status, row.kind, row.width, row.height) == ("ok", "video", 64, 48)
