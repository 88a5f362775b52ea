"""The site adapter: learns from tracklets alone to separate identities the backbone confuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_adapter_refuses_vectors_of_another_width() -> None:
    vectors, tracklets, spans, _ = two_people()
    adapter = train_head(training_crops(vectors, tracklets, spans), "test:synthetic", HeadSpec(out_dims=4, epochs=0))
    with pytest.raises(ValueError, match="takes 12-d vectors of test:synthetic"):
        adapter.apply(np.ones((2, 7), np.float32))
