"""Default match thresholds by the stored vectors' provenance: embedding backend and site adaptation.

A threshold means something only for one kind of vector: the cosine of two ImageNet CNN vectors runs
high (they share what every photo shares), the cosine of two centred ones is spread around zero. Backbone
vectors (adaptation ``none``) take their backend's own default (``lib/embedding/thresholds.py``); adapted
ones take the value calibrated for their backend and adaptation kind below, each with what it was
calibrated on. An explicit ``identity.match_threshold`` wins over both.
"""

from __future__ import annotations

from dataclasses import dataclass

from reid_pipeline.lib.embedding.thresholds import default_match_threshold


@dataclass(frozen=True)
class CalibratedThreshold:
    match: float
    provenance: str  # what it was calibrated on, and how


VTEST = "reid_pipeline_tests/data/vtest_truth (vtest.avi, 12 people, offline profile, SSD)"
ADAPTED: dict[tuple[str, str], CalibratedThreshold] = {
    ("imagenet-cnn", "centering"): CalibratedThreshold(
        0.30, f"middle of the pairwise-F1 plateau (0.46-0.48 over 0.24-0.44) of eval clustering --sweep on {VTEST}"
    ),
    ("imagenet-cnn", "head"): CalibratedThreshold(
        0.30, f"the centred value; eval pipeline with the head: pairwise F1 0.44 (centering alone 0.46) on {VTEST}"
    ),
    ("imagenet-cnn+colour", "centering"): CalibratedThreshold(
        0.30, f"the CNN's centred value; eval pipeline: pairwise F1 0.46 on {VTEST}"
    ),
    ("imagenet-cnn+colour", "head"): CalibratedThreshold(0.30, "the CNN's centred value; not calibrated"),
}
# Centred vectors of a backend nobody calibrated (open_clip has no weights here): the CNN's value, said so.
UNCALIBRATED = CalibratedThreshold(0.30, "the ImageNet CNN's centred value; not calibrated for this backend")


def adaptation_kind(adapter_id: str | None) -> str:
    """``none``, ``centering`` or ``head`` from an adapter id (``centering-1a2b...``)."""
    if not adapter_id or adapter_id == "none":
        return "none"
    return adapter_id.split("-", 1)[0]


def default_threshold(backend: str, adaptation: str) -> CalibratedThreshold:
    """The default for vectors of ``backend`` adapted by ``adaptation`` (``none``, ``centering``, ``head``)."""
    if adaptation == "none":
        return CalibratedThreshold(default_match_threshold(backend), f"the {backend} backend's own default")
    if adaptation not in ("centering", "head"):
        raise ValueError(f"unknown site adaptation {adaptation!r}: expected none, centering or head")
    return ADAPTED.get((backend, adaptation), UNCALIBRATED)
