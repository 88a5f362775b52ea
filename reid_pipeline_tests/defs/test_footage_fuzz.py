"""Fuzz the footage intake through real camera_day_job runs: every file accounted for, nothing dies.

The corpus is generated here (see ``footage_corpus.py``): codecs, containers, sizes, names, links,
broken and odd files. A second run over the good files alone must give the same detections.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from reid_pipeline.cli import main
from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import camera_day_key
from reid_pipeline.lib.footage.files import footage_files
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place
from reid_pipeline_tests.footage_corpus import build_corpus, copy_good, vtest_frames, write_video

DAY = "2024-05-01"
CAMERA = "fuzz"
COMPARED = ("detection_id", "path", "frame_index", "timestamp", "bbox", "score", "class_name", "entity_type")


def _run_job(settings: Settings) -> tuple[dg.ExecuteInProcessResult, dict[str, pa.Table]]:
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cameras", [CAMERA])
    job = defs.resolve_job_def("camera_day_job")
    result = job.execute_in_process(partition_key=camera_day_key(DAY, CAMERA), instance=instance, raise_on_error=False)
    store = ParquetStore(settings.storage.data_root)
    part = {"date": DAY, "camera": CAMERA}
    names = ("footage_manifest", "footage_outcomes", "detections", "tracklets", "crops")
    return result, {name: store.read(name, part) for name in names}


def _relative(path: str) -> str:
    return path.split("/", 2)[2]


def _detections(table: pa.Table, paths: set[str]) -> list[tuple[object, ...]]:
    rows = [tuple(row[c] for c in COMPARED) for row in table.select(list(COMPARED)).to_pylist()]
    return sorted(row for row in rows if _relative(str(row[1])) in paths)


@pytest.mark.slow
def test_fuzz_corpus_through_camera_day_job(
    make_settings: Callable[..., Settings], vtest: Path, tmp_path: Path
) -> None:
    settings = make_settings(detection={"profile": "offline", "offline": True})
    raw = Path(settings.storage.data_root) / "raw"
    corpus = build_corpus(vtest, raw, DAY, CAMERA, tmp_path / "outside")
    assert not corpus.skipped_codecs, corpus.skipped_codecs  # the installed PyAV wheel encodes them all

    result, tables = _run_job(settings)

    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    manifest = {_relative(r["path"]): r for r in tables["footage_manifest"].to_pylist()}
    outcomes = {_relative(r["path"]): r for r in tables["footage_outcomes"].to_pylist()}
    on_disk = {p.relative_to(corpus.folder).as_posix() for p in footage_files(corpus.folder)}
    # Every file is accounted for, once, in both tables; hidden names are the only ones left out.
    assert set(manifest) == set(outcomes) == on_disk == set(corpus.expect)
    assert len(outcomes) == tables["footage_outcomes"].num_rows == 49
    for name, expect in corpus.expect.items():
        row, outcome = manifest[name], outcomes[name]
        assert row["status"] in expect.status.split("|"), (name, row)
        assert outcome["status"] == (expect.outcome or row["status"]), (name, outcome)
        if row["status"] != "ok":
            assert name in str(row["error"]) and expect.reason in str(row["error"]), (name, row["error"])
        if expect.outcome:
            assert expect.reason in str(outcome["reason"]), (name, outcome)
        # No process died: a crash contained in the worker would be an error outcome saying so.
        assert "crashed" not in str(outcome["reason"]), (name, outcome["reason"])
    truncated = [outcomes[f"truncated_{k:02d}.mkv"] for k in range(10)]
    assert {o["status"] for o in truncated} == {"ok", "error"}  # early cuts lose every frame, later ones keep a prefix
    assert all(o["frames_decoded"] < 12 for o in truncated)
    assert outcomes["huge_9000x6750.jpg"]["detections"] > 0 and outcomes["uhd_4k.mp4"]["detections"] > 0
    detected = {_relative(p) for p in tables["detections"].column("path").to_pylist()}
    assert detected <= {name for name, o in outcomes.items() if o["status"] == "ok"}

    # The good files alone, in a second data root: the same detections, box for box.
    good_settings = settings.model_copy(
        update={"storage": settings.storage.model_copy(update={"data_root": str(tmp_path / "good")})}
    )
    copy_good(corpus, tmp_path / "good" / "raw", DAY, CAMERA)
    good_result, good_tables = _run_job(good_settings)
    assert good_result.success
    good = {name for name, e in corpus.expect.items() if e.good}
    assert _detections(tables["detections"], good) == _detections(good_tables["detections"], good)
    assert len(_detections(good_tables["detections"], good)) > 100


@pytest.mark.slow
def test_a_96x64_clip_next_to_a_good_one_through_reid_pipeline_run(
    make_settings: Callable[..., Settings],
    vtest: Path,
    vtest_clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run that used to die in OpenCV's HOG: the small clip is skipped, the good one fully processed."""
    settings = make_settings()
    root = Path(settings.storage.data_root)
    folder = place(root / "raw", DAY, "gate", vtest_clip, names=["08-00-00.mp4"])
    write_video(folder / "08-05-00.mp4", vtest_frames(vtest, 8, size=(96, 64)))
    monkeypatch.setenv("REID_DETECTION__OFFLINE_DETECTOR", "hog")
    monkeypatch.chdir(tmp_path)

    code = main(["run", "--date", DAY, "--data-root", str(root), "--profile", "offline"])

    assert code == 0
    store = ParquetStore(str(root))
    part = {"date": DAY, "camera": "gate"}
    outcomes = {Path(r["path"]).name: r for r in store.read("footage_outcomes", part).to_pylist()}
    assert outcomes["08-05-00.mp4"]["status"] == "skipped" and "96x64" in str(outcomes["08-05-00.mp4"]["reason"])
    assert outcomes["08-00-00.mp4"]["status"] == "ok" and outcomes["08-00-00.mp4"]["tracklets"] > 0
    detections = store.read("detections", part)
    assert detections.num_rows == outcomes["08-00-00.mp4"]["detections"] > 0
    assert set(detections.column("backend").to_pylist()) == {"opencv-hog"}
    tracklets, crops = store.read("tracklets", part), store.read("crops", part)
    assert set(tracklets.column("tracklet_id").to_pylist()) == set(detections.column("tracklet_id").to_pylist())
    assert crops.num_rows == detections.num_rows
