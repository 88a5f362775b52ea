"""Benchmark: clustering time vs number of appearances (kNN graph vs all pairs), and LanceDB search.

Synthetic appearances: identities with a random 512-d look, each seen about five times with noise,
at random times on four cameras of one day. The kNN method is the pipeline's daily step, measured in
full at every size (LanceDB write and read, in-memory candidates, exact scoring, constrained
clustering, daily entities written); the all-pairs arm scores every pair in blocks with numpy and
feeds the same clustering, only for sizes where that fits.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.identity.clustering import Edge, cluster
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import appearance_node, cluster_day
from reid_pipeline.lib.identity.knn import EXACT_MAX_ROWS, PROBED_CELLS, ROWS_PER_CELL
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.scoring import impossible_together
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import TIMESTAMP, appearances_schema
from reid_pipeline.lib.storage.schemas import Row

DATE = "2024-05-01"
CAMERAS = ("gate", "plaza", "yard", "dock")


def synthetic_appearances(n: int, dims: int, seed: int = 0, per_identity: int = 5) -> tuple[list[Row], np.ndarray]:
    rng = np.random.default_rng(seed)
    identities = max(1, n // per_identity)
    looks = rng.normal(size=(identities, dims)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    owner = np.arange(n) % identities
    vectors = looks[owner] + 0.35 * rng.normal(size=(n, dims)).astype(np.float32) / np.sqrt(dims)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    offsets = rng.uniform(0, 86_000, size=n)
    rows = [
        {
            "tracklet_id": f"{DATE}/{CAMERAS[i % 4]}/{i:07d}",
            "date": DATE,
            "camera_id": CAMERAS[i % 4],
            "entity_type": "person",
            "start_time": start + timedelta(seconds=float(offsets[i])),
            "end_time": start + timedelta(seconds=float(offsets[i]) + 4),
            "n_detections": 4,
            "best_crop_id": f"c{i}",
            "quality": 0.8,
            "summary": None,
            "attributes": None,
            "flat_attributes": None,
            "thumbnail": b"",
            "backend": "bench",
            "model": "synthetic",
            "vector": vectors[i],
        }
        for i in range(n)
    ]
    return rows, owner


def pairwise_f1(groups: list[list[str]], owner: dict[str, int]) -> float:
    """Pairwise F1 of predicted groups against the true identities (how good the clusters are)."""
    from collections import Counter

    def pairs(counts: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    predicted = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    true = pairs(Counter(owner.values()))
    correct = sum(pairs(Counter(owner[t] for t in g)) for g in groups)
    if predicted == 0 or true == 0:
        return 0.0
    precision, recall = correct / predicted, correct / true
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def synthetic_table(n: int, dims: int, seed: int = 0, per_identity: int = 5) -> tuple[pa.Table, np.ndarray]:
    """The rows of ``synthetic_appearances`` as one Arrow table, built column by column (a million rows
    as Python dicts would not fit the memory of a small machine)."""
    rng = np.random.default_rng(seed)
    identities = max(1, n // per_identity)
    looks = rng.normal(size=(identities, dims)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    owner = np.arange(n) % identities
    vectors = np.empty((n, dims), dtype=np.float32)
    for lo in range(0, n, 100_000):  # in blocks: the noise of a million rows at once is 4 GB of float64
        hi = min(n, lo + 100_000)
        noise = rng.normal(size=(hi - lo, dims)).astype(np.float32) * np.float32(0.35 / np.sqrt(dims))
        block = looks[owner[lo:hi]] + noise
        vectors[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    start_us = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1e6)
    offsets = (rng.uniform(0, 86_000, size=n) * 1e6).astype(np.int64) + start_us
    tracklets = [f"{DATE}/{CAMERAS[i % 4]}/{i:07d}" for i in range(n)]
    return appearances_table(tracklets, DATE, offsets, vectors), owner


def appearances_table(tracklets: list[str], date: str, starts_us: np.ndarray, vectors: np.ndarray) -> pa.Table:
    """A day of synthetic appearances (persons, 4 s each, cameras taken from the ids ``<date>/<camera>/<n>``)
    in the ``appearances`` schema, built column by column."""
    n, dims = vectors.shape
    columns = {
        "tracklet_id": pa.array(tracklets),
        "date": pa.array([date] * n),
        "camera_id": pa.array([t.split("/")[1] for t in tracklets]),
        "entity_type": pa.array(["person"] * n),
        "start_time": pa.array(starts_us).cast(TIMESTAMP),
        "end_time": pa.array(starts_us + 4_000_000).cast(TIMESTAMP),
        "n_detections": pa.array(np.full(n, 4, dtype=np.int64)),
        "best_crop_id": pa.array([f"c{i}" for i in range(n)]),
        "quality": pa.array(np.full(n, 0.8, dtype=np.float32)),
        "summary": pa.nulls(n, pa.string()),
        "attributes": pa.nulls(n, pa.string()),
        "flat_attributes": pa.nulls(n, pa.string()),
        "thumbnail": pa.array([b""] * n, type=pa.binary()),
        "backend": pa.array(["bench"] * n),
        "model": pa.array(["synthetic"] * n),
        "adapter_id": pa.array(["none"] * n),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dims),
    }
    return pa.table(columns).cast(appearances_schema(dims))


def median_query_ms(table: Any, where: str, repeats: int) -> float:
    """Median milliseconds of a filtered read of tracklet ids, as the pipeline makes them."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        table.search().where(where).select(["tracklet_id"]).limit(100_000).to_arrow()
        seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds) * 1000, 2)


