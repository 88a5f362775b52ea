"""Tracking metrics through py-motmetrics: its shipped TUD sequences give its published figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reid_pipeline.cli import main
from reid_pipeline.lib.evaluation.tracking import evaluate_tracking


def tud(sequence: str) -> tuple[Path, Path]:
    import motmetrics

    folder = Path(motmetrics.__file__).parent / "data" / sequence
    return folder / "gt.txt", folder / "test.txt"


@pytest.mark.parametrize(
    ("sequence", "mota", "idf1", "switches"),
    [("TUD-Campus", 0.526, 0.558, 7), ("TUD-Stadtmitte", 0.564, 0.645, 7)],  # py-motmetrics' README table
)
def test_published_figures(sequence: str, mota: float, idf1: float, switches: int) -> None:
    scores = evaluate_tracking(*tud(sequence))
    assert scores["mota"] == pytest.approx(mota, abs=0.001)
    assert scores["idf1"] == pytest.approx(idf1, abs=0.001)
    assert scores["num_switches"] == switches


def test_perfect_tracker_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, _ = tud("TUD-Campus")
    assert main(["eval", "tracking", "--gt", str(gt), "--pred", str(gt), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["mota"] == scores["idf1"] == 1.0 and scores["num_switches"] == 0
    missing = tmp_path / "nope.txt"
    assert main(["eval", "tracking", "--gt", str(gt), "--pred", str(missing)]) == 2
    assert "prediction file" in capsys.readouterr().err
