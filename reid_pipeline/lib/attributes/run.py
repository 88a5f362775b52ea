"""Describe each tracklet once, on its best crop; keep an earlier description while its look holds.

A re-run reuses the stored description of a tracklet when the same backend and model made it and the
tracklet's pooled vector has moved less than ``drift_threshold`` (cosine distance) since: a language
model is the most expensive stage, and an unchanged tracklet would get the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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
    """The ``attributes`` table of one camera-day: one row per tracklet that has a usable crop.

    Memory per tracklet is a small row and its vector as a NumPy array: JPEGs stay in the Arrow input and
    are decoded one describer batch at a time, and vectors never become Python lists of floats.
    """
    best = _BestCrops(crops)
    vectors = tracklet_vectors(embeddings)
    earlier = _Earlier(previous, describer)
    report = TrackletDescriptions(ATTRIBUTES.empty_table())
    rows: list[Row] = []
    pending: list[tuple[Row, int]] = []  # a row's start and its best crop's index, decoded when described
    for tracklet in tracklets.select(["tracklet_id", "date", "camera_id", "entity_type"]).to_pylist():
        index = best.index.get(tracklet["tracklet_id"])
        if index is None:
            report.without_crop += 1
            continue
        vector = vectors.get(tracklet["tracklet_id"])
        old = earlier.still_looking_the_same(tracklet["tracklet_id"], vector, drift_threshold)
        if old is not None:
            rows.append({**old, "date": tracklet["date"], "camera_id": tracklet["camera_id"]})
            report.reused += 1
            continue
        pending.append(({**tracklet, "crop_id": best.crop_ids[index], "appearance": vector}, index))
    for chunk in batched(pending, batch_size):
        requests = _requests(chunk, best, report.errors)
        descriptions = describer.describe([request for _, request in requests]) if requests else []
        for (base, _), description in zip(requests, descriptions, strict=True):
            rows.append(_row(base, description, describer, run_id))
        report.described += len(requests)
        log(f"described {report.described}/{len(pending)} tracklets")
    rows.sort(key=lambda row: str(row["tracklet_id"]))
    for row in rows:
        report.statuses[row["status"]] = report.statuses.get(row["status"], 0) + 1
    report.table = table_from_rows(rows, ATTRIBUTES)
    return report


class _BestCrops:
    """Each tracklet's best crop (``best_rank`` 1): ids in Python, JPEGs left in Arrow until decoded."""

    def __init__(self, crops: pa.Table) -> None:
        best = crops.filter(pc.equal(pc.fill_null(crops.column("best_rank"), 0), 1))
        self.crop_ids = [str(crop_id) for crop_id in best.column("crop_id").to_pylist()]
        self.index = {str(t): i for i, t in enumerate(best.column("tracklet_id").to_pylist())}
        self.jpegs = best.column("jpeg")

    def jpeg(self, index: int) -> bytes:
        return bytes(self.jpegs[index].as_py())


def _requests(
    chunk: Sequence[tuple[Row, int]], best: _BestCrops, errors: list[str]
) -> list[tuple[Row, DescribeRequest]]:
    """One describer batch, decoded now; a crop that does not decode is reported and left out."""
    requests = []
    for base, index in chunk:
        try:
            image = decode_jpeg(best.jpeg(index), base["crop_id"])
        except ValueError as exc:
            errors.append(str(exc))
            continue
        vector = base["appearance"]
        requests.append((base, DescribeRequest(base["tracklet_id"], base["entity_type"], image, vector)))
    return requests


class _Earlier:
    """The stored descriptions the same backend and model made, looked up one tracklet at a time.

    Kept as Arrow: a re-run over a day converts only the rows it reuses, their vectors as NumPy arrays.
    """

    def __init__(self, previous: pa.Table | None, describer: Describer) -> None:
        if previous is None:
            previous = ATTRIBUTES.empty_table()
        self.table = previous.filter(
            pc.and_(
                pc.equal(previous.column("backend"), describer.backend),
                pc.equal(previous.column("model"), describer.model_name),
            )
        )
        self.index = {str(t): i for i, t in enumerate(self.table.column("tracklet_id").to_pylist())}
        self.appearance = self.table.column("appearance").combine_chunks()
        self.rest = self.table.drop_columns(["appearance"])

    def still_looking_the_same(self, tracklet_id: str, vector: np.ndarray | None, drift_threshold: float) -> Row | None:
        """The stored row of ``tracklet_id`` when its vector has drifted less than ``drift_threshold``."""
        index = self.index.get(tracklet_id)
        if index is None or vector is None or not self.appearance[index].is_valid:
            return None
        before = self.appearance[index].values.to_numpy(zero_copy_only=False).astype(np.float32)
        if before.shape != vector.shape or float(1.0 - before @ vector) > drift_threshold:
            return None
        row: Row = self.rest.slice(index, 1).to_pylist()[0]
        return {**row, "appearance": before}


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
        "appearance": None if vector is None else np.asarray(vector, dtype=np.float32),  # Arrow takes it as is
        "described_at_run": run_id,
    }


def _known(value: object) -> str | None:
    return value if isinstance(value, str) and value not in (UNKNOWN, "") else None
