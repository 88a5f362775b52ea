"""The ``Describer`` protocol and the typed request/description that flow through every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


@dataclass(frozen=True)
class DescribeRequest:
    """One tracklet to describe: its best crop (pixels) and its pooled vector (CLIP space or not)."""

    tracklet_id: str
    entity_type: str
    image: Image.Image
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class Description:
    """A validated description: every field of the entity type's vocabulary, possibly ``unknown``."""

    attributes: dict[str, Any]
    field_confidence: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # ok | repaired | unknown
    raw_text: str | None = None

    @property
    def confidence(self) -> float:
        """Mean confidence over the fields that are known; 0 when none is."""
        values = list(self.field_confidence.values())
        return sum(values) / len(values) if values else 0.0


class Describer(Protocol):
    backend: str
    model_name: str

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        """One description per request, in order; never raises for one bad answer."""
        ...
