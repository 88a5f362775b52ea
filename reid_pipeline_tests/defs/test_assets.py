"""Real Dagster materializations of the camera-day assets on real and synthetic footage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from reid_pipeline.definitions import build_resources
from reid_pipeline.defs.assets.embeddings import CHECKS
from reid_pipeline.defs.jobs import CAMERA_DAY_ASSETS
from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.lib.storage.schemas import CROPS, DETECTIONS, FOOTAGE_MANIFEST, TRACKLETS
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place

DAY = "2024-05-01"


def materialize_camera_day(settings: Settings, camera: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    if camera not in instance.get_dynamic_partitions(cameras.name):  # type: ignore[arg-type]
        instance.add_dynamic_partitions(cameras.name, [camera])  # type: ignore[arg-type]
    return dg.materialize(
        CAMERA_DAY_ASSETS,
        partition_key=camera_day_key(DAY, camera),
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
    )


def read_all(settings: Settings, camera: str) -> dict[str, pa.Table]:
    store = ParquetStore(settings.storage.data_root)
    part = {"date": DAY, "camera": camera}
    names = ("footage_manifest", "detections", "crops", "tracklets", "embeddings", "attributes")
    return {name: store.read(name, part) for name in names}


@pytest.fixture
def offline_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(detection={"profile": "offline", "offline": True})


@pytest.mark.slow
def test_offline_profile_on_vtest_with_a_corrupt_file(offline_settings: Settings, vtest_clip: Path) -> None:
    raw = Path(offline_settings.storage.data_root) / "raw"
    folder = place(raw, DAY, "gate", vtest_clip, names=["08-00-00.mp4"])
    (folder / "08-10-00.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 corrupt")
    instance = dg.DagsterInstance.ephemeral()

    result = materialize_camera_day(offline_settings, "gate", instance)

    assert result.success
    tables = read_all(offline_settings, "gate")
    manifest, detections, crops, tracklets = (
        tables[k] for k in ("footage_manifest", "detections", "crops", "tracklets")
    )
    assert manifest.schema.equals(FOOTAGE_MANIFEST) and detections.schema.equals(DETECTIONS)
    assert crops.schema.equals(CROPS) and tracklets.schema.equals(TRACKLETS)
    errors = [e for e in manifest.column("error").to_pylist() if e]
    assert len(errors) == 1 and "08-10-00.mp4" in errors[0]

    det = detections.to_pylist()
    assert len(det) >= 12, "several walkers over 12 sampled frames"
    assert {d["backend"] for d in det} == {"opencv-dnn-ssd"}
    types = Counter(d["entity_type"] for d in det)
    assert types["person"] >= 12 and set(types) <= {"person", "vehicle"}, "walkers, and the parked car and van"
    assert len({d["detection_id"] for d in det}) == len(det)
    per_frame = Counter((d["frame_index"], d["track_id"]) for d in det)
    assert max(per_frame.values()) == 1, "a track appears at most once per frame"
    assert all(d["frame_index"] % 5 == 0 for d in det), "2 fps sampling of 10 fps footage"
    assert all(d["timestamp"].isoformat().startswith("2024-05-01T08:00:0") for d in det)

    crop_rows = crops.to_pylist()
    assert [c["crop_id"] for c in crop_rows] == [d["detection_id"] for d in det], "one crop per detection"
    first = cv2.imdecode(np.frombuffer(crop_rows[0]["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape[:2] == (crop_rows[0]["height"], crop_rows[0]["width"])
    best_per_tracklet = Counter(c["tracklet_id"] for c in crop_rows if c["is_best"])
    assert best_per_tracklet and max(best_per_tracklet.values()) <= 5

    summary = {t["tracklet_id"]: t for t in tracklets.to_pylist()}
    assert set(summary) == {d["tracklet_id"] for d in det}
    assert sum(t["n_detections"] for t in summary.values()) == len(det)
    for tid, row in summary.items():
        expected = sorted(
            (c for c in crop_rows if c["tracklet_id"] == tid and c["is_best"]), key=lambda c: c["best_rank"]
        )
        assert row["best_crop_ids"] == [c["crop_id"] for c in expected]
        assert row["start_time"] <= row["end_time"]

    metadata = result.asset_materializations_for_node("detections")[0].metadata
    assert metadata["profile"].value == "offline"
    assert metadata["frames_sampled"].value == 12
    crop_metadata = result.asset_materializations_for_node("crops")[0].metadata
    assert crop_metadata["tracklets_with_best_crop"].value == len(with_crops_of(crop_rows))
    assert not any("data:image" in str(v.value) for v in crop_metadata.values()), "no picture in the event log"

    embeddings, attributes = tables["embeddings"], tables["attributes"]
    crop_vectors = [r for r in embeddings.to_pylist() if r["kind"] == "crop"]
    assert sorted(r["crop_id"] for r in crop_vectors) == sorted(c["crop_id"] for c in crop_rows if c["is_best"])
    assert len(crop_vectors) < len(det), "only the best crops are embedded"
    with_crops = {t for t, row in summary.items() if row["best_crop_ids"]}
    assert {r["tracklet_id"] for r in embeddings.to_pylist() if r["kind"] == "tracklet"} == with_crops
    assert set(embeddings.column("backend").to_pylist()) == {"imagenet-cnn"}
    assert set(embeddings.column("model").to_pylist()) == {"mobilenetv2"}
    assert set(attributes.column("tracklet_id").to_pylist()) == with_crops
    assert set(attributes.column("backend").to_pylist()) == {"pixel-colours"}
    for row in attributes.to_pylist():
        assert row["summary"] != "unknown", row
        assert row["upper_color"] if row["entity_type"] == "person" else row["color"], row
    checks = result.get_asset_check_evaluations()
    assert sorted(c.check_name for c in checks) == sorted(CHECKS) and all(c.passed for c in checks)


@pytest.mark.slow
def test_rerun_replaces_partition_exactly(offline_settings: Settings, vtest_clip: Path, synthetic_clip: Path) -> None:
    raw = Path(offline_settings.storage.data_root) / "raw"
    folder = place(raw, DAY, "gate", vtest_clip, synthetic_clip, names=["08-00-00.mp4", "09-00-00.mp4"])
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_camera_day(offline_settings, "gate", instance).success
    first = read_all(offline_settings, "gate")

    second_run = materialize_camera_day(offline_settings, "gate", instance)
    assert second_run.success
    second = read_all(offline_settings, "gate")
    for name in first:
        assert first[name].equals(second[name]), f"{name} changed on an identical re-run"
    reused = second_run.asset_materializations_for_node("attributes")[0].metadata["reused_unchanged"].value
    assert reused == second["attributes"].num_rows > 0, "unchanged tracklets keep their description"

    (folder / "09-00-00.mp4").unlink()
    assert materialize_camera_day(offline_settings, "gate", instance).success
    third = read_all(offline_settings, "gate")
    assert third["footage_manifest"].num_rows == 1
    assert "09-00-00" not in " ".join(third["detections"].column("path").to_pylist())
    assert third["detections"].num_rows <= first["detections"].num_rows


def test_standard_profile_with_random_weight_yolo(make_settings: Callable[..., Settings], synthetic_clip: Path) -> None:
    settings = make_settings(
        detection={
            "profile": "standard",
            "yolo_weights": "yolov8n.yaml",
            "confidence": 0.001,
            "imgsz": 160,
            "offline": True,
        }
    )
    place(Path(settings.storage.data_root) / "raw", DAY, "yard", synthetic_clip)
    result = materialize_camera_day(settings, "yard", dg.DagsterInstance.ephemeral())
    assert result.success
    tables = read_all(settings, "yard")
    det = tables["detections"]
    # Random weights recognise nothing; what matters is that boxes flow through tracking to crops.
    assert set(det.column("backend").to_pylist()) <= {"ultralytics-yolo"}
    assert set(det.column("model").to_pylist()) <= {"yolov8n.yaml"}
    assert tables["crops"].num_rows == det.num_rows
    assert tables["tracklets"].num_rows == len(set(det.column("tracklet_id").to_pylist()))
    assert result.asset_materializations_for_node("detections")[0].metadata["frames_sampled"].value == 4


def test_empty_camera_folder_gives_empty_tables(offline_settings: Settings) -> None:
    (Path(offline_settings.storage.data_root) / "raw" / DAY / "idle").mkdir(parents=True)
    result = materialize_camera_day(offline_settings, "idle", dg.DagsterInstance.ephemeral())
    assert result.success
    assert all(table.num_rows == 0 for table in read_all(offline_settings, "idle").values())


def test_missing_camera_folder_fails_with_the_path(offline_settings: Settings) -> None:
    result = materialize_camera_day(offline_settings, "ghost", dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "ghost" in str(failure.event_specific_data) and "<camera_id>" in str(failure.event_specific_data)


@pytest.mark.slow
def test_trail_camera_stills_flow_to_crops(offline_settings: Settings, vtest: Path) -> None:
    from PIL import Image

    from reid_pipeline.lib.footage.sampling import iter_video_frames

    folder = Path(offline_settings.storage.data_root) / "raw" / DAY / "trail"
    folder.mkdir(parents=True)
    frames = [f.image for f in iter_video_frames(vtest, 1.0, until_s=2.0)]
    for i, image in enumerate(frames):
        still = Image.fromarray(image[:, :, ::-1])
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2024:05:01 06:00:0{i}"
        still.save(folder / f"IMG_{i:04d}.jpg", exif=exif, quality=95)

    result = materialize_camera_day(offline_settings, "trail", dg.DagsterInstance.ephemeral())

    assert result.success
    tables = read_all(offline_settings, "trail")
    assert tables["footage_manifest"].column("time_source").to_pylist() == ["exif", "exif"]
    det = tables["detections"].to_pylist()
    assert {d["frame_index"] for d in det} == {0} and len({d["file_id"] for d in det}) == 2
    assert {d["timestamp"].isoformat() for d in det} == {"2024-05-01T06:00:00+00:00", "2024-05-01T06:00:01+00:00"}
    assert tables["crops"].num_rows == len(det) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "enhanced"])
def test_open_clip_embeddings_and_both_attribute_modes(
    make_settings: Callable[..., Settings], vtest_clip: Path, tmp_path: Path, mode: str
) -> None:
    """Standard embedding profile from a local checkpoint (a random-weight ViT-B-32), then CLIP zero-shot
    or a (tiny, random) vision-language model for the attributes: flow, shapes and checks, not accuracy."""
    import open_clip
    import torch

    from reid_pipeline_tests.tiny_vlm import build_tiny_vlm

    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    checkpoint = tmp_path / "vit-b-32-random.pt"
    torch.save(model.state_dict(), checkpoint)
    settings = make_settings(
        detection={"profile": "offline", "offline": True},
        embedding={"profile": "standard", "model": "ViT-B-32", "pretrained": str(checkpoint), "offline": True},
        attributes={"mode": mode, "vlm_model": str(build_tiny_vlm(tmp_path / "vlm")), "max_new_tokens": 16},
    )
    place(Path(settings.storage.data_root) / "raw", DAY, "gate", vtest_clip)

    result = materialize_camera_day(settings, "gate", dg.DagsterInstance.ephemeral())

    assert result.success
    tables = read_all(settings, "gate")
    embeddings, attributes = tables["embeddings"], tables["attributes"]
    assert embeddings.schema.field("vector").type == pa.list_(pa.float32(), 512)
    assert set(embeddings.column("backend").to_pylist()) == {"open_clip"}
    assert set(embeddings.column("model").to_pylist()) == {"ViT-B-32/vit-b-32-random.pt"}
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert attributes.num_rows == tables["tracklets"].num_rows > 0
    backend = {"fast": "clip-zero-shot", "enhanced": "vlm"}[mode]
    assert set(attributes.column("backend").to_pylist()) == {backend}
    if mode == "fast":
        # Zero-shot prompts always pick a value from the entity type's own vocabulary.
        for row in attributes.to_pylist():
            assert (row["upper_color"] if row["entity_type"] == "person" else row["color"]) is not None, row
    else:
        assert set(attributes.column("status").to_pylist()) == {"unknown"}, "random weights write no valid JSON"
        assert all(row["raw_text"] for row in attributes.to_pylist())


def with_crops_of(crop_rows: list[dict[str, object]]) -> set[object]:
    """Tracklets that have a best crop."""
    return {c["tracklet_id"] for c in crop_rows if c["best_rank"] == 1}
