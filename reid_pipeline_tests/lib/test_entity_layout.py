"""The layout of ``entities`` rows: a fixed width (how many days, the newest), the days themselves in the
members; and tables written with the older layout (lists of days and daily entities) migrated."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from reid_pipeline.lib.identity.corrections import interpret
from reid_pipeline.lib.identity.query import entity_days, show_entity
from reid_pipeline.lib.identity.relink import relink
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import entities_schema, undo_schema
from reid_pipeline.lib.storage.schemas import Row
from reid_pipeline_tests.lib.test_identity import PARAMS, run_day, store_at
from reid_pipeline_tests.lib.test_relink import DAYS, linked, random_days

NEW = ("n_days", "last_date", "last_daily_entity_id")


def nightly(store: IdentityStore, days: dict[str, list[Row]], dates: list[str]) -> list[str]:
    modes = []
    for date in dates:
        run_day(store, date, days[date])
        modes.append(relink(store, PARAMS, interpret(store.corrections())).mode)
    return modes


def member_history(store: IdentityStore) -> dict[str, list[tuple[str, str]]]:
    """Per entity, its (date, daily entity) pairs in date order, from ``entity_members``."""
    history: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in store.rows("entity_members"):
        history[m["entity_id"]].add((m["date"], m["daily_entity_id"]))
    return {e: sorted(pairs) for e, pairs in history.items()}


def test_an_entity_row_counts_its_days_and_names_the_newest(tmp_path: Path) -> None:
    _, days = random_days(seed=5)
    store = store_at(tmp_path)
    nightly(store, days, DAYS)
    history = member_history(store)
    entities = store.rows("entities")
    assert any(e["n_days"] > 2 for e in entities), "some entity spans several days"
    for entity in entities:
        seen = history[entity["entity_id"]]
        assert entity["n_days"] == len({d for d, _ in seen})
        assert entity["last_date"] == seen[-1][0]
        assert entity["last_daily_entity_id"] in {daily for d, daily in seen if d == seen[-1][0]}
        assert entity_days(store, entity["entity_id"]) == sorted({d for d, _ in seen})
    assert all(not pa.types.is_list(store.table("entities").schema.field(c).type) for c in NEW)


def old_layout(schema: pa.Schema) -> pa.Schema:
    """``schema`` as the older version wrote it: the day and daily-entity lists instead of ``NEW``."""
    lists = [pa.field("days", pa.list_(pa.string()), False), pa.field("daily_entity_ids", pa.list_(pa.string()), False)]
    return pa.schema([f for f in schema if f.name not in NEW] + lists)


def rewrite_in_old_layout(store: IdentityStore, name: str, schema: pa.Schema) -> None:
    """Replace ``name`` by the same rows in the older layout, the lists filled from the members."""
    history = member_history(store)
    rows = []
    for row in store.rows(name):
        seen = history.get(row["entity_id"], [])
        old = {k: v for k, v in row.items() if k not in NEW}
        rows.append({**old, "days": sorted({d for d, _ in seen}), "daily_entity_ids": [e for _, e in seen]})
    data = pa.Table.from_pylist(rows, schema=old_layout(schema))
    store.lance.db.create_table(name, data=data, schema=old_layout(schema), mode="overwrite")


def test_tables_of_the_older_layout_are_read_and_migrated_by_the_next_relink(tmp_path: Path) -> None:
    _, days = random_days(seed=7)
    fresh = store_at(tmp_path, "fresh")
    nightly(fresh, days, DAYS)
    store = store_at(tmp_path, "old")
    nightly(store, days, DAYS[:4])
    dims = store.vector_width("entities")
    assert dims is not None and store.rows("link_undo"), "the newest day left undo rows"
    rewrite_in_old_layout(store, "entities", entities_schema(dims))
    rewrite_in_old_layout(store, "link_undo", undo_schema(dims))
    someone = next(e for e in store.rows("entities") if len(e["days"]) > 1)

    shown = show_entity(store, someone["entity_id"])  # read before any migration
    assert shown["days"] == someone["days"] and "daily_entity_ids" not in shown

    run_day(store, DAYS[4], days[DAYS[4]])
    report = relink(store, PARAMS, interpret(store.corrections()))
    assert report.mode == "full" and report.why_full == "the entities table has an older layout"
    for name in ("entities", "link_undo"):
        names = store.table(name).schema.names
        assert set(NEW) <= set(names) and "days" not in names and "daily_entity_ids" not in names
    assert nightly(store, days, DAYS[5:]) == ["incremental", "incremental"], "nightly linking resumes"
    assert linked(store) == linked(fresh), "the migrated store holds what one never migrated holds"
