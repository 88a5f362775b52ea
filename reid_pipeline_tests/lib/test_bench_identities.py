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


def test_every_size_is_measured_in_full() -> None:
    report = bench_identities([1500], dims=32, all_pairs_max=0, search_rows=0, ann_min_rows=10**6)
    knn = report["clustering"][0]["knn"]
    assert knn["daily_entities"] > 0 and knn["candidate_search"] == "exact (in memory)"
    assert knn["pairwise_f1"] > 0.95 and knn["cluster_s"] > 0
    assert report["clustering"][0]["all_pairs"] == "skipped (does not fit)"


def test_nights_of_identity_work_are_timed_day_by_day() -> None:
    from reid_pipeline.lib.bench.identity_days import bench_identity_days

    report = bench_identity_days(days=4, per_day=100, dims=16, report_days=(1, 4))
    assert list(report["report"]) == [1, 4] and len(report["all_days"]) == 4
    assert [d["mode"] for d in report["all_days"]] == ["incremental"] * 4, "each night links only the new day"
    assert report["population"] == 100 and report["pairwise_f1"] > 0.95
    assert report["last_over_first"] == round(report["report"][4]["total_s"] / report["report"][1]["total_s"], 2)
    assert set(report["filtered_query_ms"]) == {"appearances by date", "members by entity"}


def test_the_upkeep_bench_compares_a_grown_table_with_and_without_optimize() -> None:
    from reid_pipeline.lib.bench.index_upkeep import bench_index_upkeep

    off, on = bench_index_upkeep(days=4, per_day=200)["arms"]
    assert (off["upkeep"], on["upkeep"]) == (False, True) and off["rows"] == on["rows"] == 800
    assert off["unindexed_rows"] == 600 and on["unindexed_rows"] == 0
    assert set(on["median_ms"]) == set(off["median_ms"]) and min(on["median_ms"].values()) > 0
