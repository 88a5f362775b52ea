"""The PyTorch SSD gives OpenCV's detections: same classes, scores and boxes, on real footage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.detection.ssd import SsdDetector
from reid_pipeline.lib.detection.ssd_network import SsdRunner, _same_padding
from reid_pipeline.lib.footage.sampling import iter_video_frames

SCORES = {"person": 0.3, "vehicle": 0.4, "animal": 0.4}


@pytest.fixture(scope="module")
def frames(vtest_clip: Path) -> list[np.ndarray]:
    return [f.image for f in iter_video_frames(vtest_clip, 2.0)][:12]


def _pairs(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Each row of ``a`` matched to the row of ``b`` of the same class with the nearest box."""
    pairs = []
    for i, row in enumerate(a):
        same = np.flatnonzero(b[:, 1] == row[1])
        assert len(same), f"class {row[1]} at {row[3:]} has no counterpart"
        pairs.append((i, int(same[np.argmin(np.abs(b[same, 3:] - row[3:]).sum(1))])))
    return pairs


def test_torch_network_gives_opencvs_rows(frames: list[np.ndarray]) -> None:
    import cv2

    net = SsdDetector(SCORES).net
    blob = cv2.dnn.blobFromImages(frames, 1.0, (300, 300), swapRB=True, crop=False)
    ours = SsdRunner(net, 300).rows(blob, 0.2)  # all 90 classes, as OpenCV scores them
    net.setInput(blob)
    reference = net.forward().reshape(-1, 7)
    reference = reference[reference[:, 2] >= 0.2]
    assert len(reference) >= 5 * len(frames)  # vtest shows several walkers in every frame
    for image in range(len(frames)):
        mine, theirs = ours[ours[:, 0] == image], reference[reference[:, 0] == image]
        # A box scoring right at the cut may fall either side of it; none other may differ.
        assert abs(len(mine) - len(theirs)) <= int(np.sum(np.abs(theirs[:, 2] - 0.2) < 1e-4))
        for i, j in _pairs(mine, theirs):
            np.testing.assert_allclose(mine[i, 2], theirs[j, 2], atol=1e-4)
            np.testing.assert_allclose(mine[i, 3:], theirs[j, 3:], atol=1e-4)


def test_scoring_only_some_classes_keeps_their_rows(frames: list[np.ndarray]) -> None:
    import cv2

    net = SsdDetector(SCORES).net
    blob = cv2.dnn.blobFromImages(frames, 1.0, (300, 300), swapRB=True, crop=False)
    every = SsdRunner(net, 300).rows(blob, 0.3)
    people_and_cars = SsdRunner(net, 300, classes=[1, 3]).rows(blob, 0.3)
    expected = every[np.isin(every[:, 1], [1, 3])]
    assert len(expected) and set(np.unique(people_and_cars[:, 1])) <= {1.0, 3.0}
    order = np.lexsort(expected[:, [3, 2, 1, 0]].T)
    np.testing.assert_allclose(
        people_and_cars[np.lexsort(people_and_cars[:, [3, 2, 1, 0]].T)], expected[order], atol=1e-5
    )


def test_both_runtimes_give_the_same_detections(frames: list[np.ndarray]) -> None:
    torch_found = SsdDetector(SCORES, runtime="torch").detect(frames[:4])
    opencv_found = SsdDetector(SCORES, runtime="opencv").detect(frames[:4])
    for ours, theirs in zip(torch_found, opencv_found, strict=True):
        assert len(ours) == len(theirs)
        order_ours, order_theirs = np.lexsort(ours.xyxy.T), np.lexsort(theirs.xyxy.T)
        np.testing.assert_allclose(ours.xyxy[order_ours], theirs.xyxy[order_theirs], atol=0.05)
        np.testing.assert_array_equal(ours.class_ids[order_ours], theirs.class_ids[order_theirs])


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SSD runtime 'onnx'"):
        SsdDetector(SCORES, runtime="onnx")


@pytest.mark.parametrize(
    ("size", "stride", "expected"),
    [(300, 2, (0, 1)), (75, 2, (1, 1)), (38, 2, (0, 1)), (19, 2, (1, 1)), (5, 2, (1, 1)), (2, 2, (0, 1))],
)
def test_same_padding_puts_the_odd_pixel_after(size: int, stride: int, expected: tuple[int, int]) -> None:
    assert _same_padding(size, 3, stride) == expected
