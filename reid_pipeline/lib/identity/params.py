"""The knobs of matching, in one typed object built from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from reid_pipeline.lib.identity.scoring import TransitionTimes


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
