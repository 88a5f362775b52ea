"""The nightly link's candidates: in memory while ``entities`` has no vector index, from the index after;
both find the nearest entities of the daily entity's own type."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from reid_pipeline.lib.identity.linking import EntityState, top_k
from reid_pipeline.lib.identity.nearest_entities import nearest_entities
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import entities_schema
from reid_pipeline.lib.storage.schemas import Row

DIMS = 32


def daily(i: int, vector: np.ndarray, entity_type: str = "person") -> Row:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    return {
        "daily_entity_id": f"D{i:04d}",
        "date": "2024-05-01",
        "entity_type": entity_type,
        "tracklet_ids": [f"2024-05-01/gate/{i:06d}"],
        "cameras": ["gate"],
        "first_seen": now,
        "last_seen": now,
        "n_appearances": 1,
        "needs_review": False,
        "vector": vector,
    }


def test_exact_and_indexed_search_find_the_same_nearest_entities(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    looks = rng.normal(size=(300, DIMS)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    kinds = ["person" if i % 3 else "vehicle" for i in range(300)]
    entities = [EntityState.start(daily(i, looks[i], kinds[i])).row() for i in range(300)]
    stores = {
        "exact": IdentityStore(str(tmp_path / "exact"), 10**6),
        "indexed": IdentityStore(str(tmp_path / "ann"), 10),
    }
    for store in stores.values():
        store.write_all("entities", entities_schema(DIMS), "entity_id", entities)
    assert str(stores["indexed"].vector_index["entities"]).startswith("built now")
    assert "none yet" in str(stores["exact"].vector_index["entities"])

    picks = [1, 2, 3, 4, 5, 6, 40, 41]  # persons and vehicles, queried with a little noise
    queries = [daily(1000 + i, looks[i] + 0.02 * rng.normal(size=DIMS).astype(np.float32), kinds[i]) for i in picks]
    found = {name: nearest_entities(store, queries, k=3) for name, store in stores.items()}

    ids = [e["entity_id"] for e in entities]
    for name, (candidates, rows) in found.items():
        for query, i in zip(queries, picks, strict=True):
            near = candidates[query["daily_entity_id"]]
            assert near[0] == ids[i], f"{name}: the entity it was drawn from comes first"
            assert len(near) == 3 and all(kinds[ids.index(e)] == kinds[i] for e in near), f"{name}: its type only"
        assert {r["entity_id"] for r in rows} == {e for near in candidates.values() for e in near}
        assert all(isinstance(r["vector"], np.ndarray) and "_distance" not in r for r in rows), "rows as stored"
    # The index quantises vectors (IVF-PQ, trained from a random start): the entity each query was drawn from
    # is first in both, and the nearest three agree but for the odd near tie among the runners-up.
    exact, indexed = found["exact"][0], found["indexed"][0]
    assert all(exact[q][0] == indexed[q][0] for q in exact)
    shared = sum(len(set(exact[q]) & set(indexed[q])) for q in exact)
    assert shared >= 0.9 * sum(len(near) for near in exact.values())


def test_top_k_is_the_head_of_a_stable_sort_ties_included() -> None:
    rng = np.random.default_rng(1)
    for trial in range(200):
        n, k, m = int(rng.integers(1, 60)), int(rng.integers(0, 15)), int(rng.integers(1, 8))
        # Every other trial draws from five values, so ties at the k-th place are common.
        sims = rng.integers(0, 5, size=(m, n)) if trial % 2 else rng.normal(size=(m, n))
        sims = sims.astype(np.float32)
        assert top_k(sims, k) == np.argsort(-sims, axis=1, kind="stable")[:, :k].tolist(), (trial, n, k)
