"""Pick and build the detector a profile asks for."""

from __future__ import annotations

from dataclasses import dataclass

from reid_pipeline.lib.detection.classes import class_ids_for
from reid_pipeline.lib.detection.hog import HogPersonDetector
from reid_pipeline.lib.detection.ssd import SsdDetector
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.detection.yolo import YoloDetector, weights_available_locally
from reid_pipeline.lib.runtime.offline import can_reach
from reid_pipeline.settings import DetectionSettings

WEIGHTS_HOST = "github.com"  # where ultralytics fetches release weights from
OFFLINE_DETECTORS = {
    "ssd": "SSD-MobileNet-v2 COCO from a pip package; people, vehicles, animals",
    "hog": "OpenCV HOG people detector; persons only",
}


@dataclass(frozen=True)
class ProfileChoice:
    """The profile that will run, and a one-line reason when ``auto`` fell back to offline."""

    profile: str
    note: str | None = None


def choose_profile(spec: DetectionSettings) -> ProfileChoice:
    """Resolve ``auto``: standard when YOLO weights are on disk or downloadable, offline otherwise."""
    if spec.profile != "auto":
        return ProfileChoice(spec.profile)
    if weights_available_locally(spec.yolo_weights):
        return ProfileChoice("standard")
    if not spec.offline and can_reach(WEIGHTS_HOST):
        return ProfileChoice("standard")
    return ProfileChoice(
        "offline",
        f"standard weights {spec.yolo_weights!r} are neither present nor downloadable: running the offline "
        f"profile ({OFFLINE_DETECTORS[spec.offline_detector]}).",
    )


def build_detector(spec: DetectionSettings, profile: str) -> Detector:
    """A ready detector for ``profile`` ('standard' or 'offline'); models load lazily on first use."""
    if profile == "standard":
        return YoloDetector(
            spec.yolo_weights,
            class_ids_for(spec.entity_types),
            confidence=spec.confidence,
            imgsz=spec.imgsz,
            device=spec.device,
            offline=spec.offline,
        )
    if profile == "offline":
        return build_offline_detector(spec, spec.offline_detector)
    raise ValueError(f"unknown detection profile {profile!r}: use 'standard', 'offline' or 'auto'")


def build_offline_detector(spec: DetectionSettings, name: str) -> Detector:
    """The offline profile's detector ``name`` ('ssd' or 'hog'), limited to ``spec.entity_types``."""
    if name == "ssd":
        scores: dict[str, float] = {
            etype: spec.ssd_min_scores.get(etype, spec.confidence) for etype in spec.entity_types
        }
        return SsdDetector(scores, graph=spec.ssd_graph, config=spec.ssd_config, runtime=spec.ssd_runtime)
    if name == "hog":
        if "person" not in spec.entity_types:
            raise ValueError("the HOG detector finds persons only, and detection.entity_types leaves them out")
        return HogPersonDetector(confidence=spec.confidence, win_stride=spec.hog_win_stride)
    raise ValueError(f"unknown offline detector {name!r}: use 'ssd' or 'hog'")
