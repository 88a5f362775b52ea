"""The identity benchmark's pieces: the F1 it reports, and kNN clustering agreeing with all pairs."""

from __future__ import annotations

import pytest

from reid_pipeline.lib.bench.identities import bench_identities, pairwise_f1, search_quality


def test_pairwise_f1_by_hand() -> None:
    owner = {"a": 0, "b": 0, "c": 0, "d": 1}
    # true pairs: ab, ac, bc; predicted: ab (right) and cd (wrong) -> precision 1/2, recall 1/3
    assert pairwise_f1([["a", "b"], ["c", "d"]], owner) == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert pairwise_f1([["a", "b", "c"], ["d"]], owner) == 1.0
    assert pairwise_f1([["a"], ["b"], ["c"], ["d"]], owner) == 0.0


def test_knn_graph_clusters_like_all_pairs_on_small_data() -> None:
    report = bench_identities([400], dims=64, all_pairs_max=1000, search_rows=0, ann_min_rows=10**6)
    (arm,) = report["clustering"]
    assert arm["knn"]["pairwise_f1"] == arm["all_pairs"]["pairwise_f1"] > 0.95
    assert report["search"] is None


def test_exact_search_has_full_recall() -> None:
    result = search_quality(2000, dims=32, queries=20, ann_min_rows=10**6)
    assert result["index"] == "none (exact)" and result["recall_at_10"] == 1.0 and result["p50_ms"] > 0


def test_large_sizes_time_a_sample_and_say_they_extrapolate() -> None:
    report = bench_identities(
        [3000], dims=32, all_pairs_max=0, search_rows=0, ann_min_rows=10**6, full_max=1000, sample=100
    )
    knn = report["clustering"][0]["knn"]
    assert knn["sampled_queries"] == 100 and knn["knn_ms_per_query"] > 0
    assert knn["cluster_s_extrapolated"] == pytest.approx(knn["knn_ms_per_query"] * 3, rel=0.05, abs=1)
    assert report["clustering"][0]["all_pairs"] == "skipped (does not fit)"
