"""The detections thumbnail: the busiest frame of a real clip, boxes drawn, scaled down."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from reid_pipeline.lib.detection.thumbnail import COLOURS, busiest_frame, detection_thumbnail


def _row(frame: int, box: list[float], entity_type: str = "person") -> dict[str, object]:
    return {"file_id": "f", "path": "synthetic.mp4", "frame_index": frame, "bbox": box, "entity_type": entity_type}


def test_thumbnail_draws_the_busiest_frame(synthetic_clip: Path) -> None:
    rows = [
        _row(3, [20.0, 40.0, 120.0, 200.0]),
        _row(3, [200.0, 40.0, 300.0, 200.0], "vehicle"),
        _row(9, [250.0, 200.0, 310.0, 236.0]),
    ]
    manifest = [{"file_id": "f", "kind": "video"}]
    jpeg = detection_thumbnail(rows, manifest, synthetic_clip.parent, max_side=160)
    assert jpeg is not None
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert max(image.shape[:2]) == 160  # 320x240 scaled to fit 160
    # The vehicle box of frame 3 is drawn (its left edge at x=200 -> 100 after scaling); frame 9's box is not.
    edge = image[40:90, 99:102].reshape(-1, 3).astype(int)
    assert np.abs(edge - np.array(COLOURS["vehicle"])).sum(axis=1).min() < 90
    corner = image[103:117, 127:153].reshape(-1, 3).astype(int)
    assert np.abs(corner - np.array(COLOURS["person"])).sum(axis=1).min() > 90


def test_no_detections_no_thumbnail(synthetic_clip: Path) -> None:
    assert detection_thumbnail([], [{"file_id": "f", "kind": "video"}], synthetic_clip.parent) is None
    gone = [_row(0, [1, 1, 5, 5]) | {"path": "missing.mp4"}]
    assert detection_thumbnail(gone, [{"file_id": "f", "kind": "video"}], synthetic_clip.parent) is None


def test_busiest_frame_picks_the_rows_of_the_frame_with_most_boxes_first_on_a_tie() -> None:
    rows = [
        _row(3, [0.0, 0.0, 1.0, 1.0]) | {"detection_id": "a"},
        _row(5, [0.0, 0.0, 1.0, 1.0]) | {"detection_id": "b"},
        _row(5, [2.0, 0.0, 3.0, 1.0]) | {"detection_id": "c"},
        _row(5, [0.0, 0.0, 1.0, 1.0]) | {"detection_id": "d", "file_id": "g"},
        _row(7, [0.0, 0.0, 1.0, 1.0]) | {"detection_id": "e"},
        _row(7, [2.0, 0.0, 3.0, 1.0]) | {"detection_id": "f"},
    ]
    assert [r["detection_id"] for r in busiest_frame(pa.Table.from_pylist(rows))] == ["b", "c"]
    assert busiest_frame(pa.Table.from_pylist(rows).slice(0, 0)) == []
