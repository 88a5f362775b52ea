"""Each embedding backend's default threshold for "same identity", looked up by the backend name that
the stored vectors carry (the pipeline matches stored vectors, so the profile of the moment cannot decide)."""

from __future__ import annotations

from reid_pipeline.lib.embedding.imagenet_backend import COLOUR_BACKEND, ImageNetEmbedder
from reid_pipeline.lib.embedding.open_clip_backend import OpenClipEmbedder
from reid_pipeline.lib.embedding.osnet_backend import OsnetEmbedder

MATCH_THRESHOLDS = {
    OpenClipEmbedder.backend: OpenClipEmbedder.match_threshold,
    ImageNetEmbedder.backend: ImageNetEmbedder.match_threshold,
    COLOUR_BACKEND: ImageNetEmbedder.colour_match_threshold,
    OsnetEmbedder.backend: OsnetEmbedder.match_threshold,
}


def default_match_threshold(backend: str) -> float:
    """The backend's own threshold; an unknown backend (a plug-in, synthetic test vectors) gets CLIP's."""
    return MATCH_THRESHOLDS.get(backend, OpenClipEmbedder.match_threshold)
