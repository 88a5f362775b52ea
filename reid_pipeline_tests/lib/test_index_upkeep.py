"""Index upkeep after writes: filters stay indexed, and readers on older versions keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from reid_pipeline.lib.identity.link_guard import LinkGuard
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import undo_schema
from reid_pipeline.lib.storage.lance import UpkeepPolicy
from reid_pipeline_tests.lib.test_identity import DIMS, World


def unindexed(store: IdentityStore, name: str) -> int:
    return max(int(i.num_unindexed_rows or 0) for i in store.table(name).list_indices())


def write_days(store: IdentityStore, world: World, days: range) -> None:
    for d in days:
        date = f"2024-05-{d:02d}"
        store.write_appearances(date, [world.appearance(i, date, "gate", 60 * i) for i in range(30)], DIMS)


def test_without_upkeep_later_rows_stay_unindexed(tmp_path: Path) -> None:
    store = IdentityStore(str(tmp_path / "off"), ann_min_rows=10**6, upkeep=UpkeepPolicy(enabled=False))
    write_days(store, World(identities=30), range(1, 6))
    assert unindexed(store, "appearances") == 4 * 30, "only the first day's rows were indexed"
    assert store.upkept == {}


def test_upkeep_folds_new_rows_into_the_indexes_when_due(tmp_path: Path) -> None:
    policy = UpkeepPolicy(unindexed_rows=50, unindexed_share=0.9, small_fragments=1000)
    store = IdentityStore(str(tmp_path / "on"), ann_min_rows=10**6, upkeep=policy)
    world = World(identities=30)
    write_days(store, world, range(1, 3))
    assert unindexed(store, "appearances") == 30 and "appearances" not in store.upkept, "30 rows: not due yet"
    write_days(store, world, range(3, 4))
    assert unindexed(store, "appearances") == 0
    assert store.upkept["appearances"] == "optimized (60 of 90 rows unindexed)"


def test_optimize_leaves_readers_on_older_versions_working(tmp_path: Path) -> None:
    policy = UpkeepPolicy(unindexed_rows=1, small_fragments=2)  # optimize after every write
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=10**6, upkeep=policy)
    world = World(identities=30)
    write_days(store, world, range(1, 4))
    reader = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=10**6).table("appearances")
    seen = reader.version
    before = reader.search().where("date = '2024-05-02'").limit(100).to_arrow().num_rows

    write_days(store, world, range(4, 8))  # each write compacts and re-indexes; old files stay for the grace
    write_days(store, world, range(2, 3))  # a day rewritten in place

    assert store.upkept["appearances"].startswith("optimized")
    assert reader.version == seen, "the reader stays on the version it opened"
    assert reader.search().where("date = '2024-05-02'").limit(100).to_arrow().num_rows == before == 30
    assert reader.count_rows() == 90
    reader.checkout_latest()
    assert reader.count_rows() == 7 * 30 and unindexed(store, "appearances") == 0


@pytest.mark.filterwarnings("ignore:optimize\\(cleanup_older_than=0\\)")
def test_the_link_state_tables_keep_a_bounded_number_of_versions(tmp_path: Path) -> None:
    """``link_state`` and ``link_undo`` are rewritten in place by every relink: their old versions are pruned
    every ``prune_every`` commits rather than kept for ever."""
    policy = UpkeepPolicy(version_grace_s=0)  # nothing reads old versions here
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=10**6, upkeep=policy)
    counts = []
    for day in range(1, 13):
        date = f"2024-05-{day:02d}"
        guard = LinkGuard(store, prune_every=4)
        state = guard.read()
        assert guard.claim(state)
        store.write_all("link_undo", undo_schema(DIMS), "entity_id", [])
        guard.release(state, date, None)
        counts.append({name: len(store.table(name).list_versions()) for name in ("link_state", "link_undo")})
    assert max(c["link_state"] for c in counts) <= 2 * 4 + 2, "pruned every fourth commit"
    assert max(c["link_undo"] for c in counts) <= 4 + 2
    assert store.upkept["link_state"] == store.upkept["link_undo"] == "optimized (versions pruned)"
