"""Benchmark: filtered reads on an ``appearances`` table grown day by day, with and without index upkeep.

Each day appends one day of synthetic appearances through the identity store, as the ``appearances``
asset does. Without upkeep, only the rows present when the scalar indexes were built are indexed and
every later row is scanned by each filter; with it, the store's policy optimizes the table after a
write once enough rows are unindexed. At the end, the median latency of the filtered reads the
pipeline makes is measured on both tables.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from typing import Any

import numpy as np

from reid_pipeline.lib.bench.identities import median_query_ms
from reid_pipeline.lib.bench.identity_days import FIRST_DAY, synthetic_day
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.lance import UpkeepPolicy


def grown_table_latency(days: int, per_day: int, upkeep: bool, dims: int = 64, repeats: int = 30) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    looks = rng.normal(size=(per_day, dims)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as folder:
        store = IdentityStore(folder, ann_min_rows=10**9, upkeep=UpkeepPolicy(enabled=upkeep))
        started = time.perf_counter()
        for day in range(days):
            table, _ = synthetic_day(day, per_day, looks, rng)
            store.write_day("appearances", table.schema, "tracklet_id", table.column("date")[0].as_py(), table)
        writing = time.perf_counter() - started
        table = store.table("appearances")
        middle = (FIRST_DAY + timedelta(days=days // 2)).isoformat()
        tracklet = store.rows("appearances", f"date = {quoted(middle)}", ["tracklet_id"])[0]["tracklet_id"]
        queries = {
            "one day (date = ...)": f"date = {quoted(middle)}",
            "one tracklet (tracklet_id = ...)": f"tracklet_id = {quoted(tracklet)}",
            "one camera on one day": f"date = {quoted(middle)} AND camera_id = 'gate'",
        }
        latency = {label: median_query_ms(table, where, repeats) for label, where in queries.items()}
        unindexed = max(int(i.num_unindexed_rows or 0) for i in table.list_indices())
        return {
            "upkeep": upkeep,
            "rows": table.count_rows(),
            "unindexed_rows": unindexed,
            "fragments": int(table.stats()["fragment_stats"]["num_fragments"]),
            "write_s": round(writing, 1),
            "median_ms": latency,
        }


def bench_index_upkeep(days: int, per_day: int) -> dict[str, Any]:
    return {"days": days, "per_day": per_day, "arms": [grown_table_latency(days, per_day, up) for up in (False, True)]}
