"""The knobs of matching, in one typed object built from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reid_pipeline.lib.identity.scoring import TransitionTimes

if TYPE_CHECKING:
    from reid_pipeline.settings import IdentitySettings


@dataclass(frozen=True)
class MatchParams:
    k: int = 10
    match_threshold: float = 0.85  # fused score that joins two tracklets of one day
    link_threshold: float = 0.85  # fused score that links daily entities across days
    review_band: float = 0.05  # scores this far below a threshold are flagged for review
    attribute_weight: float = 0.2
    transitions: TransitionTimes = field(default_factory=TransitionTimes)

    @classmethod
    def from_settings(cls, identity: IdentitySettings, embedding_backend: str) -> MatchParams:
        """Matching parameters; thresholds left empty follow the default of the vectors' embedding backend."""
        from reid_pipeline.lib.embedding.thresholds import default_match_threshold

        match = identity.match_threshold
        if match is None:
            match = default_match_threshold(embedding_backend)
        return cls(
            k=identity.k,
            match_threshold=match,
            link_threshold=identity.link_threshold if identity.link_threshold is not None else match,
            review_band=identity.review_band,
            attribute_weight=identity.attribute_weight,
            transitions=TransitionTimes.parse(identity.transitions, identity.default_transition_s),
        )
