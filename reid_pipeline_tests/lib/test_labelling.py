"""Ground-truth tooling: label files round-trip, the stored truth rebuilds from its parts, views render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.cli import main
from reid_pipeline.lib.evaluation.labelling import (
    LabelBox,
    check_labels,
    draw_boxes,
    identity_strip,
    label_frames,
    merge_parts,
    motion_proposals,
    read_labels,
    write_labels,
    zoom_view,
)
from reid_pipeline_tests.conftest import write_synthetic_clip

TRUTH = Path(__file__).parents[1] / "data" / "vtest_truth"


def test_label_file_round_trips(tmp_path: Path) -> None:
    boxes = [LabelBox(16, 2, 10, 20, 30, 90), LabelBox(6, 1, 300, 200, 25, 80), LabelBox(6, 3, 5, 5, 8, 9, conf=0)]
    path = write_labels(tmp_path / "gt.txt", boxes)
    assert path.read_text().splitlines()[0] == "6,1,300,200,25,80,1,-1,-1,-1"
    assert sorted(read_labels(path), key=lambda b: (b.frame, b.person)) == sorted(
        boxes, key=lambda b: (b.frame, b.person)
    )
    (tmp_path / "bad.txt").write_text("# comment\n6,1,300,200,25\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2"):
        read_labels(tmp_path / "bad.txt")


def test_the_stored_ground_truth_rebuilds_from_its_parts(tmp_path: Path) -> None:
    out = tmp_path / "gt.txt"
    args = ["review", "truth", "merge", "--parts", str(TRUTH / "parts"), "--identities", str(TRUTH / "identities.csv")]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_text() == (TRUTH / "vtest_gt.txt").read_text()
    boxes = read_labels(out)
    assert check_labels(boxes, label_frames(6, 786, 10), 768, 576) == []
    assert {b.frame for b in boxes} == set(label_frames(6, 786, 10)), "every labelled frame has people"
    assert len({b.person for b in boxes}) == 12


def test_merge_refuses_unmapped_ids_and_two_boxes_of_one_person() -> None:
    part = [LabelBox(6, 101, 0, 0, 5, 10), LabelBox(6, 102, 20, 0, 5, 10)]
    with pytest.raises(ValueError, match="part id 102 has no person"):
        merge_parts([part], {101: 1})
    with pytest.raises(ValueError, match="person 1 has two boxes"):
        merge_parts([part], {101: 1, 102: 1})


def test_check_finds_what_a_labeller_must_fix() -> None:
    boxes = [
        LabelBox(6, 1, 760, 10, 20, 20),  # leaves the frame on the right
        LabelBox(7, 2, 10, 10, 20, 20),  # not a labelled frame
        LabelBox(16, 3, 10, 10, 20, 20),
        LabelBox(16, 3, 50, 10, 20, 20),  # id twice in a frame
        LabelBox(16, 0, 90, 10, 20, 20),  # counted but unnumbered
    ]
    problems = check_labels(boxes, [6, 16], 768, 576)
    assert len(problems) == 4
    assert any("leaves" in p for p in problems) and any("not one of the labelled frames" in p for p in problems)
    assert any("twice" in p for p in problems) and any("without a person number" in p for p in problems)
    with pytest.raises(ValueError, match="must be > 0"):
        LabelBox(6, 1, 10, 10, 0, 5)


def test_motion_proposals_box_the_moving_square(tmp_path: Path) -> None:
    clip = write_synthetic_clip(tmp_path / "clip.mp4", seconds=3.0, fps=10, moving=True)
    proposals = motion_proposals(clip, [25])
    assert proposals and all(b.person == 0 and b.conf == 0 for b in proposals)
    still = write_synthetic_clip(tmp_path / "still.mp4", seconds=3.0, fps=10, moving=False)
    assert motion_proposals(still, [25]) == [], "nothing moves, nothing is proposed"


def test_views_render_boxes_rulers_and_strips() -> None:
    image = np.full((576, 768, 3), 120, np.uint8)
    boxes = [LabelBox(6, 1, 100, 100, 30, 90), LabelBox(6, 0, 400, 300, 20, 60, conf=0)]
    drawn = draw_boxes(image, boxes)
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    zoom = zoom_view(image, (90, 90, 140, 200), boxes, scale=4)
    assert zoom.shape[0] > 110 * 4 and zoom.shape[1] > 50 * 4, "magnified, with ruled margins"
    strip = identity_strip({6: image, 16: image}, [LabelBox(16, 1, 0, 0, 30, 90), LabelBox(6, 1, 5, 5, 30, 90)])
    assert strip.shape[0] == 128 + 16 and strip.shape[1] >= 2 * 48
    with pytest.raises(ValueError, match="empty"):
        zoom_view(image, (800, 0, 900, 10), boxes)
