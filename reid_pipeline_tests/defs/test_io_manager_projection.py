"""Inputs that ask the Parquet IO manager for some columns and rows get only those, read as such from disk."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from reid_pipeline.defs.io_manager import BEST_CROPS, ParquetIOManager
from reid_pipeline.lib.storage.parquet import ROW_GROUP_ROWS, ParquetStore

ROWS = ROW_GROUP_ROWS * 2 + 10  # three row groups


@dg.asset
def scored() -> pa.Table:
    return pa.table(
        {
            "crop_id": [f"c{i}" for i in range(ROWS)],
            "is_best": [i % 7 == 0 for i in range(ROWS)],
            "jpeg": [b"\xff" * 16 for _ in range(ROWS)],
        }
    )


@dg.asset(ins={"scored": dg.AssetIn(metadata={**BEST_CROPS, "columns": ["crop_id", "is_best"]})})
def best_ids(scored: pa.Table) -> pa.Table:
    return scored


@dg.asset
def everything(scored: pa.Table) -> pa.Table:
    return scored


def test_inputs_read_only_the_columns_and_rows_they_declare(tmp_path: Path) -> None:
    result = dg.materialize(
        [scored, best_ids, everything], resources={"io_manager": ParquetIOManager(data_root=str(tmp_path))}
    )
    assert result.success
    store = ParquetStore(str(tmp_path))

    best = store.read("best_ids", {})
    assert best.column_names == ["crop_id", "is_best"]
    assert best.column("crop_id").to_pylist() == [f"c{i}" for i in range(0, ROWS, 7)]
    assert store.read("everything", {}).num_rows == ROWS == store.num_rows("scored", {})
    written = pq.ParquetFile(tmp_path / "parquet/scored/part-0.parquet")
    assert written.metadata.num_row_groups == 3, "row groups bound what a filtered read decodes at once"
