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
    rerank_k: int = 0  # k-reciprocal re-ranking of the candidate pairs with this k; 0 = off
    rerank_lambda: float = 0.3  # share of the original score in a re-ranked one
    transit_prior_weight: float = 0.0  # most score a pair loses for a camera change quicker than learned; 0 = off
    transit_confident_margin: float = 0.05  # pairs this far above match_threshold teach the transit times
    chain_min_average: float | None = None  # least mean pair score inside a cluster (anti-chaining); None = off

    @classmethod
    def from_settings(cls, identity: IdentitySettings, embedding_backend: str, adaptation: str = "none") -> MatchParams:
        """Matching parameters; thresholds left empty follow the default of the vectors' embedding backend and
        site adaptation (``lib/identity/thresholds.py``)."""
        from reid_pipeline.lib.identity.thresholds import default_threshold

        match = identity.match_threshold
        if match is None:
            match = default_threshold(embedding_backend, adaptation).match
        return cls(
            k=identity.k,
            match_threshold=match,
            link_threshold=identity.link_threshold if identity.link_threshold is not None else match,
            review_band=identity.review_band,
            attribute_weight=identity.attribute_weight,
            transitions=TransitionTimes.parse(identity.transitions, identity.default_transition_s),
            rerank_k=identity.rerank_k,
            chain_min_average=identity.chain_min_average,
            transit_prior_weight=identity.transit_prior_weight,
        )
