"""Pick and build the embedder a profile asks for."""

from __future__ import annotations

from pathlib import Path

from reid_pipeline.lib.detection.factory import ProfileChoice
from reid_pipeline.lib.embedding.imagenet_backend import ImageNetEmbedder
from reid_pipeline.lib.embedding.open_clip_backend import RANDOM_WEIGHTS, OpenClipEmbedder, open_clip_weights_cached
from reid_pipeline.lib.embedding.osnet_backend import OsnetEmbedder, is_osnet
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.runtime.offline import can_reach
from reid_pipeline.settings import EmbeddingSettings

WEIGHTS_HOST = "huggingface.co"  # where open_clip fetches pretrained weights from


def choose_embedding_profile(spec: EmbeddingSettings) -> ProfileChoice:
    """Resolve ``auto``: standard when open_clip weights are cached, local or downloadable, else offline."""
    if spec.profile != "auto":
        return ProfileChoice(spec.profile)
    if is_osnet(spec.model):  # re-id weights never download: a local checkpoint or nothing
        if spec.pretrained == RANDOM_WEIGHTS or Path(spec.pretrained).is_file():
            return ProfileChoice("standard")
        return ProfileChoice(
            "offline",
            f"OSNet checkpoint {spec.pretrained!r} not found: embedding with the offline profile "
            f"({spec.offline_backbone}, ImageNet weights from a package).",
        )
    if open_clip_weights_cached(spec.model, spec.pretrained):
        return ProfileChoice("standard")
    if not spec.offline and can_reach(WEIGHTS_HOST):
        return ProfileChoice("standard")
    return ProfileChoice(
        "offline",
        f"open_clip weights {spec.model}/{spec.pretrained} are neither present nor downloadable: embedding with "
        f"the offline profile ({spec.offline_backbone}, ImageNet weights from a package).",
    )


def build_embedder(spec: EmbeddingSettings, profile: str) -> Embedder:
    """A ready embedder for ``profile`` ('standard' or 'offline'); the model loads on first use.

    The standard profile runs open_clip, or OSNet when ``spec.model`` names an OSNet architecture and
    ``spec.pretrained`` its checkpoint file.
    """
    if profile == "standard" and is_osnet(spec.model):
        return OsnetEmbedder(
            spec.model,
            spec.pretrained,
            device=spec.device,
            precision=spec.precision,
            gpu_memory_fraction=spec.gpu_memory_fraction,
        )
    if profile == "standard":
        return OpenClipEmbedder(
            spec.model,
            spec.pretrained,
            device=spec.device,
            precision=spec.precision,
            gpu_memory_fraction=spec.gpu_memory_fraction,
            offline=spec.offline,
        )
    if profile == "offline":
        return ImageNetEmbedder(
            spec.offline_backbone,
            colour_weight=spec.offline_colour_weight,
            device=spec.device,
            precision=spec.precision,
            gpu_memory_fraction=spec.gpu_memory_fraction,
        )
    raise ValueError(f"unknown embedding profile {profile!r}: use 'standard', 'offline' or 'auto'")
