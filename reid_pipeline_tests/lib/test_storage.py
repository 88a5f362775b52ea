from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from reid_pipeline.lib.storage.parquet import ParquetStore


def test_write_replaces_partition_and_reads_back(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    part = {"date": "2024-05-01", "camera": "cam1"}
    store.write("detections", part, pa.table({"x": [1, 2, 3]}))
    path = store.write("detections", part, pa.table({"x": [7]}))
    assert path.endswith("parquet/detections/date=2024-05-01/camera=cam1/part-0.parquet")
    assert store.read("detections", part).column("x").to_pylist() == [7]
    assert not list(Path(path).parent.glob(".*.tmp")), "no staging files left behind"


def test_missing_partition_says_what_to_materialize(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="materialize 'crops' for date=2024-05-01, camera=cam9"):
        store.read("crops", {"date": "2024-05-01", "camera": "cam9"})


def test_hive_layout_is_readable_by_duckdb_and_polars(tmp_path: Path) -> None:
    import duckdb
    import polars as pl

    store = ParquetStore(str(tmp_path))
    store.write("t", {"date": "2024-05-01", "camera": "a"}, pa.table({"n": [1, 2]}))
    store.write("t", {"date": "2024-05-02", "camera": "b"}, pa.table({"n": [3]}))
    glob = f"{tmp_path}/parquet/t/**/*.parquet"
    rows = duckdb.sql(
        f"SELECT camera, sum(n) AS n FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY camera ORDER BY camera"
    ).fetchall()
    assert rows == [("a", 3), ("b", 3)]
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert sorted(frame["date"].cast(pl.Utf8).to_list()) == ["2024-05-01", "2024-05-01", "2024-05-02"]


def test_a_streamed_partition_replaces_the_old_file_only_when_whole(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    part = {"date": "2024-05-01", "camera": "cam1"}
    schema = pa.schema([("x", pa.int64())])
    store.write("crops", part, pa.table({"x": [1, 2, 3]}))

    with pytest.raises(RuntimeError, match="decoder died"), store.stream("crops", part, schema) as sink:
        sink(pa.table({"x": [7, 8]}))
        raise RuntimeError("decoder died")
    assert store.read("crops", part).column("x").to_pylist() == [1, 2, 3], "the old file stays whole"

    with store.stream("crops", part, schema) as sink:
        for start in range(0, 10, 4):
            sink(pa.RecordBatch.from_pydict({"x": list(range(start, min(start + 4, 10)))}, schema=schema))
    assert store.read("crops", part).column("x").to_pylist() == list(range(10))
    folder = Path(store.partition_file("crops", part)).parent
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"], "no staging files left behind"


def test_filtered_reads_and_batches_span_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reid_pipeline.lib.storage.parquet as parquet

    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 4)  # ten rows: three row groups
    store = ParquetStore(str(tmp_path))
    rows = pa.table({"id": [f"r{i}" for i in range(10)], "kind": ["a", "b"] * 5, "n": list(range(10))})
    store.write("t", {"date": "2024-05-01"}, rows)
    picked = store.read("t", {"date": "2024-05-01"}, columns=["id"], filters=[("kind", "=", "b"), ("n", ">", 2)])
    assert picked.schema.names == ["id"] and picked.column("id").to_pylist() == ["r3", "r5", "r7", "r9"]
    whole = store.read("t", {"date": "2024-05-01"}, filters=[("kind", "=", "b")])
    assert whole.schema == rows.schema and whole.column("n").to_pylist() == [1, 3, 5, 7, 9]
    none = store.read("t", {"date": "2024-05-01"}, columns=["n", "id"], filters=[("kind", "=", "z")])
    assert none.num_rows == 0 and none.schema.names == ["n", "id"]
    batches = list(store.batches("t", {"date": "2024-05-01"}, ["id"], rows=3))
    assert [b.num_rows for b in batches] == [3, 1, 3, 1, 2]  # never across a row group
    assert [v for b in batches for v in b.column("id").to_pylist()] == rows.column("id").to_pylist()
