"""Describe each tracklet once, on its best crop; keep an earlier description while its look holds.

A re-run reuses the stored description of a tracklet when the same backend and model made it and the
tracklet's pooled vector has moved less than ``drift_threshold`` (cosine distance) since: a language
model is the most expensive stage, and an unchanged tracklet would get the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.attributes.types import Describer, DescribeRequest, Description
from reid_pipeline.lib.attributes.vocabulary import COLOUR_COLUMN, FLAT_FIELDS, UNKNOWN, summarise
from reid_pipeline.lib.embedding.images import decode_jpeg
from reid_pipeline.lib.embedding.run import tracklet_vectors
from reid_pipeline.lib.footage.sampling import batched
from reid_pipeline.lib.storage.schemas import ATTRIBUTES, Row, table_from_rows


@dataclass
class TrackletDescriptions:
    table: pa.Table
    described: int = 0
    reused: int = 0
    without_crop: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def describe_tracklets(
    tracklets: pa.Table,
    crops: pa.Table,
    embeddings: pa.Table,
    previous: pa.Table | None,
    describer: Describer,
    drift_threshold: float,
    run_id: str,
    batch_size: int = 16,
    log: Callable[[str], None] = print,
) -> TrackletDescriptions:
    """The ``attributes`` table of one camera-day: one row per tracklet that has a usable crop."""
    best = crops.filter(pc.equal(pc.fill_null(crops.column("best_rank"), 0), 1))
    best_crop = {row["tracklet_id"]: row for row in best.select(["tracklet_id", "crop_id", "jpeg"]).to_pylist()}
    vectors = tracklet_vectors(embeddings)
    earlier = _previous_rows(previous, describer)
    report = TrackletDescriptions(ATTRIBUTES.empty_table())
    rows: list[Row] = []
    pending: list[tuple[Row, DescribeRequest]] = []
    for tracklet in tracklets.select(["tracklet_id", "date", "camera_id", "entity_type"]).to_pylist():
        crop = best_crop.get(tracklet["tracklet_id"])
        if crop is None:
            report.without_crop += 1
            continue
        vector = vectors.get(tracklet["tracklet_id"])
        old = earlier.get(tracklet["tracklet_id"])
        if old is not None and _still_looks_the_same(old, vector, drift_threshold):
            rows.append({**old, "date": tracklet["date"], "camera_id": tracklet["camera_id"]})
            report.reused += 1
            continue
        try:
            image = decode_jpeg(crop["jpeg"], crop["crop_id"])
        except ValueError as exc:
            report.errors.append(str(exc))
            continue
        base = {**tracklet, "crop_id": crop["crop_id"], "appearance": vector}
        pending.append((base, DescribeRequest(tracklet["tracklet_id"], tracklet["entity_type"], image, vector)))
    for chunk in batched(pending, batch_size):
        descriptions = describer.describe([request for _, request in chunk])
        for (base, _), description in zip(chunk, descriptions, strict=True):
            rows.append(_row(base, description, describer, run_id))
        report.described += len(chunk)
        log(f"described {report.described}/{len(pending)} tracklets")
    rows.sort(key=lambda row: str(row["tracklet_id"]))
    for row in rows:
        report.statuses[row["status"]] = report.statuses.get(row["status"], 0) + 1
    report.table = table_from_rows(rows, ATTRIBUTES)
    return report


def _previous_rows(previous: pa.Table | None, describer: Describer) -> dict[str, Row]:
    if previous is None or previous.num_rows == 0:
        return {}
    same = previous.filter(
        pc.and_(
            pc.equal(previous.column("backend"), describer.backend),
            pc.equal(previous.column("model"), describer.model_name),
        )
    )
    return {row["tracklet_id"]: row for row in same.to_pylist()}


def _still_looks_the_same(old: Row, vector: np.ndarray | None, drift_threshold: float) -> bool:
    if vector is None or old.get("appearance") is None:
        return False
    before = np.asarray(old["appearance"], dtype=np.float32)
    if before.shape != vector.shape:
        return False
    return float(1.0 - before @ vector) <= drift_threshold


def _row(base: Row, description: Description, describer: Describer, run_id: str) -> Row:
    entity_type = str(base["entity_type"])
    attributes = description.attributes
    flat: dict[str, object] = {
        name: _known(attributes.get(COLOUR_COLUMN.get(entity_type, "") if name == "color" else name))
        for name in FLAT_FIELDS
    }
    vector = base.get("appearance")
    return {
        **base,
        **flat,
        "attributes": json.dumps(attributes, sort_keys=True),
        "summary": summarise(entity_type, attributes),
        "field_confidence": list(description.field_confidence.items()),
        "confidence": round(description.confidence, 4),
        "status": description.status,
        "raw_text": description.raw_text,
        "backend": describer.backend,
        "model": describer.model_name,
        "appearance": None if vector is None else np.asarray(vector, dtype=np.float32).tolist(),
        "described_at_run": run_id,
    }


def _known(value: object) -> str | None:
    return value if isinstance(value, str) and value not in (UNKNOWN, "") else None
