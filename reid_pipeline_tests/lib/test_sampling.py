from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.footage.sampling import (
    Frame,
    MotionGate,
    SamplingStats,
    batched,
    iter_video_frames,
    prefetch,
    read_frames,
    read_image,
)
from reid_pipeline_tests.conftest import write_synthetic_clip


def test_sampling_takes_every_fifth_frame_of_10fps_at_2fps(vtest_clip: Path) -> None:
    stats = SamplingStats()
    frames = list(iter_video_frames(vtest_clip, 2.0, stats))
    assert [f.index for f in frames] == list(range(0, 60, 5))
    assert [round(f.offset_s, 1) for f in frames[:3]] == [0.0, 0.5, 1.0]
    assert (stats.decoded, stats.sampled) == (60, 12)
    assert frames[0].image.shape == (576, 768, 3)


def test_no_sampling_rate_gives_every_frame_and_until_stops_early(vtest_clip: Path) -> None:
    assert len(list(iter_video_frames(vtest_clip, None))) == 60
    assert [f.index for f in iter_video_frames(vtest_clip, None, until_s=1.0)] == list(range(10))


def test_read_frames_matches_sampled_frames(vtest_clip: Path) -> None:
    sampled = {f.index: f.image for f in iter_video_frames(vtest_clip, 2.0)}
    picked = {f.index: f.image for f in read_frames(vtest_clip, [25, 5, 50])}
    assert sorted(picked) == [5, 25, 50]
    for index, image in picked.items():
        assert np.array_equal(image, sampled[index])


def test_motion_gate_skips_a_static_scene_but_keeps_key_frames(tmp_path: Path) -> None:
    still = write_synthetic_clip(tmp_path / "still.mp4", seconds=3.0, moving=False)
    gate = MotionGate(threshold=0.002, keyframe_interval_s=1.0)
    admitted = [f.index for f in iter_video_frames(still, 10.0) if gate.admit(f)]
    assert admitted == [0, 10, 20]  # the first frame and one key frame a second


def test_motion_gate_admits_movement(tmp_path: Path) -> None:
    moving = write_synthetic_clip(tmp_path / "moving.mp4", seconds=2.0, moving=True)
    gate = MotionGate(threshold=0.002, keyframe_interval_s=100.0)
    frames = list(iter_video_frames(moving, 2.0))
    assert all(gate.admit(f) for f in frames)


def test_motion_gate_on_pixels() -> None:
    gate = MotionGate(threshold=0.01, keyframe_interval_s=100.0)
    blank = np.zeros((100, 200, 3), np.uint8)
    assert gate.admit(Frame(0, 0.0, blank))
    assert not gate.admit(Frame(1, 0.5, blank.copy()))
    changed = blank.copy()
    changed[20:60, 50:120] = 255
    assert gate.changed_share(changed) > 0.1
    assert gate.admit(Frame(2, 1.0, changed))


@pytest.mark.parametrize(("n", "size", "expected"), [(0, 3, []), (5, 2, [2, 2, 1]), (6, 3, [3, 3])])
def test_batched(n: int, size: int, expected: list[int]) -> None:
    assert [len(b) for b in batched(range(n), size)] == expected


def test_prefetch_keeps_order_and_reraises() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError, match="decoder died"):
        list(prefetch(broken()))


def test_truncated_video_yields_what_decodes(tmp_path: Path, vtest: Path) -> None:
    broken = tmp_path / "truncated.avi"
    data = vtest.read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # AVI keeps its header in front: the start still plays
    stats = SamplingStats()
    frames = list(iter_video_frames(broken, 2.0, stats))
    assert 0 < stats.decoded < 795
    assert len(frames) == stats.sampled > 0


def test_a_large_still_is_decoded_at_a_bounded_size(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "big.jpg"
    Image.new("RGB", (10000, 7500), (120, 60, 30)).save(path, quality=80)
    frame = read_image(path)
    assert frame.image.shape == (3072, 4096, 3) and frame.scale == pytest.approx(0.4096)
    assert read_image(path, max_side=20000).image.shape == (7500, 10000, 3)


def test_stills_opencv_cannot_read_come_through_pillow(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "still.gif"
    Image.new("RGB", (64, 48), (0, 200, 0)).save(path)
    frame = read_image(path)
    assert frame.image.shape == (48, 64, 3) and frame.scale == 1.0
    assert tuple(frame.image[10, 10]) == pytest.approx((0, 200, 0), abs=8)  # BGR


def test_stats_add_up_per_file() -> None:
    total = SamplingStats(decoded=3, sampled=2, errors=["a"])
    total.add(SamplingStats(decoded=5, sampled=4, motion_skipped=1, too_small=2, errors=["b"]))
    assert (total.decoded, total.sampled, total.detected, total.errors) == (8, 6, 3, ["a", "b"])