def knn_arm(n: int, dims: int, params: MatchParams, ann_min_rows: int) -> dict[str, Any]:
    """The pipeline's daily step, measured in full: appearances written to LanceDB, read back as Arrow,
    clustered (``cluster_day``), and the daily entities written. The synthetic table is dropped once
    written, so at a million rows only the copy read back is in memory."""
    table, owner = synthetic_table(n, dims)
    ids = table.column("tracklet_id").to_pylist()
    with tempfile.TemporaryDirectory() as folder:
        store = IdentityStore(folder, ann_min_rows)
        started = time.perf_counter()
        store.write_day("appearances", appearances_schema(dims), "tracklet_id", DATE, table)
        ingest = time.perf_counter() - started
        del table
        started = time.perf_counter()
        rows = store.arrow("appearances", f"date = '{DATE}'")
        read = time.perf_counter() - started
        assert rows is not None
        started = time.perf_counter()
        result = cluster_day(DATE, rows, params, CorrectionSet())
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        store.write_daily_entities(DATE, result.table, dims)
        write = time.perf_counter() - started
    truth = {t: int(owner[i]) for i, t in enumerate(ids)}
    groups = result.table.column("tracklet_ids").to_pylist()
    return {
        "ingest_and_index_s": round(ingest, 2),
        "read_s": round(read, 2),
        "cluster_s": round(seconds, 2),
        "write_daily_s": round(write, 2),
        "candidate_search": neighbour_method(len(ids)),
        "daily_entities": result.table.num_rows,
        "pairwise_f1": round(pairwise_f1(groups, truth), 4),
    }


def neighbour_method(n: int) -> str:
    if n <= EXACT_MAX_ROWS:
        return "exact (in memory)"
    return f"inverted file (in memory), {max(2, n // ROWS_PER_CELL)} cells, {PROBED_CELLS} probed"


