"""Typed rows stay in step with their tables' schemas, and build valid tables."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import pyarrow as pa
import pytest

import reid_pipeline.lib
from reid_pipeline.lib.crops.tracklets import TrackletRow, summarise_tracklets
from reid_pipeline.lib.storage.rows import TableRow, schema_mismatches, table_of


def all_row_classes() -> list[type[TableRow]]:
    """Every TableRow subclass in the library (each module imported, so none is missed)."""
    for module in pkgutil.walk_packages(reid_pipeline.lib.__path__, "reid_pipeline.lib."):
        importlib.import_module(module.name)
    found: list[type[TableRow]] = []
    pending = list(TableRow.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_row_class_matches_its_schema() -> None:
    classes = all_row_classes()
    assert {c.__name__ for c in classes} >= {"TrackletRow", "FootageFile"}
    for cls in classes:
        assert schema_mismatches(cls) == [], cls.__name__


def test_a_drifted_class_is_reported() -> None:
    @dataclass(frozen=True)
    class Drifted(TableRow):
        SCHEMA: ClassVar[pa.Schema] = pa.schema([pa.field("a", pa.string()), pa.field("b", pa.int64())])
        a: str
        c: int

    assert schema_mismatches(Drifted) == ["c: a field but no column", "b: a column but no field"]


def test_tracklet_rows_build_the_tracklets_table_and_read_back() -> None:
    t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    detections = [
        {
            "tracklet_id": "t1",
            "date": "2024-05-01",
            "camera_id": "gate",
            "track_id": 1,
            "entity_type": et,
            "file_id": "f",
            "timestamp": t0.replace(second=s),
            "score": 0.5,
        }
        for s, et in ((0, "person"), (5, "person"), (9, "vehicle"))
    ]
    crops = [{"tracklet_id": "t1", "is_best": True, "best_rank": 1, "crop_id": "c1", "quality": 0.7}]
    rows = summarise_tracklets(detections, crops)
    table = table_of(TrackletRow, rows)
    assert table.schema.equals(TrackletRow.SCHEMA)
    back = TrackletRow.from_row(table.to_pylist()[0])
    assert back.entity_type == "person" and back.n_detections == 3 and back.best_crop_ids == ["c1"]
    assert (back.start_time, back.end_time) == (t0, t0.replace(second=9))
    assert table_of(TrackletRow, []).num_rows == 0


def test_a_misspelt_column_fails_where_the_row_is_made() -> None:
    with pytest.raises(TypeError):
        TrackletRow(tracklet="t1")  # type: ignore[call-arg]
