"""Dagster resources: the settings of each stage, editable per run in the launchpad.

Defaults live in ``reid_pipeline.settings``; ``definitions.py`` fills these fields from it, so a
resource never holds a default of its own that could drift from the settings file.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from reid_pipeline.lib.attributes.factory import build_describer, choose_describer
from reid_pipeline.lib.attributes.types import Describer
from reid_pipeline.lib.detection.contained import DetectorRecipe
from reid_pipeline.lib.detection.factory import ProfileChoice, build_detector, choose_profile
from reid_pipeline.lib.detection.stitching import StitchSpec
from reid_pipeline.lib.detection.tracking import TrackingSpec
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.embedding.factory import build_embedder, choose_embedding_profile
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.runtime.offline import configure_model_env
from reid_pipeline.lib.storage.parquet import ParquetStore, join, local_folder, raw_footage_root
from reid_pipeline.settings import (
    AttributeSettings,
    CropSettings,
    DetectionSettings,
    EmbeddingSettings,
    FootageSettings,
    IdentitySettings,
)


class StorageResource(dg.ConfigurableResource):
    """Where footage is read from and tables are written to."""

    data_root: str
    raw_root: str = ""
    local_dir: str = ""

    @property
    def raw_folder(self) -> Path:
        """Raw footage folder: ``<raw_root>/<YYYY-MM-DD>/<camera_id>/`` (default ``<data_root>/raw``)."""
        return raw_footage_root(self.data_root, self.raw_root)

    @property
    def model_config_dir(self) -> Path:
        """Private config folder for model libraries (ultralytics settings, fonts): always local."""
        return local_folder(self.data_root, self.local_dir) / ".model_config"

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
    isolate_files: bool
    links_outside_root: bool

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
    track_buffer_s: float
    track_match_buffer: float
    entity_types: list[str]
    offline_detector: str
    ssd_min_scores: dict[str, float]
    ssd_graph: str
    ssd_config: str
    ssd_runtime: str
    hog_win_stride: int
    stitch_max_gap_s: float
    stitch_min_similarity: float
    offline: bool

    _detector: Detector | None = PrivateAttr(default=None)
    _choice: ProfileChoice | None = PrivateAttr(default=None)

    def spec(self) -> DetectionSettings:
        return DetectionSettings(**self.model_dump())

    def choice(self) -> ProfileChoice:
        if self._choice is None:
            self._choice = choose_profile(self.spec())
        return self._choice

    def tracking(self) -> TrackingSpec:
        return TrackingSpec.from_settings(self.spec())

    def stitching(self) -> StitchSpec:
        return StitchSpec.from_settings(self.spec())

    def detector(self, model_config_dir: Path) -> Detector:
        if self._detector is None:
            configure_model_env(model_config_dir, offline=self.offline or self.choice().profile == "offline")
            self._detector = build_detector(self.spec(), self.choice().profile)
        return self._detector

    def recipe(self, model_config_dir: Path) -> DetectorRecipe:
        """The same detector, built where it is needed: in the worker process that detects each file."""
        profile = self.choice().profile
        return DetectorRecipe(self.spec(), profile, model_config_dir, self.offline or profile == "offline")


class CropResource(dg.ConfigurableResource):
    """Crop quality rules and how many crops per tracklet are kept as its best."""

    min_size: int
    best_k: int
    jpeg_quality: int
    store_all: bool

    def spec(self) -> CropSettings:
        return CropSettings(**self.model_dump())


class EmbedderResource(dg.ConfigurableResource):
    """Embedding profile, model and batching; the model loads once per run, on first use."""

    profile: str
    model: str
    pretrained: str
    offline_backbone: str
    offline_colour_weight: float
    device: str
    precision: str
    batch_size: int
    workers: int
    gpu_memory_fraction: float
    offline: bool

    _embedder: Embedder | None = PrivateAttr(default=None)
    _choice: ProfileChoice | None = PrivateAttr(default=None)

    def spec(self) -> EmbeddingSettings:
        return EmbeddingSettings(**self.model_dump())

    def choice(self) -> ProfileChoice:
        if self._choice is None:
            self._choice = choose_embedding_profile(self.spec())
        return self._choice

    def embedder(self, model_config_dir: Path) -> Embedder:
        if self._embedder is None:
            configure_model_env(model_config_dir, offline=self.offline or self.choice().profile == "offline")
            self._embedder = build_embedder(self.spec(), self.choice().profile)
        return self._embedder


class DescriberResource(dg.ConfigurableResource):
    """Attribute mode (fast / enhanced) and vision-language model settings."""

    mode: str
    vlm_model: str
    max_new_tokens: int
    batch_size: int
    drift_threshold: float

    _describer: Describer | None = PrivateAttr(default=None)
    _choice: ProfileChoice | None = PrivateAttr(default=None)

    def spec(self) -> AttributeSettings:
        return AttributeSettings(**self.model_dump())

    def choice(self, embedder: Embedder, offline: bool) -> ProfileChoice:
        if self._choice is None:
            self._choice = choose_describer(self.spec(), embedder, offline)
        return self._choice

    def describer(self, embedding: EmbedderResource, model_config_dir: Path) -> Describer:
        """The describer for this run; fast mode shares the embedding model rather than loading another."""
        if self._describer is None:
            embedder = embedding.embedder(model_config_dir)
            backend = self.choice(embedder, embedding.offline).profile
            self._describer = build_describer(
                backend, self.spec(), embedder, embedding.device, embedding.precision, embedding.offline
            )
        return self._describer


class IdentityResource(dg.ConfigurableResource):
    """Where the identity tables live (LanceDB) and how appearances are matched."""

    lancedb_uri: str
    k: int
    match_threshold: float | None
    link_threshold: float | None
    review_band: float
    attribute_weight: float
    transitions: dict[str, float]
    default_transition_s: float
    ann_min_rows: int
    adaptation: str  # none | centering | head (site_adapter)
    adaptation_window_days: int
    adaptation_seed: int
    rerank_k: int
    chain_min_average: float | None
    transit_prior_weight: float

    def store(self, data_root: str) -> IdentityStore:
        uri = self.lancedb_uri or join(data_root, "lancedb")
        return IdentityStore(uri, self.ann_min_rows)

    def params(self, embedding_backend: str, adaptation: str = "none") -> MatchParams:
        """Matching parameters; thresholds left empty follow the default of the stored vectors' embedding
        backend and site adaptation (``lib/identity/thresholds.py``)."""
        return MatchParams.from_settings(IdentitySettings(**self.model_dump()), embedding_backend, adaptation)


class RetentionResource(dg.ConfigurableResource):
    """How many days each Parquet asset and LanceDB table keeps (unlisted tables are kept for ever), and how
    many days pictures and appearance vectors are kept wherever they are stored."""

    parquet_days: dict[str, int]
    lancedb_days: dict[str, int]
    image_days: int | None = 30
    vector_days: int | None = 90
    version_grace_s: int