def all_pairs_arm(rows: list[Row], owner: np.ndarray, params: MatchParams, block: int = 4096) -> dict[str, float]:
    started = time.perf_counter()
    vectors = np.stack([row["vector"] for row in rows]).astype(np.float32)
    ids = [row["tracklet_id"] for row in rows]
    floor = params.match_threshold - params.review_band
    edges = []
    for lo in range(0, len(ids), block):
        sims = vectors[lo : lo + block] @ vectors.T
        for i, j in zip(*np.nonzero(sims >= floor), strict=True):
            a, b = lo + int(i), int(j)
            if a < b:
                edges.append(Edge(ids[a], ids[b], float(sims[i, j]), float(sims[i, j]), None))
    nodes = {row["tracklet_id"]: appearance_node(row) for row in rows}
    result = cluster(
        ids,
        edges,
        params.match_threshold,
        params.review_band,
        lambda a, b: impossible_together(nodes[a], nodes[b], params.transitions),
    )
    seconds = time.perf_counter() - started
    truth = {row["tracklet_id"]: int(owner[i]) for i, row in enumerate(rows)}
    return {"cluster_s": round(seconds, 2), "pairwise_f1": round(pairwise_f1(result.groups, truth), 4)}


def search_quality(n: int, dims: int, queries: int = 200, k: int = 10, ann_min_rows: int = 100_000) -> dict[str, Any]:
    """p50 latency of one LanceDB query and recall@k against exact search, on ``n`` synthetic vectors."""
    import lancedb
    import pyarrow as pa

    # Ten appearances per identity, so an appearance's ten nearest neighbours are well defined
    # (itself and its identity's other nine) rather than a tie among unrelated vectors.
    rows, _ = synthetic_appearances(n, dims, seed=1, per_identity=10)
    vectors = np.stack([row["vector"] for row in rows]).astype(np.float32)
    del rows
    rng = np.random.default_rng(2)
    picks = rng.choice(n, size=queries, replace=False)
    with tempfile.TemporaryDirectory() as folder:
        db = lancedb.connect(folder)
        table: Any = db.create_table(
            "v", data=pa.table({"i": np.arange(n), "vector": pa.FixedSizeListArray.from_arrays(vectors.ravel(), dims)})
        )
        started = time.perf_counter()
        indexed = n >= ann_min_rows
        if indexed:
            from lancedb.index import IvfPq

            table.create_index(
                "vector", config=IvfPq(distance_type="cosine", num_partitions=int(n**0.5), num_sub_vectors=dims // 16)
            )
        build = time.perf_counter() - started
        latencies, hits = [], 0
        for q in picks:
            exact = set(np.argsort(-(vectors @ vectors[q]))[:k].tolist())
            t0 = time.perf_counter()
            found = (
                table.search(vectors[q])
                .distance_type("cosine")
                .limit(k)
                .nprobes(20)
                .refine_factor(5)
                .select(["i", "_distance"])
                .to_arrow()
            )
            latencies.append(time.perf_counter() - t0)
            hits += len(exact & set(found.column("i").to_pylist()))
    return {
        "rows": n,
        "index": "IVF_PQ (nprobes 20, refine 5)" if indexed else "none (exact)",
        "index_build_s": round(build, 1),
        "p50_ms": round(float(np.median(latencies)) * 1000, 2),
        "recall_at_10": round(hits / (queries * k), 4),
    }


def bench_identities(
    sizes: list[int], dims: int, all_pairs_max: int, search_rows: int, ann_min_rows: int
) -> dict[str, Any]:
    params = MatchParams(k=10, match_threshold=0.8, link_threshold=0.8, review_band=0.05, attribute_weight=0.0)
    arms = []
    for n in sizes:
        entry: dict[str, Any] = {"appearances": n, "knn": knn_arm(n, dims, params, ann_min_rows)}
        if n <= all_pairs_max:
            rows, owner = synthetic_appearances(n, dims)
            entry["all_pairs"] = all_pairs_arm(rows, owner, params)
        else:
            entry["all_pairs"] = "skipped (does not fit)"
        arms.append(entry)
    return {
        "dims": dims,
        "clustering": arms,
        "search": search_quality(search_rows, dims, ann_min_rows=ann_min_rows) if search_rows else None,
    }
