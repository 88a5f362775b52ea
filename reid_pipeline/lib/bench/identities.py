"""Benchmark: clustering time vs number of appearances (kNN graph vs all pairs), and LanceDB search.

Synthetic appearances: identities with a random 512-d look, each seen about five times with noise,
at random times on four cameras of one day. The kNN method is the pipeline's own ``cluster_day``
(LanceDB candidates, exact scoring, constrained clustering); the all-pairs arm scores every pair in
blocks with numpy and feeds the same clustering, only for sizes where that fits.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from reid_pipeline.lib.identity.candidates import knn_pairs
from reid_pipeline.lib.identity.clustering import Edge, cluster
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import appearance_node, cluster_day
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.scoring import impossible_together
from reid_pipeline.lib.identity.store import IdentityStore
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


def knn_arm(
    rows: list[Row], owner: np.ndarray, params: MatchParams, ann_min_rows: int, full_max: int, sample: int
) -> dict[str, Any]:
    """The pipeline's clustering; above ``full_max`` appearances only the candidate search is timed, on
    ``sample`` queries, and the whole is extrapolated (marked so): on a small CPU the full run takes hours."""
    with tempfile.TemporaryDirectory() as folder:
        store = IdentityStore(folder, ann_min_rows)
        started = time.perf_counter()
        store.write_appearances(DATE, rows, len(rows[0]["vector"]))
        ingest = time.perf_counter() - started
        table = store.table("appearances")
        if len(rows) > full_max:
            picks = np.random.default_rng(0).choice(len(rows), size=min(sample, len(rows)), replace=False)
            ids = [rows[i]["tracklet_id"] for i in picks]
            vectors = np.stack([rows[i]["vector"] for i in picks])
            started = time.perf_counter()
            knn_pairs(table, ids, vectors, f"date = '{DATE}' AND entity_type = 'person'", params.k, "tracklet_id")
            per_query = (time.perf_counter() - started) / len(ids)
            return {
                "ingest_and_index_s": round(ingest, 2),
                "knn_ms_per_query": round(per_query * 1000, 2),
                "cluster_s_extrapolated": round(per_query * len(rows), 0),
                "sampled_queries": len(ids),
            }
        started = time.perf_counter()
        result = cluster_day(DATE, rows, table, params, CorrectionSet())
        seconds = time.perf_counter() - started
    truth = {row["tracklet_id"]: int(owner[i]) for i, row in enumerate(rows)}
    groups = [e["tracklet_ids"] for e in result.entities]
    return {
        "ingest_and_index_s": round(ingest, 2),
        "cluster_s": round(seconds, 2),
        "pairwise_f1": round(pairwise_f1(groups, truth), 4),
    }


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
    sizes: list[int],
    dims: int,
    all_pairs_max: int,
    search_rows: int,
    ann_min_rows: int,
    full_max: int = 200_000,
    sample: int = 10_000,
) -> dict[str, Any]:
    params = MatchParams(k=10, match_threshold=0.8, link_threshold=0.8, review_band=0.05, attribute_weight=0.0)
    arms = []
    for n in sizes:
        rows, owner = synthetic_appearances(n, dims)
        entry: dict[str, Any] = {"appearances": n, "knn": knn_arm(rows, owner, params, ann_min_rows, full_max, sample)}
        entry["all_pairs"] = all_pairs_arm(rows, owner, params) if n <= all_pairs_max else "skipped (does not fit)"
        arms.append(entry)
    return {
        "dims": dims,
        "clustering": arms,
        "search": search_quality(search_rows, dims, ann_min_rows=ann_min_rows) if search_rows else None,
    }
