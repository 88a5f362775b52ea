from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.crops.cropping import crop_quality, mark_best, pixel_box, sharpness


@pytest.mark.parametrize(
    ("width", "height", "sharp", "truncated", "score", "expected"),
    [
        (30, 60, 500.0, False, 1.0, 0.0),  # too small: sqrt(30 * 60) = 42 is below the 50 px minimum
        (100, 200, 1e9, False, 1.0, 1.0),  # big, sharp, whole, certain
        (45, 125, 1e9, False, 1.0, 0.75),  # size sqrt(45 * 125) = 75 of the 100 that scores full
        (35, 300, 1e9, False, 1.0, 1.0),  # a tall, narrow walker is not too small
        (100, 200, 1e9, True, 1.0, 0.5),  # touches the frame border
        (100, 200, 1e9, False, 0.25, 0.5),  # sqrt of the detector score
        (100, 200, 0.0, False, 1.0, 0.0),  # a flat crop has no detail at all
    ],
)
def test_crop_quality(width: int, height: int, sharp: float, truncated: bool, score: float, expected: float) -> None:
    assert crop_quality(width, height, sharp, truncated, score, min_size=50) == pytest.approx(expected)


def test_sharpness_orders_blurred_below_detailed() -> None:
    import cv2

    detailed = np.random.default_rng(0).integers(0, 255, (200, 100, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(detailed, (15, 15), 5)
    assert sharpness(detailed) > 10 * sharpness(blurred)
    assert sharpness(np.full((200, 100, 3), 90, np.uint8)) == 0.0


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ([10.4, 20.6, 50.2, 80.9], (10, 20, 51, 81)),
        ([-5.0, -3.0, 400.0, 300.0], (0, 0, 320, 240)),
        ([319.5, 239.5, 330.0, 250.0], (319, 239, 320, 240)),  # at least one pixel
    ],
)
def test_pixel_box_clips_to_frame(bbox: list[float], expected: tuple[int, int, int, int]) -> None:
    assert pixel_box(bbox, 320, 240) == expected


def test_mark_best_picks_top_k_usable_per_tracklet() -> None:
    crops: list[dict[str, object]] = [
        {"crop_id": "a1", "tracklet_id": "a", "quality": 0.2},
        {"crop_id": "a2", "tracklet_id": "a", "quality": 0.9},
        {"crop_id": "a3", "tracklet_id": "a", "quality": 0.5},
        {"crop_id": "a4", "tracklet_id": "a", "quality": 0.5},
        {"crop_id": "b1", "tracklet_id": "b", "quality": 0.0},
    ]
    mark_best(crops, best_k=3)
    ranks = {c["crop_id"]: c["best_rank"] for c in crops}
    assert ranks == {"a1": None, "a2": 1, "a3": 2, "a4": 3, "b1": None}
    assert [c["is_best"] for c in crops] == [False, True, True, True, False]


def test_best_ranks_match_a_sort_per_tracklet_on_random_crops() -> None:
    """Ranks from the Arrow sort equal ranking each tracklet's usable crops by (-quality, crop_id) in Python,
    with ties, unusable crops and tracklets that have fewer usable crops than K."""
    import pyarrow as pa

    from reid_pipeline.lib.crops.cropping import best_ranks

    rng = np.random.default_rng(3)
    rows = [
        {
            "crop_id": f"c{i:05d}",
            "tracklet_id": f"t{rng.integers(0, 60)}",
            "quality": float(rng.choice([0.0, 0.25, 0.5, rng.random()])),
        }
        for i in rng.permutation(2000)
    ]
    expected: dict[str, int] = {}
    for tracklet in {r["tracklet_id"] for r in rows}:
        usable = [r for r in rows if r["tracklet_id"] == tracklet and r["quality"] > 0]
        usable.sort(key=lambda r: (-np.float32(r["quality"]), r["crop_id"]))
        expected.update({r["crop_id"]: rank for rank, r in enumerate(usable[:5], start=1)})
    schema = pa.schema([("crop_id", pa.string()), ("tracklet_id", pa.string()), ("quality", pa.float32())])
    ranks = best_ranks(pa.Table.from_pylist(rows, schema=schema), best_k=5).to_pylist()
    assert {r["crop_id"]: rank for r, rank in zip(rows, ranks, strict=True) if rank is not None} == expected
    assert best_ranks(schema.empty_table(), best_k=5).to_pylist() == []


def test_crops_are_written_a_chunk_at_a_time_and_the_best_are_marked_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracklet's crops fall in several chunks; its best K are still chosen among all of them."""
    import cv2
    import pyarrow as pa

    from reid_pipeline.lib.crops import cropping
    from reid_pipeline.lib.storage.schemas import CROPS
    from reid_pipeline.settings import CropSettings

    rng = np.random.default_rng(0)
    still = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    (tmp_path / "cam").mkdir()
    cv2.imwrite(str(tmp_path / "cam" / "still.png"), still)
    sizes = [40, 90, 60, 120, 50, 100, 70]  # bigger boxes score higher
    detections = pa.Table.from_pylist(
        [
            {
                "detection_id": f"d{i}",
                "date": "2024-05-01",
                "camera_id": "cam",
                "file_id": "f1",
                "path": "cam/still.png",
                "frame_index": 0,
                "timestamp": i,
                "bbox": [10.0, 10.0, 10.0 + side / 2, 10.0 + side],
                "score": 0.9,
                "tracklet_id": "t1" if i % 2 == 0 else "t2",
                "entity_type": "person",
            }
            for i, side in enumerate(sizes)
        ]
    )
    monkeypatch.setattr(cropping, "CHUNK_ROWS", 2)
    chunks: list[pa.Table] = []
    summary = cropping.write_crops(
        detections, [{"file_id": "f1", "kind": "image"}], tmp_path, CropSettings(best_k=2, min_size=40), chunks.append
    )

    assert [c.num_rows for c in chunks] == [2, 2, 2, 1], "never more than a chunk at a time"
    crops = pa.concat_tables(chunks)
    assert crops.schema.names == CROPS.names and crops.num_rows == summary.crops == len(sizes)
    best = {(r["tracklet_id"], r["best_rank"]): r["crop_id"] for r in crops.to_pylist() if r["is_best"]}
    # min_size 40: boxes under 57 px tall score 0, the rest rise with size
    assert best == {("t1", 1): "d6", ("t1", 2): "d2", ("t2", 1): "d3", ("t2", 2): "d5"}
    assert summary.best == 4 and summary.tracklets_with_best == 2
