"""``eval pipeline`` on the real demo footage, and the stored ground truth reproduced from its labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reid_pipeline.cli import main

TRUTH = Path(__file__).parent / "data" / "vtest_truth" / "vtest_gt.txt"
LABELS = Path(__file__).parent / "data" / "vtest_hog_regression"
# The configuration the regression fixture's tracklets came from: HOG boxes, plain IoU, no stitching.
HOG_REGRESSION = {
    "REID_DETECTION__OFFLINE_DETECTOR": "hog",
    "REID_DETECTION__STITCH_MAX_GAP_S": "0",
    "REID_DETECTION__TRACK_MATCH_BUFFER": "0",
}


@pytest.mark.slow
def test_eval_pipeline_on_the_hand_labelled_ground_truth(
    vtest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    args = ["eval", "pipeline", "--labels", str(TRUTH), "--work-dir", str(tmp_path / "eval")]
    args += ["--write-labels", str(tmp_path / "labels")]
    assert main([*args, "--data-root", str(tmp_path / "data"), "--profile", "offline", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    identity, tracking = report["identity"], report["tracking"]
    # The run's labelled tracklets, ready for `eval clustering --labels`; every person entity counted.
    written = Path(report["tracklet_labels_csv"]).read_text().splitlines()
    assert written[0] == "tracklet_id,identity" and len(written) == 1 + identity["labelled_tracklets"]
    assert report["person_entities"] > 0
    # SSD's tight boxes land on the hand-drawn ones: most of the 12 people get tracklets of their own.
    assert identity["people"] >= 8 and report["matched_to_ground_truth"] >= 150
    for subset in ("all_pairs", "cross_camera", "cross_day"):
        assert identity[subset]["true_pairs"] > 0 and 0.0 <= identity[subset]["f1"] <= 1.0
    assert tracking["global_entities"]["idf1"] >= tracking["tracklets_only"]["idf1"] > 0.0


@pytest.mark.slow
def test_hog_regression_fixture_still_reproduces_from_its_labels(
    vtest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in HOG_REGRESSION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    work = tmp_path / "eval"
    gt = LABELS / "vtest_gt.txt"
    args = ["eval", "pipeline", "--labels", str(gt), "--work-dir", str(work), "--data-root", str(tmp_path / "data")]
    assert main([*args, "--profile", "offline", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    identity, tracking = report["identity"], report["tracking"]
    assert report["profile"] == "offline" and identity["people"] == 7
    assert identity["labelled_tracklets"] >= 40 and report["matched_to_ground_truth"] >= 300
    for subset in ("all_pairs", "cross_camera", "cross_day"):
        assert identity[subset]["true_pairs"] > 0 and 0.0 <= identity[subset]["f1"] <= 1.0
    # Linking tracklets into entities must not lose identity consistency against the tracker alone.
    assert tracking["global_entities"]["idf1"] >= tracking["tracklets_only"]["idf1"] > 0.0

    # The run's tracklets are the ones the stored labels name: exporting sheets and turning the
    # labels into MOT lines again gives the stored ground truth byte for byte.
    run_root = work / "pipeline-offline"
    assert (
        main(["review", "export", "--date", "2024-05-01", "--data-root", str(run_root), "--out", str(tmp_path / "r")])
        == 0
    )
    sheet = tmp_path / "r" / "2024-05-01_gate.png"
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "r" / "2024-05-01_plaza.csv").read_text().startswith("tracklet_id,date,camera_id")
    rebuilt = tmp_path / "gt.txt"
    labels = LABELS / "tracklets.csv"
    assert main(["review", "mot", "--labels", str(labels), "--out", str(rebuilt), "--data-root", str(run_root)]) == 0
    assert rebuilt.read_text() == gt.read_text()


class _Stop(Exception):
    """Raised in place of running the demo: the test only needs the settings it would run with."""


def test_eval_pipeline_runs_in_a_local_work_folder_with_its_own_footage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reid_pipeline.defs.launch as launch
    from reid_pipeline.lib.storage.parquet import raw_footage_root
    from reid_pipeline.settings import Settings

    runs: list[Settings] = []

    def record(settings: Settings, *_args: object, **_kwargs: object) -> None:
        runs.append(settings)
        raise _Stop

    monkeypatch.setattr(launch, "run_demo_days", record)
    monkeypatch.setenv("REID_STORAGE__RAW_ROOT", str(tmp_path / "cameras"))
    monkeypatch.setenv("REID_STORAGE__LOCAL_DIR", str(tmp_path / "local"))
    args = ["eval", "pipeline", "--labels", str(LABELS / "vtest_gt.txt"), "--profile", "offline"]
    with pytest.raises(_Stop):
        main([*args, "--data-root", "s3://bucket/reid"])

    (scoped,) = runs
    work = tmp_path / "local" / "eval" / "pipeline-offline"
    assert scoped.storage.data_root == str(work), "an object-store data root is no local work folder"
    # The scratch run lays out and reads its footage in its own folder, not in the cameras' raw root.
    assert raw_footage_root(scoped.storage.data_root, scoped.storage.raw_root) == work / "raw"
