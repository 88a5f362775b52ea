"""Identity matching on synthetic appearances with known identities, on a real LanceDB on disk."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.identity.clustering import Edge, cluster
from reid_pipeline.lib.identity.corrections import correction, interpret
from reid_pipeline.lib.identity.daily import cluster_day
from reid_pipeline.lib.identity.linking import link_days
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.refresh import changed_days, refresh_timelines
from reid_pipeline.lib.identity.scoring import TransitionTimes, attribute_agreement, encode_attributes, fused_score
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.schemas import Row

DIMS = 32
PARAMS = MatchParams(k=8, match_threshold=0.8, link_threshold=0.8, review_band=0.1, attribute_weight=0.0)


class World:
    """Identities with a base look each; appearances are noisy views of them at given times and cameras."""

    def __init__(self, identities: int, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.looks = self._unit(self.rng.normal(size=(identities, DIMS)))
        self.truth: dict[str, int] = {}

    @staticmethod
    def _unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    def appearance(
        self, identity: int, date: str, camera: str, second: int, noise: float = 0.15, look: np.ndarray | None = None
    ) -> Row:
        base = self.looks[identity] if look is None else look
        vector = self._unit(base + noise * self.rng.normal(size=DIMS) / np.sqrt(DIMS))
        start = datetime.fromisoformat(date).replace(hour=8, tzinfo=UTC) + timedelta(seconds=second)
        tracklet_id = f"{date}/{camera}/{second:06d}"
        self.truth[tracklet_id] = identity
        return {
            "tracklet_id": tracklet_id,
            "date": date,
            "camera_id": camera,
            "entity_type": "person",
            "start_time": start,
            "end_time": start + timedelta(seconds=5),
            "n_detections": 5,
            "best_crop_id": f"{tracklet_id}-c",
            "quality": 0.8,
            "summary": f"identity {identity}",
            "attributes": None,
            "flat_attributes": None,
            "thumbnail": b"\xff\xd8",
            "backend": "test",
            "model": "synthetic",
            "vector": vector.astype(np.float32).tolist(),
        }


def store_at(tmp_path: Path, name: str = "lancedb") -> IdentityStore:
    return IdentityStore(str(tmp_path / name), ann_min_rows=10_000)


def run_day(store: IdentityStore, date: str, rows: list[Row], params: MatchParams = PARAMS) -> list[Row]:
    store.write_appearances(date, rows, DIMS)
    day_rows = store.rows("appearances", f"date = {quoted(date)}")
    result = cluster_day(date, day_rows, store.table("appearances"), params, interpret(store.corrections()))
    store.write_daily_entities(date, result.entities, DIMS)
    store.write_review("tracklet", date, result.review)
    return result.entities


def run_global(store: IdentityStore, params: MatchParams = PARAMS) -> dict[str, str]:
    before = store.rows("entity_members")
    result = link_days(
        store.rows("daily_entities"), store.table("daily_entities"), params, interpret(store.corrections())
    )
    store.write_entities(result.entities, result.members, DIMS)
    refresh_timelines(store, before, result.members)
    return {m["tracklet_id"]: m["entity_id"] for m in result.members}


def groups_of(entities: list[Row]) -> list[list[str]]:
    return sorted(sorted(e["tracklet_ids"]) for e in entities)


def true_groups(world: World, rows: list[Row]) -> list[list[str]]:
    by_identity: dict[int, list[str]] = {}
    for row in rows:
        by_identity.setdefault(world.truth[row["tracklet_id"]], []).append(row["tracklet_id"])
    return sorted(sorted(ids) for ids in by_identity.values())


def test_hand_checked_scores() -> None:
    a = {"upper_color": ("red", 0.9), "bag": ("backpack", 0.5)}
    b = {"upper_color": ("red", 0.6), "bag": ("none", 0.8), "headwear": ("cap", 0.7)}
    # shared fields: upper_color agrees with weight 0.6, bag disagrees with weight 0.5 -> 0.6 / 1.1
    assert attribute_agreement(a, b) == pytest.approx(0.6 / 1.1)
    assert attribute_agreement(a, {}) is None
    assert fused_score(0.8, 0.5, 0.25) == pytest.approx(0.725)
    assert fused_score(0.8, None, 0.25) == 0.8


def test_clustering_takes_strongest_edges_first_and_respects_conflicts() -> None:
    edges = [Edge("a", "b", 0.95, 0.95, None), Edge("b", "c", 0.9, 0.9, None), Edge("c", "d", 0.75, 0.75, None)]
    result = cluster("abcd", edges, 0.8, 0.1, conflict=lambda x, y: {x, y} == {"a", "c"})
    assert result.groups == [["a", "b"], ["c"], ["d"]]
    assert result.refused_edges == 1
    assert [(e.a, e.b) for e in result.review] == [("c", "d")]


def test_one_day_recovers_identities_across_cameras(tmp_path: Path) -> None:
    world = World(identities=6)
    rows = [
        world.appearance(i, "2024-05-01", cam, 100 * i + (40 if cam == "plaza" else 0))
        for i in range(6)
        for cam in ("gate", "plaza")
    ]
    entities = run_day(store_at(tmp_path), "2024-05-01", rows)
    assert groups_of(entities) == true_groups(world, rows)
    assert all(e["cameras"] == ["gate", "plaza"] for e in entities)
    assert all(e["daily_entity_id"] == f"de:{min(e['tracklet_ids'])}" for e in entities)


def test_look_alikes_seen_together_are_never_merged(tmp_path: Path) -> None:
    world = World(identities=2)
    twin = world.looks[0]
    rows = [
        world.appearance(0, "2024-05-01", "gate", 0, noise=0.02),
        world.appearance(1, "2024-05-01", "gate", 2, noise=0.02, look=twin),  # overlaps in time on one camera
        world.appearance(1, "2024-05-01", "plaza", 3, noise=0.02, look=twin),  # on another camera at that moment
    ]
    entities = run_day(store_at(tmp_path), "2024-05-01", rows)
    assert len(entities) == 3, "identical looks, but seen at once: three different entities"
    assert not any(e["needs_review"] for e in entities), "impossible pairs are not review material"


def test_camera_transition_times_forbid_too_quick_moves(tmp_path: Path) -> None:
    world = World(identities=1)
    rows = [
        world.appearance(0, "2024-05-01", "gate", 0, noise=0.02),
        world.appearance(0, "2024-05-01", "plaza", 15, noise=0.02),
    ]
    # 10 s between the end of one sighting and the start of the other
    quick = MatchParams(**{**PARAMS.__dict__, "transitions": TransitionTimes.parse({"plaza>gate": 60}, 0)})
    assert len(run_day(store_at(tmp_path, "a"), "2024-05-01", rows, quick)) == 2
    assert len(run_day(store_at(tmp_path, "b"), "2024-05-01", rows)) == 1


def test_uncertain_matches_are_flagged_not_merged(tmp_path: Path) -> None:
    world = World(identities=2)
    between = World._unit(world.looks[0] + 0.6 * world.looks[1])
    rows = [
        world.appearance(0, "2024-05-01", "gate", 0, noise=0.0),
        world.appearance(1, "2024-05-01", "plaza", 60, noise=0.0, look=between),
    ]
    score = float(np.dot(rows[0]["vector"], rows[1]["vector"]))
    params = MatchParams(**{**PARAMS.__dict__, "match_threshold": score + 0.05, "review_band": 0.1})
    store = store_at(tmp_path)
    entities = run_day(store, "2024-05-01", rows, params)
    assert len(entities) == 2 and all(e["needs_review"] for e in entities)
    (review,) = store.rows("review_queue")
    assert review["level"] == "tracklet" and review["score"] == pytest.approx(score, abs=1e-5)


def three_days(world: World) -> dict[str, list[Row]]:
    out = {}
    for d, date in enumerate(("2024-05-01", "2024-05-02", "2024-05-03")):
        present = [i for i in range(8) if (i + d) % 3 != 0]  # each day a different subset shows up
        out[date] = [
            world.appearance(i, date, cam, 200 * i + 50 * c) for i in present for c, cam in enumerate(("gate", "plaza"))
        ]
    return out


def test_global_ids_do_not_depend_on_backfill_order(tmp_path: Path) -> None:
    days = three_days(World(identities=8, seed=3))
    results = []
    for attempt, order in enumerate(
        (["2024-05-01", "2024-05-02", "2024-05-03"], ["2024-05-03", "2024-05-01", "2024-05-02"])
    ):
        store = store_at(tmp_path, f"order{attempt}")
        for date in order:
            run_day(store, date, days[date])
            run_global(store)  # the nightly flow relinks after every day
        results.append((run_global(store), sorted(e["entity_id"] for e in store.rows("entities"))))
    assert results[0] == results[1]
    members = results[0][0]
    assert len(members) == sum(len(rows) for rows in days.values()), "every tracklet belongs to an entity"
    assert len(set(members.values())) < len(members), "days were linked"

    # Re-running a day changes nothing.
    store = store_at(tmp_path, "order0")
    run_day(store, "2024-05-02", days["2024-05-02"])
    assert run_global(store) == members


def test_linking_across_days_matches_the_truth(tmp_path: Path) -> None:
    world = World(identities=8, seed=5)
    days = three_days(world)
    store = store_at(tmp_path)
    for date, rows in days.items():
        run_day(store, date, rows)
    members = run_global(store)
    by_entity: dict[str, set[int]] = {}
    for tracklet, entity in members.items():
        by_entity.setdefault(entity, set()).add(world.truth[tracklet])
    assert all(len(identities) == 1 for identities in by_entity.values()), "no entity mixes identities"
    assert len(by_entity) == 8, "every identity is one entity across all days"
    timelines = store.rows("entity_timelines")
    assert sum(t["n_appearances"] for t in timelines) == sum(len(r) for r in days.values())
    assert {(t["entity_id"], t["date"]) for t in timelines} == {
        (members[r["tracklet_id"]], d) for d, rs in days.items() for r in rs
    }


def test_corrections_are_data_and_survive_reruns(tmp_path: Path) -> None:
    world = World(identities=3, seed=7)
    days = {
        "2024-05-01": [world.appearance(i, "2024-05-01", "gate", 100 * i) for i in range(3)],
        "2024-05-02": [world.appearance(i, "2024-05-02", "gate", 100 * i) for i in range(3)],
    }
    store = store_at(tmp_path)
    for date, rows in days.items():
        run_day(store, date, rows)
    members = run_global(store)
    t0, t1, t2 = (days["2024-05-01"][i]["tracklet_id"] for i in range(3))
    u0 = days["2024-05-02"][0]["tracklet_id"]
    assert members[t0] == members[u0] != members[t1]

    store.add_correction(correction("not_same", t0, u0, author="test"))
    store.add_correction(correction("merge", t1, t2))
    store.add_correction(correction("name", t0, value="Courier"))
    store.add_correction(correction("watch", t0))
    for _ in range(2):  # applied on a re-run, and again on the next one
        for date, rows in days.items():
            run_day(store, date, rows)
        members = run_global(store)
        assert members[t0] != members[u0]
        assert members[t1] == members[t2]
        entity = next(e for e in store.rows("entities") if e["entity_id"] == members[t0])
        assert entity["name"] == "Courier" and entity["watch"]
        assert [s["entity_id"] for s in store.rows("watch_sightings")] == [members[t0]]

    store.add_correction(correction("merge", t0, u0))  # the latest word wins
    run_global(store)
    assert run_global(store)[t0] == run_global(store)[u0]


def test_corrections_apply_in_order() -> None:
    first = correction("merge", "a", "b")
    later = {**correction("not_same", "b", "a"), "created_at": first["created_at"] + timedelta(seconds=1)}
    split = {**correction("split", "c", tracklets=["d", "e"]), "created_at": first["created_at"]}
    rules = interpret([later, first, split])
    assert rules.cannot_link == {("a", "b"), ("c", "d"), ("c", "e")} and not rules.must_link
    with pytest.raises(ValueError, match="unknown correction kind"):
        correction("forget", "a")


def test_shuffled_input_rows_give_the_same_day(tmp_path: Path) -> None:
    world = World(identities=5, seed=11)
    rows = [
        world.appearance(i, "2024-05-01", cam, 100 * i + 30 * c)
        for i in range(5)
        for c, cam in enumerate(("gate", "plaza", "yard"))
    ]
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    a = run_day(store_at(tmp_path, "a"), "2024-05-01", rows)
    b = run_day(store_at(tmp_path, "b"), "2024-05-01", shuffled)
    assert [(e["daily_entity_id"], e["tracklet_ids"]) for e in a] == [
        (e["daily_entity_id"], e["tracklet_ids"]) for e in b
    ]


def test_attributes_pull_scores_apart(tmp_path: Path) -> None:
    world = World(identities=1)
    red = encode_attributes({"upper_color": ("red", 0.9)})
    blue = encode_attributes({"upper_color": ("blue", 0.9)})
    rows = [
        world.appearance(0, "2024-05-01", "gate", 0, noise=0.3),
        world.appearance(0, "2024-05-01", "plaza", 60, noise=0.3),
    ]
    cosine = float(np.dot(rows[0]["vector"], rows[1]["vector"]))
    params = MatchParams(
        **{**PARAMS.__dict__, "match_threshold": cosine - 0.01, "attribute_weight": 0.5, "review_band": 0.0}
    )
    same = run_day(store_at(tmp_path, "same"), "2024-05-01", [{**r, "flat_attributes": red} for r in rows], params)
    clash = run_day(
        store_at(tmp_path, "clash"),
        "2024-05-01",
        [rows[0] | {"flat_attributes": red}, rows[1] | {"flat_attributes": blue}],
        params,
    )
    assert len(same) == 1 and len(clash) == 2


def test_a_rerun_repairs_a_partial_write(tmp_path: Path) -> None:
    world = World(identities=4)
    rows = [world.appearance(i, "2024-05-01", "gate", 100 * i) for i in range(4)]
    store = store_at(tmp_path)
    run_day(store, "2024-05-01", rows)
    before = sorted(r["tracklet_id"] for r in store.rows("appearances"))
    # As if a crash had left the table half-written: rows lost, one stray row from an older run.
    store.table("appearances").delete(f"tracklet_id = {quoted(rows[0]['tracklet_id'])}")
    store.table("appearances").add([{**rows[1], "tracklet_id": "2024-05-01/gate/stale", "adapter_id": "none"}])
    run_day(store, "2024-05-01", rows)
    assert sorted(r["tracklet_id"] for r in store.rows("appearances")) == before


def test_threshold_sweep_finds_a_setting_that_recovers_the_truth(tmp_path: Path) -> None:
    from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
    from reid_pipeline.lib.evaluation.sweep import config_snippet, stored_membership, sweep

    world = World(identities=8, seed=5)
    days = three_days(world)
    store = store_at(tmp_path)
    for date, rows in days.items():
        run_day(store, date, rows)
    run_global(store)
    truth = {t: str(i) for t, i in world.truth.items()}
    assert score_clustering(stored_membership(store), truth).pairwise_f1 == 1.0

    results = sweep(store, truth, PARAMS, thresholds=[0.2, 0.8, 0.999], attribute_weights=[0.0])
    by_threshold = {r["match_threshold"]: r for r in results}
    assert by_threshold[0.8]["pairwise_f1"] == 1.0
    assert by_threshold[0.999]["pairwise_recall"] < 1.0, "too strict: identities split"
    assert by_threshold[0.2]["pairwise_precision"] < 1.0, "too loose: identities merged"
    best = max(results, key=lambda r: r["pairwise_f1"])
    assert "match_threshold = 0.800" in config_snippet(best)


@pytest.mark.slow
def test_eval_clustering_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from reid_pipeline.cli import main
    from reid_pipeline.cli.eval import SWEEP_THRESHOLDS

    world = World(identities=8, seed=9)
    days = three_days(world)
    store = IdentityStore(str(tmp_path / "data" / "lancedb"), 10_000)
    for date, rows in days.items():
        run_day(store, date, rows)
    run_global(store)
    labels = tmp_path / "labels.csv"
    labels.write_text("tracklet_id,identity\n" + "".join(f"{t},{i}\n" for t, i in world.truth.items()))
    snippet = tmp_path / "best.toml"

    args = ["eval", "clustering", "--labels", str(labels), "--data-root", str(tmp_path / "data"), "--json"]
    plot = tmp_path / "pr.png"
    assert main([*args, "--profile", "offline", "--sweep", "--write-config", str(snippet), "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stored"]["items"] == len(world.truth)
    assert len(report["sweep"]) == len(SWEEP_THRESHOLDS) * 3 and report["best"]["pairwise_f1"] == 1.0
    assert snippet.read_text() == report["config"] and "[identity]" in report["config"]
    assert plot.read_bytes()[:4] == b"\x89PNG" and report["plot"] == str(plot)

    import tomllib

    assert tomllib.loads(snippet.read_text())["identity"]["match_threshold"] == report["best"]["match_threshold"]


def test_the_identity_stage_runs_with_a_small_ann_min_rows(tmp_path: Path) -> None:
    """Every table passes its index threshold at once: scalar indexes everywhere, no crash, same identities."""
    days = three_days(World(identities=8, seed=3))
    exact, indexed = store_at(tmp_path, "exact"), IdentityStore(str(tmp_path / "indexed"), ann_min_rows=2)
    for store in (exact, indexed):
        for date, rows in days.items():
            run_day(store, date, rows)
        run_global(store)
    assert run_global(indexed) == run_global(exact)
    for name in ("appearances", "daily_entities", "entity_members", "entity_timelines"):
        assert indexed.table(name).list_indices(), f"{name} has its scalar indexes"
    # Too few rows to train IVF-PQ: skipped, with the reason where the assets report it.
    assert "IVF-PQ needs 256" in str(indexed.vector_index["appearances"])
    assert "entity_members" not in indexed.vector_index, "a table without vectors has no vector index to report"


def test_a_vector_index_on_a_small_table_finds_the_same_identities(tmp_path: Path) -> None:
    world = World(identities=150, seed=13)
    rows = [
        world.appearance(i, "2024-05-01", cam, 100 * i + 40 * c)
        for i in range(150)
        for c, cam in enumerate(("gate", "plaza"))
    ]
    exact, indexed = store_at(tmp_path, "exact"), IdentityStore(str(tmp_path / "indexed"), ann_min_rows=10)
    found = [groups_of(run_day(store, "2024-05-01", rows)) for store in (exact, indexed)]
    assert str(indexed.vector_index["appearances"]).startswith("built now")
    assert found[1] == found[0] == true_groups(world, rows)


def test_values_with_quotes_are_quoted_in_lancedb_filters(tmp_path: Path) -> None:
    world = World(identities=2, seed=17)
    store = store_at(tmp_path)
    for date in ("2024-05-01", "2024-05-02"):
        rows = [
            {**world.appearance(i, date, cam, 100 * i + 40 * c), "entity_type": "driver's cab"}
            for i in range(2)
            for c, cam in enumerate(("gate", "plaza"))
        ]
        assert len(run_day(store, date, rows)) == 2, "each identity is one entity of the day"
    assert len(set(run_global(store).values())) == 2, "and linked across both days"


def timelines_by_day(store: IdentityStore) -> dict[str, list[tuple[str, list[str], int]]]:
    found: dict[str, list[tuple[str, list[str], int]]] = {}
    for row in sorted(store.rows("entity_timelines"), key=lambda r: (r["date"], r["entity_id"])):
        found.setdefault(row["date"], []).append((row["entity_id"], row["tracklet_ids"], row["n_appearances"]))
    return found


def test_changed_days_are_those_where_a_tracklet_moved_arrived_or_vanished() -> None:
    def member(tracklet: str, date: str, entity: str) -> Row:
        return {"tracklet_id": tracklet, "date": date, "daily_entity_id": f"de:{tracklet}", "entity_id": entity}

    before = [member("t1", "d1", "E1"), member("t2", "d2", "E2"), member("t3", "d3", "E3")]
    after = [member("t1", "d1", "E1"), member("t2", "d2", "E9"), member("t4", "d4", "E4")]
    assert changed_days(before, after) == ["d2", "d3", "d4"]


def test_a_day_that_lost_tracklets_gets_its_timelines_refreshed(tmp_path: Path) -> None:
    world = World(identities=3, seed=19)
    days = {
        date: [
            world.appearance(i, date, cam, 100 * i + 40 * c)
            for i in range(3)
            for c, cam in enumerate(("gate", "plaza"))
        ]
        for date in ("2024-05-01", "2024-05-02")
    }
    store = store_at(tmp_path)
    for date, rows in days.items():
        run_day(store, date, rows)
    members = run_global(store)
    # A re-run of day 2 no longer has one tracklet (footage removed); it anchors nothing, so no id moves.
    gone = days["2024-05-02"][1]["tracklet_id"]
    run_day(store, "2024-05-02", [r for r in days["2024-05-02"] if r["tracklet_id"] != gone])
    assert run_global(store) == {t: e for t, e in members.items() if t != gone}

    timelines = timelines_by_day(store)
    assert all(gone not in ids for _e, ids, _n in timelines["2024-05-02"]), "the day was refreshed"
    assert sum(n for _e, _ids, n in timelines["2024-05-02"]) == 5


def test_timelines_of_days_past_appearance_retention_are_kept_through_relinking(tmp_path: Path) -> None:
    world = World(identities=3, seed=23)
    days = {
        date: [world.appearance(i, date, "gate", 100 * i) for i in range(3)] for date in ("2024-05-01", "2024-05-02")
    }
    store = store_at(tmp_path)
    for date, rows in days.items():
        run_day(store, date, rows)
    members = run_global(store)
    t0, t1, t2 = (r["tracklet_id"] for r in days["2024-05-01"])
    before = {row["entity_id"]: row for row in store.rows("entity_timelines", "date = '2024-05-01'")}
    # Retention drops day 1's appearances; timelines are kept for ever.
    store.table("appearances").delete("date = '2024-05-01'")

    # People say t0 and t1 are one person: t1's entity (and so day 1's membership) changes.
    store.add_correction(correction("merge", t0, t1))
    after = run_global(store)
    assert after[t1] == after[t0] == members[t0] != members[t1]

    day1 = {row["entity_id"]: row for row in store.rows("entity_timelines", "date = '2024-05-01'")}
    assert sorted(day1) == sorted({after[t0], after[t2]}), "day 1 is updated, not wiped"
    merged, kept = day1[after[t0]], day1[after[t2]]
    assert merged["tracklet_ids"] == [t0, t1] and merged["n_appearances"] == 2
    assert merged["first_seen"] == before[members[t0]]["first_seen"]
    assert merged["last_seen"] == before[members[t1]]["last_seen"]
    assert merged["thumbnail"] == before[members[t0]]["thumbnail"]
    assert kept == before[members[t2]], "an untouched entity's day stays as it was"
