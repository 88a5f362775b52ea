from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reid_pipeline.lib.footage import build_manifest, file_fingerprint, list_camera_days
from reid_pipeline_tests.conftest import place, write_still, write_synthetic_clip

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

    assert set(rows) == {"08-00-00.mp4", "empty.mp4", "corrupt.avi", "truncated.mp4", "copy.mp4"}
    good = rows["08-00-00.mp4"]
    assert good.error is None
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
    assert len({r.file_id for r in rows.values()}) == len(rows), "file ids must be unique"


def test_stills_take_exif_time_then_mtime(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    folder = raw / DAY / "trail"
    folder.mkdir(parents=True)
    write_still(folder / "IMG_0001.jpg", exif_time="2024:05:01 06:15:00")
    write_still(folder / "IMG_0002.jpg")
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
