"""Incremental cross-day linking: the same answer as a full relink, in any order, and safe under races."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reid_pipeline.lib.identity.corrections import correction, interpret
from reid_pipeline.lib.identity.link_guard import RelinkConflict
from reid_pipeline.lib.identity.linking import link_days
from reid_pipeline.lib.identity.relink import RelinkReport, relink
from reid_pipeline.lib.identity.scoring import encode_attributes
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.storage.schemas import Row
from reid_pipeline_tests.lib.test_identity import PARAMS, World, run_day, store_at

DAYS = [f"2024-05-{d:02d}" for d in range(1, 8)]
COLOURS = ("red", "blue", "black", "white")


def random_days(seed: int, identities: int = 14) -> tuple[World, dict[str, list[Row]]]:
    """Seven days; each identity shows up on a random subset of days, on one or two cameras, with a
    colour that is usually (not always) read right."""
    world = World(identities=identities, seed=seed)
    rng = random.Random(seed)
    colour = [rng.choice(COLOURS) for _ in range(identities)]
    days: dict[str, list[Row]] = {}
    for date in DAYS:
        rows = []
        for i in range(identities):
            if rng.random() < 0.55:
                continue
            for c, camera in enumerate(("gate", "plaza")[: rng.randint(1, 2)]):
                seen = colour[i] if rng.random() < 0.8 else rng.choice(COLOURS)
                row = world.appearance(i, date, camera, 300 * i + 60 * c, noise=0.25)
                row["flat_attributes"] = encode_attributes({"upper_color": (seen, rng.uniform(0.5, 1.0))})
                rows.append(row)
        days[date] = rows
    return world, days


def linked(store: IdentityStore) -> tuple[dict[str, str], list[Row]]:
    members = {m["tracklet_id"]: m["entity_id"] for m in store.rows("entity_members")}
    entities = sorted(store.rows("entities"), key=lambda e: e["entity_id"])
    return members, entities


def test_incremental_linking_equals_a_full_relink_on_random_days(tmp_path: Path) -> None:
    for seed in (1, 2, 3):
        world, days = random_days(seed)
        store = store_at(tmp_path, f"nightly{seed}")
        t0 = days[DAYS[1]][0]["tracklet_id"]
        t1 = days[DAYS[4]][0]["tracklet_id"]
        store.add_correction(correction("not_same", t0, t1))  # a correction across days, in force throughout
        modes = []
        for date in DAYS:  # the nightly flow: one new day, then the global step
            run_day(store, date, days[date])
            modes.append(relink(store, PARAMS, interpret(store.corrections())).mode)
        assert modes == ["incremental"] * len(DAYS), "each new day was linked on its own"
        nightly = linked(store)

        report = relink(store, PARAMS, interpret(store.corrections()), full=True)
        assert report.mode == "full" and report.why_full == "asked for"
        assert linked(store) == nightly, f"seed {seed}: the full relink found the same entities, bit for bit"
        in_memory = link_days(store.rows("daily_entities"), PARAMS, interpret(store.corrections()))
        assert {m["tracklet_id"]: m["entity_id"] for m in in_memory.members} == nightly[0]

        members = nightly[0]
        assert members[t0] != members[t1]
        assert len(set(members.values())) < len(members), "days were linked"
        spread = {}
        for tracklet, entity in members.items():
            spread.setdefault(entity, set()).add(world.truth[tracklet])
        assert sum(len(s) == 1 for s in spread.values()) >= 0.9 * len(spread), "entities are mostly pure"


def test_a_late_camera_on_the_newest_day_undoes_and_relinks_only_that_day(tmp_path: Path) -> None:
    world, days = random_days(seed=6)
    store = store_at(tmp_path)
    for date in DAYS[:5]:
        run_day(store, date, days[date])
        relink(store, PARAMS, interpret(store.corrections()))
    newest = DAYS[4]
    late = [world.appearance(i, newest, "yard", 300 * i + 150, noise=0.25) for i in range(0, 14, 2)]
    run_day(store, newest, days[newest] + late)  # the day again, with a third camera's tracklets

    report = relink(store, PARAMS, interpret(store.corrections()))

    assert report.mode == "incremental" and report.days_linked == [newest]
    undone = linked(store)
    assert {t["tracklet_id"] for t in late} <= set(undone[0])
    relink(store, PARAMS, interpret(store.corrections()), full=True)
    assert linked(store) == undone, "undo and relink of the newest day equals replaying every day"


def test_three_backfill_orders_give_identical_ids_and_members(tmp_path: Path) -> None:
    _, days = random_days(seed=9)
    orders = [DAYS, DAYS[::-1], [DAYS[i] for i in (3, 0, 6, 1, 5, 2, 4)]]
    results, modes = [], []
    for attempt, order in enumerate(orders):
        store = store_at(tmp_path, f"order{attempt}")
        for date in order:
            run_day(store, date, days[date])
            modes.append(relink(store, PARAMS, interpret(store.corrections())).mode)
        results.append(linked(store))
    assert results[0] == results[1] == results[2]
    assert "full" in modes and "incremental" in modes, "an older day replays; a newer one links on its own"

    # A re-run of a day that changes nothing links nothing.
    store = store_at(tmp_path, "order0")
    run_day(store, DAYS[2], days[DAYS[2]])
    assert relink(store, PARAMS, interpret(store.corrections())).mode == "nothing new"
    assert linked(store) == results[0]


def test_a_name_correction_rewrites_only_its_entity(tmp_path: Path) -> None:
    _, days = random_days(seed=4)
    store = store_at(tmp_path)
    for date in DAYS[:3]:
        run_day(store, date, days[date])
        relink(store, PARAMS, interpret(store.corrections()))
    tracklet = days[DAYS[0]][0]["tracklet_id"]
    store.add_correction(correction("name", tracklet, value="Courier"))
    report = relink(store, PARAMS, interpret(store.corrections()))
    members, entities = linked(store)
    assert report.mode == "names only" and report.entities_written == 1
    assert [e["entity_id"] for e in entities if e["name"] == "Courier"] == [members[tracklet]]


# Two processes relinking one store at once ------------------------------------------------------------------


class OnceBarrier:
    """Waits for the other process before the first commit only (a retry must not wait again)."""

    def __init__(self, barrier: Any) -> None:
        self.barrier = barrier
        self.used = False

    def __call__(self) -> None:
        if not self.used:
            self.used = True
            self.barrier.wait(timeout=120)


def relink_in_process(uri: str, attempts: int, barrier: Any, results: Any) -> None:
    store = IdentityStore(uri, ann_min_rows=10_000)
    try:
        report: RelinkReport = relink(
            store,
            PARAMS,
            interpret(store.corrections()),
            full=True,
            attempts=attempts,
            before_commit=OnceBarrier(barrier),
        )
        results.put(("ok", report.lost_races))
    except RelinkConflict as exc:
        results.put(("conflict", str(exc)))


def race(uri: str, attempts: int) -> list[tuple[str, Any]]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=relink_in_process, args=(uri, attempts, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return sorted(outcomes)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(3, [("ok", 0), ("ok", 1)]), (1, ["conflict", ("ok", 0)])],
    ids=["the loser retries on the new state", "the loser fails and writes nothing"],
)
def test_two_processes_relinking_at_once_never_overwrite_each_other(
    tmp_path: Path, attempts: int, expected: list[Any]
) -> None:
    _, days = random_days(seed=5)
    store = store_at(tmp_path)
    for date in DAYS[:4]:
        run_day(store, date, days[date])
    expected_members = {
        m["tracklet_id"]: m["entity_id"]
        for m in link_days(store.rows("daily_entities"), PARAMS, interpret(store.corrections())).members
    }

    outcomes = race(str(tmp_path / "lancedb"), attempts)

    shapes = [o if o[0] == "ok" else o[0] for o in outcomes]
    assert shapes == expected
    if attempts == 1:
        message = next(o[1] for o in outcomes if o[0] == "conflict")
        assert "committed first 1 times in a row; nothing was overwritten" in message
    state = store.table("link_state").to_arrow().to_pylist()[0]
    assert state["generation"] == sum(1 for o in outcomes if o[0] == "ok") and not state["writing"]
    assert linked(store)[0] == expected_members
    assert np.isfinite([v for e in store.rows("entities") for v in e["vector"]]).all()
