"""Dagster resources: the settings of each stage, editable per run in the launchpad.

Defaults live in ``reid_pipeline.settings``; ``definitions.py`` fills these fields from it, so a
resource never holds a default of its own that could drift from the settings file.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from reid_pipeline.lib.detection.factory import ProfileChoice, build_detector, choose_profile
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.offline import configure_model_env
from reid_pipeline.lib.storage import ParquetStore
from reid_pipeline.settings import CropSettings, DetectionSettings, FootageSettings


class StorageResource(dg.ConfigurableResource):
    """Where footage is read from and tables are written to."""

    data_root: str

    @property
    def raw_root(self) -> Path:
        """Raw footage folder: ``<data_root>/raw/<YYYY-MM-DD>/<camera_id>/``."""
        return Path(self.data_root) / "raw"

    @property
    def model_config_dir(self) -> Path:
        """Private config folder for model libraries (ultralytics settings, fonts)."""
        return Path(self.data_root) / ".model_config"

    def parquet(self) -> ParquetStore:
        return ParquetStore(self.data_root)


class FootageResource(dg.ConfigurableResource):
    """How footage is timed, sampled and gated before detection."""

    start_date: str
    timezone: str
    sample_fps: float
    motion_gating: bool
    motion_threshold: float
    keyframe_interval_s: float
    batch_size: int

    def spec(self) -> FootageSettings:
        return FootageSettings(**self.model_dump())


class DetectorResource(dg.ConfigurableResource):
    """Detector profile and model settings; the model itself loads once per run, on first use."""

    profile: str
    yolo_weights: str
    imgsz: int
    confidence: float
    device: str
    tracker: str
    entity_types: list[str]
    hog_win_stride: int
    offline: bool

    _detector: Detector | None = PrivateAttr(default=None)
    _choice: ProfileChoice | None = PrivateAttr(default=None)

    def spec(self) -> DetectionSettings:
        return DetectionSettings(**self.model_dump())

    def choice(self) -> ProfileChoice:
        if self._choice is None:
            self._choice = choose_profile(self.spec())
        return self._choice

    def detector(self, model_config_dir: Path) -> Detector:
        if self._detector is None:
            configure_model_env(model_config_dir, offline=self.offline or self.choice().profile == "offline")
            self._detector = build_detector(self.spec(), self.choice().profile)
        return self._detector


class CropResource(dg.ConfigurableResource):
    """Crop quality rules and how many crops per tracklet are kept as its best."""

    min_side: int
    best_k: int
    jpeg_quality: int
    store_all: bool

    def spec(self) -> CropSettings:
        return CropSettings(**self.model_dump())
