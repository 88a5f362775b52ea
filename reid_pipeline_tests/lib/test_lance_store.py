"""LanceDB on disk: per-partition replacement is exact and atomic, schemas are guarded, indexes appear."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from reid_pipeline.lib.storage.lance import LanceStore


def schema(dims: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("row_id", pa.string(), nullable=False),
            pa.field("date", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dims), nullable=False),
        ]
    )


def rows(date: str, ids: list[str], dims: int = 4, seed: int = 0) -> pa.Table:
    vectors = np.random.default_rng(seed).normal(size=(len(ids), dims)).astype(np.float32)
    return pa.Table.from_pylist(
        [{"row_id": i, "date": date, "vector": v.tolist()} for i, v in zip(ids, vectors, strict=True)],
        schema=schema(dims),
    )


def ids_by_date(store: LanceStore) -> dict[str, list[str]]:
    table = store.db.open_table("appearances").to_arrow().to_pylist()
    out: dict[str, list[str]] = {}
    for row in table:
        out.setdefault(row["date"], []).append(row["row_id"])
    return {date: sorted(ids) for date, ids in out.items()}


def test_replacing_a_partition_touches_only_that_partition(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    store.replace_partition("appearances", schema(4), "row_id", "date = '2024-05-01'", rows("2024-05-01", ["a", "b"]))
    store.replace_partition("appearances", schema(4), "row_id", "date = '2024-05-02'", rows("2024-05-02", ["c"]))

    # A re-run of day 1 that no longer has "b" but has "d", twice: no duplicates, day 2 untouched.
    for _ in range(2):
        count = store.replace_partition(
            "appearances", schema(4), "row_id", "date = '2024-05-01'", rows("2024-05-01", ["a", "d"], seed=1)
        )
        assert count == 2
    assert ids_by_date(store) == {"2024-05-01": ["a", "d"], "2024-05-02": ["c"]}
    vector = store.db.open_table("appearances").search().where("row_id = 'a'").to_arrow()["vector"][0].as_py()
    np.testing.assert_allclose(vector, rows("2024-05-01", ["a", "d"], seed=1)["vector"][0].as_py())

    # An empty day clears that day only.
    assert (
        store.replace_partition("appearances", schema(4), "row_id", "date = '2024-05-02'", rows("2024-05-02", [])) == 0
    )
    assert ids_by_date(store) == {"2024-05-01": ["a", "d"]}


def test_a_different_embedding_width_is_refused_with_the_fix(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    store.replace_partition("appearances", schema(4), "row_id", "date = '2024-05-01'", rows("2024-05-01", ["a"]))
    with pytest.raises(ValueError, match=r"embedding model changed.*identity\.lancedb_uri"):
        store.replace_partition(
            "appearances", schema(8), "row_id", "date = '2024-05-02'", rows("2024-05-02", ["b"], dims=8)
        )
    assert ids_by_date(store) == {"2024-05-01": ["a"]}, "nothing written by the refused run"


def test_scalar_and_vector_indexes(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    ids = [f"r{i:04d}" for i in range(600)]
    store.replace_partition(
        "appearances", schema(32), "row_id", "date = '2024-05-01'", rows("2024-05-01", ids, dims=32)
    )

    report = store.ensure_indexes("appearances", ["date"], ann_min_rows=500)

    assert report.made == ["date", "vector"]
    again = store.ensure_indexes("appearances", ["date"], ann_min_rows=500)
    assert again.made == [] and again.vector == "built earlier", "indexes are made once"
    table = store.db.open_table("appearances")
    query = np.asarray(table.search().where("row_id = 'r0007'").to_arrow()["vector"][0].as_py(), dtype=np.float32)
    hits = table.search(query).distance_type("cosine").limit(5).refine_factor(10).to_arrow()
    assert hits["row_id"][0].as_py() == "r0007"


def test_a_commit_that_loses_a_race_is_retried_and_other_errors_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LanceStore(str(tmp_path / "db"))
    store.replace_partition("t", schema(4), "row_id", "date = 'd1'", rows("d1", ["a"]))
    real_open = store.open_or_create
    failures = iter([OSError("Retryable commit conflict for version 3"), None])

    class LosesOnce:
        def __init__(self, table: object) -> None:
            self.table = table

        def merge_insert(self, key: str) -> object:
            failure = next(failures)
            if failure:
                raise failure
            return self.table.merge_insert(key)  # type: ignore[attr-defined]

        def count_rows(self, where: str) -> int:
            return int(self.table.count_rows(where))  # type: ignore[attr-defined]

    monkeypatch.setattr(store, "open_or_create", lambda name, s: LosesOnce(real_open(name, s)))
    assert store.replace_partition("t", schema(4), "row_id", "date = 'd1'", rows("d1", ["b", "c"])) == 2
    assert store.db.open_table("t").count_rows() == 2

    monkeypatch.setattr(store, "open_or_create", lambda name, s: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        store.replace_partition("t", schema(4), "row_id", "date = 'd3'", rows("d3", ["d"]))


def test_an_index_commit_that_loses_a_race_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LanceStore(str(tmp_path / "db"))
    store.replace_partition("t", schema(4), "row_id", "date = 'd1'", rows("d1", ["a", "b"]))
    real_open = store.db.open_table
    losses = iter(["Incompatible transaction: CreateIndex vs concurrent Overwrite at version 6", None])

    class IndexLosesOnce:
        def __init__(self, table: object) -> None:
            self.table = table

        def create_index(self, column: str, config: object) -> None:
            loss = next(losses)
            if loss:
                raise RuntimeError(loss)
            self.table.create_index(column, config=config)  # type: ignore[attr-defined]

        def __getattr__(self, attr: str) -> object:
            return getattr(self.table, attr)

    monkeypatch.setattr(store.db, "open_table", lambda name: IndexLosesOnce(real_open(name)))
    assert store.ensure_indexes("t", ["date"], None).made == ["date"]
    assert [i.columns for i in real_open("t").list_indices()] == [["date"]]


def test_an_append_that_loses_a_race_is_written_by_the_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LanceStore(str(tmp_path / "db"))
    store.replace_partition("appearances", schema(4), "row_id", "date = 'd1'", rows("d1", ["a"]))
    real_open = store.db.open_table
    losses = iter(["Incompatible transaction: This Append transaction is incompatible with concurrent Overwrite"])

    class AppendLosesOnce:
        def __init__(self, table: object) -> None:
            self.table = table

        def add(self, data: pa.Table) -> None:
            loss = next(losses, None)
            if loss:
                raise RuntimeError(loss)
            self.table.add(data)  # type: ignore[attr-defined]

        def __getattr__(self, attr: str) -> object:
            return getattr(self.table, attr)

    monkeypatch.setattr(store.db, "open_table", lambda name: AppendLosesOnce(real_open(name)))
    assert store.replace_partition("appearances", schema(4), "row_id", "date = 'd2'", rows("d2", ["b", "c"])) == 2
    assert ids_by_date(store) == {"d1": ["a"], "d2": ["b", "c"]}


def test_an_append_that_fails_otherwise_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LanceStore(str(tmp_path / "db"))
    store.replace_partition("appearances", schema(4), "row_id", "date = 'd1'", rows("d1", ["a"]))
    real_open = store.db.open_table

    class DiskFull:
        def __init__(self, table: object) -> None:
            self.table = table

        def add(self, data: pa.Table) -> None:
            raise OSError("No space left on device")

        def __getattr__(self, attr: str) -> object:
            return getattr(self.table, attr)

    monkeypatch.setattr(store.db, "open_table", lambda name: DiskFull(real_open(name)))
    with pytest.raises(OSError, match="No space left"):
        store.replace_partition("appearances", schema(4), "row_id", "date = 'd2'", rows("d2", ["b"]))
    assert ids_by_date(store) == {"d1": ["a"]}


def test_a_new_partition_is_appended_and_a_doubled_append_is_settled(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "db"))
    store.replace_partition("t", schema(4), "row_id", "date = 'd1'", rows("d1", ["a"]))
    version = store.db.open_table("t").version
    assert store.replace_partition("t", schema(4), "row_id", "date = 'd2'", rows("d2", ["b", "c"])) == 2
    assert store.db.open_table("t").version == version + 1, "one commit"
    # Two writers appended the same new day at once: the next write of the day leaves it whole, once.
    store.db.open_table("t").add(rows("d3", ["d", "e"]))
    store.db.open_table("t").add(rows("d3", ["d", "e"]))
    assert store.replace_partition("t", schema(4), "row_id", "date = 'd3'", rows("d3", ["d", "e"])) == 2
    assert sorted(store.db.open_table("t").to_arrow().column("row_id").to_pylist()) == ["a", "b", "c", "d", "e"]


def test_a_table_without_vectors_gets_its_scalar_indexes_only(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    members = pa.schema([pa.field("row_id", pa.string()), pa.field("date", pa.string())])
    data = pa.Table.from_pylist([{"row_id": f"t{i}", "date": "2024-05-01"} for i in range(5)], schema=members)
    store.replace_partition("members", members, "row_id", "date = '2024-05-01'", data)

    report = store.ensure_indexes("members", ["date", "row_id"], None, ann_min_rows=1)

    assert report.made == ["date", "row_id"]
    assert report.vector is None, "no vector column, so nothing to say about a vector index"
    # A vector column the table does not have is a reason, not a KeyError.
    assert "no column 'vector'" in str(store.ensure_indexes("members", [], "vector", ann_min_rows=1).vector)


def test_a_vector_index_on_too_few_rows_to_train_is_skipped_with_the_reason(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    ids = [f"r{i:04d}" for i in range(40)]
    store.replace_partition("appearances", schema(32), "row_id", "date = '2024-05-01'", rows("2024-05-01", ids, 32))

    report = store.ensure_indexes("appearances", ["date"], ann_min_rows=10)

    assert report.made == ["date"]
    assert report.vector is not None and "40 rows" in report.vector and "256" in report.vector
    assert [i.columns for i in store.db.open_table("appearances").list_indices()] == [["date"]]


def test_a_vector_index_fits_any_vector_width(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "lancedb"))
    ids = [f"r{i:04d}" for i in range(300)]
    # 1000 is not a multiple of 16: the sub-vector count must still divide the width.
    store.replace_partition("wide", schema(1000), "row_id", "date = '2024-05-01'", rows("2024-05-01", ids, 1000))

    report = store.ensure_indexes("wide", [], ann_min_rows=10)

    assert report.made == ["vector"] and report.vector is not None and report.vector.startswith("built")
