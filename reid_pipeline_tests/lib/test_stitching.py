from __future__ import annotations

import numpy as np
import pytest

from reid_pipeline.lib.detection.stitching import (
    SIGNATURE_DIMS,
    Fragment,
    StitchSpec,
    build_fragments,
    colour_signature,
    stitch,
    summed_signatures,
)

SPEC = StitchSpec(max_gap_s=4.0, min_similarity=0.75)
RED, BLUE = np.eye(SIGNATURE_DIMS, dtype=np.float32)[0], np.eye(SIGNATURE_DIMS, dtype=np.float32)[9]


def walker(
    track: int, start: float, end: float, x0: float, speed: float = 40.0, colour: np.ndarray = RED, kind: str = "person"
) -> Fragment:
    """A 100 px tall person walking right at ``speed`` px/s, seen twice a second, at x0 when t = 0."""
    times = np.arange(start, end + 1e-9, 0.5)
    boxes = np.array([[x0 + speed * t, 200, x0 + speed * t + 35, 300] for t in times])
    return Fragment(track, kind, times, boxes, colour)


def test_joins_a_walker_lost_for_two_seconds() -> None:
    first, second = walker(1, 0, 5, 100), walker(2, 7, 12, 100)
    assert stitch([first, second], SPEC) == {1: 1, 2: 1}


def test_chains_three_fragments_in_time_order() -> None:
    parts = [walker(1, 0, 3, 50), walker(2, 4.5, 7, 50), walker(3, 9, 12, 50)]
    assert stitch(parts, SPEC) == {1: 1, 2: 1, 3: 1}


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (walker(2, 10, 14, 100), "gap of 5 s is over the 4 s limit"),
        (walker(2, 4, 9, 100), "overlaps the first in time: two people"),
        (walker(2, 7, 12, 400), "reappears 300 px ahead of where the walk leads"),
        (walker(2, 7, 12, 100, colour=BLUE), "looks different"),
        (walker(2, 7, 12, 100, kind="vehicle"), "another kind of entity"),
    ],
)
def test_refuses_implausible_joins(second: Fragment, why: str) -> None:
    assert stitch([walker(1, 0, 5, 100), second], SPEC) == {1: 1, 2: 2}, why


def test_refuses_a_different_size() -> None:
    first = walker(1, 0, 5, 100)
    small = walker(2, 7, 12, 100)
    small.boxes[:, 1] = small.boxes[:, 3] - 40  # 40 px tall instead of 100: someone far behind
    assert stitch([first, small], SPEC) == {1: 1, 2: 2}


def test_each_fragment_gets_at_most_one_successor() -> None:
    first = walker(1, 0, 5, 100)
    close, farther = walker(2, 6, 10, 100), walker(3, 6.5, 10, 130)
    root = stitch([first, close, farther], SPEC)
    assert root[2] == 1 and root[3] == 3, "the better continuation wins; the other stays apart"


def test_a_gap_of_zero_turns_stitching_off() -> None:
    assert stitch([walker(1, 0, 5, 100), walker(2, 7, 12, 100)], StitchSpec(max_gap_s=0)) == {1: 1, 2: 2}


def test_build_fragments_orders_by_time_and_pools_signatures() -> None:
    fragments = build_fragments(
        [5, 5, 7],
        ["person"] * 3,
        [2.0, 1.0, 3.0],
        [[0, 0, 1, 2], [1, 0, 2, 2], [5, 5, 6, 7]],
        summed_signatures([5, 5, 7], [RED, BLUE, RED]),
    )
    by_id = {f.track_id: f for f in fragments}
    assert by_id[5].times.tolist() == [1.0, 2.0] and by_id[5].boxes[0].tolist() == [1, 0, 2, 2]
    assert np.linalg.norm(by_id[5].signature) == pytest.approx(1.0)


def test_colour_signature_tells_a_red_top_from_a_blue_top() -> None:
    import cv2

    def person(top_bgr: tuple[int, int, int]) -> np.ndarray:
        image = np.full((200, 100, 3), 200, np.uint8)
        cv2.rectangle(image, (30, 20), (70, 100), top_bgr, -1)
        cv2.rectangle(image, (30, 100), (70, 180), (40, 40, 40), -1)
        return image

    red, red_again, blue = (
        colour_signature(person(c), (30, 20, 70, 180)) for c in [(0, 0, 220), (10, 10, 200), (220, 0, 0)]
    )
    assert float(red @ red_again) > 0.95 > float(red @ blue)
    assert not colour_signature(person((0, 0, 220)), (30, 20, 32, 180)).any(), "too thin to describe"


def test_each_fragment_gets_at_most_one_predecessor() -> None:
    start = walker(3, 7, 12, 100)
    near, farther = walker(1, 0, 5, 100), walker(2, 0, 5.5, 130)  # both could lead into the same fragment
    root = stitch([start, near, farther], SPEC)
    assert root[3] == 1 and root[2] == 2, "the cheaper predecessor keeps the link; the other stays apart"


def test_many_fragments_are_compared_only_within_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    import reid_pipeline.lib.detection.stitching as stitching

    compared: list[tuple[int, int]] = []
    real = stitching.link_cost

    def counting(a: Fragment, b: Fragment, spec: StitchSpec) -> float | None:
        compared.append((a.track_id, b.track_id))
        return real(a, b, spec)

    monkeypatch.setattr(stitching, "link_cost", counting)
    # 300 fragments, each starting 3 s after the previous one ends: only neighbours are within 4 s.
    parts = [walker(i, 4.0 * i, 4.0 * i + 1, 50.0 * (i % 10)) for i in range(300)]
    stitch(parts, SPEC)
    assert sorted(compared) == [(i, i + 1) for i in range(299)], "no all-pairs comparison"
