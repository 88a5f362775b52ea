"""Default match thresholds per embedding backend and site adaptation, each with where it came from.

A threshold means something only for one kind of vector: the cosine of two ImageNet CNN vectors runs
high (they share what every photo shares), the cosine of two centred ones is spread around zero. So
the default follows the stored vectors' provenance: their backend (``model`` column) and the kind of
site adaptation that made them (``adapter_id``). An explicit ``identity.match_threshold`` wins.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CalibratedThreshold:
    match: float
    provenance: str  # what it was calibrated on, and how


VTEST = "eval pipeline on reid_pipeline_tests/data/vtest_truth (vtest.avi, 12 people, offline profile, SSD)"
THRESHOLDS: dict[tuple[str, str], CalibratedThreshold] = {
    ("open_clip", "none"): CalibratedThreshold(0.85, "set by hand for ViT-B-16/openai; not yet calibrated here"),
    ("open_clip", "centering"): CalibratedThreshold(0.35, "set by hand (centred CLIP cosines); not yet calibrated"),
    ("open_clip", "head"): CalibratedThreshold(0.35, "set by hand (centred CLIP cosines); not yet calibrated"),
    ("imagenet-cnn", "none"): CalibratedThreshold(
        0.90, f"earlier default; eval clustering --sweep F1 swings 0.32-0.48 between 0.80 and 0.90 on {VTEST}"
    ),
    ("imagenet-cnn", "centering"): CalibratedThreshold(
        0.30, f"middle of the pairwise-F1 plateau (0.46-0.48 over 0.24-0.44) of eval clustering --sweep; {VTEST}"
    ),
    ("imagenet-cnn", "head"): CalibratedThreshold(
        0.30, f"eval pipeline with the head, the centred value kept (F1 0.44 vs 0.46 centred); {VTEST}"
    ),
    ("imagenet-cnn+colour", "none"): CalibratedThreshold(0.85, "set by hand; not calibrated on ground truth"),
    ("imagenet-cnn+colour", "centering"): CalibratedThreshold(0.30, "as imagenet-cnn centred; not calibrated"),
    ("imagenet-cnn+colour", "head"): CalibratedThreshold(0.30, "as imagenet-cnn centred; not calibrated"),
}


def adaptation_kind(adapter_id: str | None) -> str:
    """``none``, ``centering`` or ``head`` from an adapter id (``centering-1a2b...``)."""
    if not adapter_id or adapter_id == "none":
        return "none"
    return adapter_id.split("-", 1)[0]


def default_threshold(backend: str, adaptation: str) -> CalibratedThreshold:
    """The calibrated default for vectors of ``backend`` adapted by ``adaptation``; unknown backends are
    treated like open_clip (the standard profile's model family)."""
    known = THRESHOLDS.get((backend, adaptation)) or THRESHOLDS.get(("open_clip", adaptation))
    if known is None:
        raise ValueError(f"no default threshold for site adaptation {adaptation!r}: set identity.match_threshold")
    return known
