"""Retention's LanceDB filters: values from the tables go into SQL quoted, never spliced in raw."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import REVIEW_QUEUE
from reid_pipeline.lib.privacy.retention import Deletion, apply, plan
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import RetentionSettings


def _review(date_: str, pair: str) -> dict[str, object]:
    return {"review_id": pair, "date": date_, "level": "tracklet", "a": "x", "b": "y", "score": 0.8, "cosine": 0.8}


def test_a_date_holding_sql_deletes_nothing_else(tmp_path: Path) -> None:
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=100_000)
    rows = [_review("2024-05-01", "a|b"), _review("2024-05-02", "c|d")]
    store.lance.db.create_table("review_queue", data=pa.Table.from_pylist(rows, schema=REVIEW_QUEUE))
    hostile = Deletion("lancedb", "review_queue", "2024-05-01' OR date <> '", None, 0)

    apply([hostile], ParquetStore(str(tmp_path / "data")), store, version_grace_s=0)

    assert sorted(r["review_id"] for r in store.rows("review_queue")) == ["a|b", "c|d"]


def test_the_plan_counts_old_rows_by_date(tmp_path: Path) -> None:
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=100_000)
    rows = [_review("2024-05-01", "a|b"), _review("2024-05-01", "e|f"), _review("2024-05-09", "c|d")]
    store.lance.db.create_table("review_queue", data=pa.Table.from_pylist(rows, schema=REVIEW_QUEUE))
    policy = RetentionSettings(parquet_days={}, lancedb_days={"review_queue": 3})

    found = plan(policy, date(2024, 5, 10), ParquetStore(str(tmp_path / "data")), store)

    assert found == [
        Deletion(
            "lancedb",
            "review_queue",
            "2024-05-01",
            None,
            2,
            "rows",
            "text",
            "lancedb_days.review_queue=3",
            "2024-05-08",
        )
    ]
