"""How alike two appearances are (cosine fused with attribute agreement), and when they cannot be one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from reid_pipeline.lib.attributes.vocabulary import FLAT_FIELDS

# Fields compared between two descriptions: every flattened column of the attributes table.
COMPARED_FIELDS = FLAT_FIELDS


@dataclass(frozen=True)
class CameraSpan:
    """Where and when an appearance (or a group of them) was on camera."""

    camera_id: str
    start: datetime
    end: datetime


@dataclass
class Node:
    """Something to cluster: a tracklet (within a day) or a daily entity (across days)."""

    node_id: str
    entity_type: str
    date: str
    vector: np.ndarray
    sightings: list[CameraSpan]
    attributes: dict[str, tuple[str, float]] = field(default_factory=dict)  # field -> (value, confidence)
    tracklet_ids: tuple[str, ...] = ()


def flat_attributes(row: Mapping[str, object]) -> dict[str, tuple[str, float]]:
    """Known flattened fields of an attributes row with their confidences."""
    confidence = dict(row.get("field_confidence") or [])  # type: ignore[call-overload]
    colour_field = {"vehicle": "color", "animal": "coat_color"}.get(str(row.get("entity_type")), "")
    out: dict[str, tuple[str, float]] = {}
    for name in COMPARED_FIELDS:
        value = row.get(name)
        if isinstance(value, str) and value:
            source = colour_field if name == "color" else name
            out[name] = (value, float(confidence.get(source, 0.5)))
    return out


def encode_attributes(attributes: Mapping[str, tuple[str, float]]) -> str:
    return json.dumps({k: [v, round(c, 4)] for k, (v, c) in sorted(attributes.items())})


def decode_attributes(text: str | None) -> dict[str, tuple[str, float]]:
    if not text:
        return {}
    return {k: (str(v[0]), float(v[1])) for k, v in json.loads(text).items()}


def attribute_agreement(a: Mapping[str, tuple[str, float]], b: Mapping[str, tuple[str, float]]) -> float | None:
    """Confidence-weighted share of the fields both sides know that agree; None when they share none."""
    weight = agree = 0.0
    for name in a.keys() & b.keys():
        (value_a, conf_a), (value_b, conf_b) = a[name], b[name]
        w = min(conf_a, conf_b)
        weight += w
        agree += w if value_a == value_b else 0.0
    return agree / weight if weight > 0 else None


def fused_score(cosine: float, agreement: float | None, attribute_weight: float) -> float:
    """``(1 - w) * cosine + w * agreement``; plain cosine when the attributes say nothing."""
    if agreement is None:
        return cosine
    return (1.0 - attribute_weight) * cosine + attribute_weight * agreement


def pair_score(a: Node, b: Node, attribute_weight: float) -> float:
    """The fused score of two nodes from their vectors (unit length) and attributes."""
    cosine = float(np.dot(a.vector, b.vector))
    return fused_score(cosine, attribute_agreement(a.attributes, b.attributes), attribute_weight)


@dataclass(frozen=True)
class TransitionTimes:
    """Least seconds anything needs to get from one camera to another (symmetric); unknown pairs: default.

    Overlapping sightings on one camera are always different entities (the tracker saw both at once).
    """

    pairs: Mapping[tuple[str, str], float] = field(default_factory=dict)
    default_s: float = 0.0

    def between(self, a: str, b: str) -> float:
        return self.pairs.get((a, b), self.pairs.get((b, a), self.default_s))

    @classmethod
    def parse(cls, spec: Mapping[str, float], default_s: float) -> TransitionTimes:
        """From ``{"gate>plaza": 30}``; the order of the two cameras does not matter."""
        pairs = {}
        for key, seconds in spec.items():
            if ">" not in key:
                raise ValueError(f"camera transition {key!r} must look like 'camera_a>camera_b'")
            first, second = (part.strip() for part in key.split(">", 1))
            pairs[(first, second)] = float(seconds)
        return cls(pairs, default_s)


def impossible_together(a: Node, b: Node, transitions: TransitionTimes) -> bool:
    """True when a and b cannot be one entity: seen at once on one camera, or too soon on two."""
    for sa in a.sightings:
        for sb in b.sightings:
            gap = (max(sa.start, sb.start) - min(sa.end, sb.end)).total_seconds()  # < 0: they overlap
            if sa.camera_id == sb.camera_id:
                if gap < 0:
                    return True
            elif gap < transitions.between(sa.camera_id, sb.camera_id):
                return True
    return False
