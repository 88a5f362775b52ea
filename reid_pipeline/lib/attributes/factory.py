"""Pick the describer: the mode switch (fast / enhanced) and the model profile decide together."""

from __future__ import annotations

from reid_pipeline.lib.attributes.pixels import PixelColourDescriber
from reid_pipeline.lib.attributes.types import Describer
from reid_pipeline.lib.attributes.vlm import VlmDescriber, vlm_available_locally
from reid_pipeline.lib.detection.factory import ProfileChoice
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.runtime.offline import can_reach
from reid_pipeline.settings import AttributeSettings

HUB_HOST = "huggingface.co"


def choose_describer(spec: AttributeSettings, embedder: Embedder, offline: bool) -> ProfileChoice:
    """``vlm``, ``clip-zero-shot`` or ``pixel-colours``, with a one-line note when the mode was downgraded.

    Fast mode reads CLIP text prompts against the stored image vectors, so it needs an embedder with a text
    side; without one (the offline profile's ImageNet CNN) attributes are measured from pixels.
    """
    if embedder.text_encoder is None:
        note = None
        if spec.mode == "enhanced":
            note = "attributes: enhanced mode needs a vision-language model; the offline profile measures colours."
        elif embedder.backend == "osnet":
            note = "attributes: fast mode reads CLIP prompts, which the osnet embedder has none of: measuring colours."
        return ProfileChoice("pixel-colours", note)
    if spec.mode == "fast":
        return ProfileChoice("clip-zero-shot")
    if vlm_available_locally(spec.vlm_model) or (not offline and can_reach(HUB_HOST)):
        return ProfileChoice("vlm")
    return ProfileChoice(
        "clip-zero-shot",
        f"attributes: vision-language model {spec.vlm_model!r} is neither present nor downloadable; using fast "
        "mode (CLIP zero-shot).",
    )


def build_describer(
    backend: str, spec: AttributeSettings, embedder: Embedder, device: str, precision: str, offline: bool
) -> Describer:
    if backend == "pixel-colours":
        return PixelColourDescriber()
    if backend == "clip-zero-shot":
        from reid_pipeline.lib.attributes.zero_shot import ClipZeroShotDescriber

        if embedder.text_encoder is None:
            raise ValueError("CLIP zero-shot attributes need the standard (open_clip) embedding profile")
        return ClipZeroShotDescriber(embedder.text_encoder)
    if backend == "vlm":
        return VlmDescriber(
            spec.vlm_model,
            device=device,
            precision=precision,
            batch_size=spec.batch_size,
            max_new_tokens=spec.max_new_tokens,
            offline=offline,
        )
    raise ValueError(f"unknown attribute backend {backend!r}: use vlm, clip-zero-shot or pixel-colours")
