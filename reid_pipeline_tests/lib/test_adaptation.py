"""The site adapter: learns from tracklets alone to separate identities the backbone confuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.adaptation.head import HeadSpec, train_head
from reid_pipeline.lib.adaptation.samples import TrackletSpan, co_occurring, training_crops
from reid_pipeline.lib.embedding.types import l2_normalise

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
DIMS = 12


def two_people(seed: int = 0) -> tuple[np.ndarray, list[str], list[TrackletSpan], np.ndarray]:
    """Crops of two people whose difference (dimension 0) is small next to what changes from crop to crop
    (pose and light: dimensions 1..5). Each minute both walk past camera ``c`` at once."""
    rng = np.random.default_rng(seed)
    vectors, tracklets, spans, person = [], [], [], []
    for minute in range(12):
        for who, sign in (("A", 1.0), ("B", -1.0)):
            tracklet = f"{who}{minute:02d}"
            start = T0 + timedelta(minutes=minute)
            spans.append(TrackletSpan(tracklet, "c", start, start + timedelta(seconds=20)))
            for _ in range(4):
                v = np.zeros(DIMS)
                v[0] = 0.4 * sign
                v[1:6] = rng.normal(0, 1.0, 5)
                v[6:] = 2.0  # what every crop of the site shares
                vectors.append(v)
                tracklets.append(tracklet)
                person.append(sign)
    return l2_normalise(np.array(vectors)), tracklets, spans, np.array(person)


def separation(vectors: np.ndarray, tracklets: list[str], person: np.ndarray) -> float:
    """Mean cosine between crops of one person on different tracklets minus that between the two people."""
    sims = vectors @ vectors.T
    same = person[:, None] == person[None, :]
    other_tracklet = np.array(tracklets)[:, None] != np.array(tracklets)[None, :]
    return float(sims[same & other_tracklet].mean() - sims[~same].mean())


def test_adapter_separates_two_identities_it_starts_out_confusing() -> None:
    vectors, tracklets, spans, person = two_people()
    data = training_crops(vectors, tracklets, spans)
    assert data.negative_pairs == 12  # A and B of each minute
    spec = HeadSpec(out_dims=4, epochs=60, learning_rate=0.02, temperature=0.2, batch_tracklets=8)
    untrained = train_head(data, "test:synthetic", HeadSpec(out_dims=4, epochs=0))
    trained = train_head(data, "test:synthetic", spec)
    before = separation(untrained.apply(vectors), tracklets, person)
    after = separation(trained.apply(vectors), tracklets, person)
    assert before < 0.15  # the head's starting point (PCA) follows pose and light, not the person
    assert after > 0.5
    assert trained.losses[-1] < trained.losses[0]
    # New crops of the same two people: the adapter generalises beyond the crops it saw.
    fresh, fresh_tracklets, _, fresh_person = two_people(seed=1)
    assert separation(trained.apply(fresh), fresh_tracklets, fresh_person) > 0.5


def test_same_inputs_and_seed_give_the_same_adapter() -> None:
    vectors, tracklets, spans, _ = two_people()
    data = training_crops(vectors, tracklets, spans)
    spec = HeadSpec(out_dims=4, epochs=5, batch_tracklets=8)
    first, second = train_head(data, "test:synthetic", spec), train_head(data, "test:synthetic", spec)
    assert first.adapter_id == second.adapter_id
    assert np.array_equal(first.weights, second.weights)
    other = train_head(data, "test:synthetic", HeadSpec(out_dims=4, epochs=5, batch_tracklets=8, seed=1))
    assert other.adapter_id != first.adapter_id


def test_co_occurrence_is_per_camera_and_overlap() -> None:
    spans = [
        TrackletSpan("a", "c1", T0, T0 + timedelta(seconds=10)),
        TrackletSpan("b", "c1", T0 + timedelta(seconds=5), T0 + timedelta(seconds=20)),
        TrackletSpan("c", "c1", T0 + timedelta(seconds=30), T0 + timedelta(seconds=40)),
        TrackletSpan("d", "c2", T0, T0 + timedelta(seconds=10)),
    ]
    different = co_occurring(spans)
    assert different[0, 1] and different[1, 0]
    assert not different[0, 2] and not different[0, 3]
    assert different.nnz == 2, "stored sparse: only the pairs seen at once"


def test_a_long_window_of_tracklets_stays_sparse() -> None:
    """50 000 tracklets, each overlapping the next one only: a dense matrix would be 2.5 GB."""
    spans = [
        TrackletSpan(f"t{i}", f"c{i % 4}", T0 + timedelta(seconds=10 * i), T0 + timedelta(seconds=10 * i + 45))
        for i in range(50_000)
    ]
    different = co_occurring(spans)
    assert different.shape == (50_000, 50_000)
    assert different.nnz == 2 * (50_000 - 4)  # on each camera, each tracklet and the next one


def test_adapter_refuses_vectors_of_another_width() -> None:
    vectors, tracklets, spans, _ = two_people()
    adapter = train_head(training_crops(vectors, tracklets, spans), "test:synthetic", HeadSpec(out_dims=4, epochs=0))
    with pytest.raises(ValueError, match="takes 12-d vectors of test:synthetic"):
        adapter.apply(np.ones((2, 7), np.float32))


def test_camera_centering_removes_synthetic_camera_offsets(tmp_path: Path) -> None:
    from reid_pipeline.lib.adaptation.site import fit_site_adaptation, load_adaptation

    rng = np.random.default_rng(3)
    people = l2_normalise(rng.normal(0, 1, (4, 32)))  # four people, as the backbone sees them
    offsets = {
        "gate": 6.0 * l2_normalise(rng.normal(0, 1, (1, 32)))[0],
        "yard": 6.0 * l2_normalise(rng.normal(0, 1, (1, 32)))[0],
    }
    vectors, cams, who = [], [], []
    for camera, offset in offsets.items():  # each camera adds its own bias (light, angle, lens)
        for person in range(4):
            for _ in range(3):
                vectors.append(people[person] + offset + rng.normal(0, 0.05, 32))
                cams.append(camera)
                who.append(person)
    vectors_ = l2_normalise(np.array(vectors))
    who_ = np.array(who)
    gate = np.array(cams) == "gate"

    def cross_camera_hits(v: np.ndarray) -> float:
        """Share of gate crops whose nearest yard crop is the same person."""
        nearest = (v[gate] @ v[~gate].T).argmax(axis=1)
        return float((who_[~gate][nearest] == who_[gate]).mean())

    def same_person_margin(v: np.ndarray) -> float:
        sims = v[gate] @ v[~gate].T
        same = who_[gate][:, None] == who_[~gate][None, :]
        return float(sims[same].mean() - sims[~same].mean())

    adaptation = fit_site_adaptation("centering", "test:synthetic", vectors_, cams, [""] * len(cams), [], ("d",))
    centred = adaptation.apply(vectors_, cams)
    assert same_person_margin(vectors_) < 0.1  # the camera dominates the raw vectors
    assert same_person_margin(centred) > 0.5
    assert cross_camera_hits(centred) == 1.0
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)
    # Saved and loaded, it is the same adapter, and it refuses a file that was changed.
    path = adaptation.save(tmp_path)
    assert load_adaptation(path).adapter_id == adaptation.adapter_id
    np.testing.assert_allclose(load_adaptation(path).apply(vectors_, cams), centred)


def test_search_vectors_go_through_the_adapter_that_made_the_stored_ones(tmp_path: Path) -> None:
    from reid_pipeline.lib.adaptation.site import ANY_CAMERA, adapt_query, fit_site_adaptation

    vectors, tracklets, spans, _ = two_people()
    cams = ["c"] * len(vectors)
    centring = fit_site_adaptation("centering", "test:synthetic", vectors, cams, tracklets, spans, ("d",))
    head = fit_site_adaptation("head", "test:synthetic", vectors, cams, tracklets, spans, ("d",), HeadSpec(4, 2))
    for adaptation in (centring, head):
        adaptation.save(tmp_path)
    query = vectors[0]
    assert adapt_query(tmp_path, {"none"}, query, text=False) is query
    np.testing.assert_allclose(
        adapt_query(tmp_path, {head.adapter_id}, query, text=False), head.apply(query[None], [ANY_CAMERA])[0]
    )
    assert adapt_query(tmp_path, {centring.adapter_id}, query, text=True) is query
    with pytest.raises(ValueError, match="text search cannot use vectors adapted by a trained head"):
        adapt_query(tmp_path, {head.adapter_id}, query, text=True)
    with pytest.raises(ValueError, match="made by several adapters"):
        adapt_query(tmp_path, {head.adapter_id, "none"}, query, text=False)


def test_adapted_tracklet_vectors_streamed_in_batches_equal_pooling_all_crops_at_once(tmp_path: Path) -> None:
    """Crop vectors adapted and pooled a few rows at a time give each tracklet the vector that adapting and
    pooling all its crops at once gives, including a tracklet whose qualities are all 0 and pooled rows mixed in.
    """
    from datetime import datetime

    import pyarrow as pa

    from reid_pipeline.lib.adaptation.site import fit_site_adaptation
    from reid_pipeline.lib.embedding.types import pool_vectors
    from reid_pipeline.lib.identity.appearances import adapted_tracklet_vectors
    from reid_pipeline.lib.storage.parquet import ParquetStore
    from reid_pipeline.lib.storage.schemas import embeddings_schema

    rng = np.random.default_rng(5)
    dims, part = 16, {"date": "2024-06-03", "camera": "gate"}
    tracklets = [f"t{rng.integers(0, 6)}" for _ in range(40)]
    qualities = [0.0 if t == "t0" else float(rng.choice([0.0, rng.random()])) for t in tracklets]
    vectors = l2_normalise(rng.normal(0, 1, (40, dims))).astype(np.float32)
    rows = [
        {
            "embedding_id": f"c{i}" if kind == "crop" else tracklets[i],
            "kind": kind,
            "date": part["date"],
            "camera_id": part["camera"],
            "tracklet_id": tracklets[i],
            "crop_id": f"c{i}" if kind == "crop" else None,
            "entity_type": "person",
            "timestamp": datetime(2024, 6, 3, 12, 0, i),
            "quality": qualities[i],
            "n_crops": 1,
            "vector": vectors[i],
            "backend": "test",
            "model": "synthetic",
            "dims": dims,
        }
        for i in range(40)
        for kind in (("crop", "tracklet") if i % 9 == 0 else ("crop",))
    ]
    store = ParquetStore(str(tmp_path))
    store.write("embeddings", part, pa.Table.from_pylist(rows, schema=embeddings_schema(dims)))
    adaptation = fit_site_adaptation("centering", "test:synthetic", vectors, ["gate"] * 40, tracklets, [], ("d",))
    adapted = adaptation.apply(vectors, ["gate"] * 40)

    streamed = adapted_tracklet_vectors(store, part, adaptation, rows=3)

    assert sorted(streamed) == sorted(set(tracklets))
    for tracklet, vector in streamed.items():
        mine = np.array([t == tracklet for t in tracklets])
        expected = pool_vectors(adapted[mine], np.array(qualities)[mine])
        np.testing.assert_allclose(vector, expected, atol=1e-6)
