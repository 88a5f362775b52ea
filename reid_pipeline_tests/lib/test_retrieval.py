"""Retrieval metrics on hand-computed cases and against a direct implementation on random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.evaluation.market import parse_name
from reid_pipeline.lib.evaluation.retrieval import evaluate


def test_market_names() -> None:
    image = parse_name(Path("0002_c1s1_000451_03.jpg"))
    assert (image.pid, image.camera) == (2, 1)
    assert parse_name(Path("-1_c3s2_064169_01.jpg")).pid == -1
    with pytest.raises(ValueError, match="not a Market-1501 name"):
        parse_name(Path("person.jpg"))


def test_hand_computed_query() -> None:
    # One query: pid 1, camera 1. Gallery by distance: [pid1 cam1 (same camera: ignored), pid2, pid1 cam2,
    # junk, pid1 cam3]. Valid ranking: pid2, pid1, pid1 -> correct at ranks 2 and 3.
    # AP = (1/2 + 2/3) / 2 = 7/12; CMC: rank1 0, rank5 1.
    distances = np.array([[0.1, 0.2, 0.3, 0.35, 0.4]])
    scores = evaluate(
        distances,
        np.array([1]),
        np.array([1]),
        np.array([1, 2, 1, -1, 1]),
        np.array([1, 1, 2, 2, 3]),
        ranks=(1, 5),
    )
    assert scores.mAP == pytest.approx(7 / 12)
    assert scores.cmc == {1: 0.0, 5: 1.0}
    assert scores.queries == 1 and scores.skipped_queries == 0


def test_queries_without_a_valid_match_are_skipped_and_counted() -> None:
    distances = np.array([[0.1, 0.2], [0.3, 0.1]])
    scores = evaluate(distances, np.array([1, 2]), np.array([1, 1]), np.array([1, 2]), np.array([2, 1]), ranks=(1,))
    assert scores.queries == 1 and scores.skipped_queries == 1 and scores.mAP == 1.0
    with pytest.raises(ValueError, match="nothing to score"):
        evaluate(distances[1:], np.array([2]), np.array([1]), np.array([1, 2]), np.array([2, 1]))


def direct_map_and_rank1(distances, qp, qc, gp, gc):  # type: ignore[no-untyped-def]
    """The protocol written out the plain way, pair by pair, as an independent check."""
    aps, firsts = [], []
    for q in range(len(qp)):
        valid = [g for g in range(len(gp)) if gp[g] != -1 and not (gp[g] == qp[q] and gc[g] == qc[q])]
        valid.sort(key=lambda g: (distances[q, g], g))
        correct = [rank for rank, g in enumerate(valid, start=1) if gp[g] == qp[q]]
        if not correct:
            continue
        aps.append(sum((i + 1) / rank for i, rank in enumerate(correct)) / len(correct))
        firsts.append(correct[0])
    return float(np.mean(aps)), float(np.mean([f == 1 for f in firsts]))


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_a_direct_implementation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    qp, qc = rng.integers(0, 6, 15), rng.integers(1, 4, 15)
    gp, gc = rng.integers(-1, 6, 60), rng.integers(1, 4, 60)
    distances = rng.random((15, 60))
    scores = evaluate(distances, qp, qc, gp, gc, ranks=(1,))
    expected_map, expected_rank1 = direct_map_and_rank1(distances, qp, qc, gp, gc)
    assert scores.mAP == pytest.approx(expected_map)
    assert scores.cmc[1] == pytest.approx(expected_rank1)


def write_person(path: Path, pid: int, seed: int) -> None:
    """A 64x160 'person' whose upper and lower colours depend on the pid, with per-image noise."""
    from PIL import Image

    palette = [(200, 30, 30), (30, 30, 200), (30, 160, 30), (220, 220, 220), (20, 20, 20)]
    rng = np.random.default_rng(seed)
    pixels = np.full((160, 64, 3), 110, dtype=np.int16)
    pixels[20:80] = palette[pid % 5]
    pixels[80:150] = palette[(pid * 2 + 1) % 5]
    pixels += rng.integers(-25, 25, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


def market_split(root: Path) -> tuple[Path, Path]:
    query, gallery = root / "query", root / "gallery"
    query.mkdir(parents=True)
    gallery.mkdir(parents=True)
    for pid in range(1, 5):
        write_person(query / f"{pid:04d}_c1s1_000100_01.jpg", pid, seed=pid)
        write_person(gallery / f"{pid:04d}_c1s1_000200_01.jpg", pid, seed=10 + pid)  # same camera: ignored
        write_person(gallery / f"{pid:04d}_c2s1_000300_01.jpg", pid, seed=20 + pid)
    write_person(gallery / "-1_c2s1_000400_01.jpg", 1, seed=30)  # junk
    write_person(gallery / "0000_c2s1_000500_01.jpg", 3, seed=31)  # distractor
    return query, gallery


def test_eval_retrieval_cli_on_images_and_on_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from reid_pipeline.cli import main

    query, gallery = market_split(tmp_path / "market")
    args = ["eval", "retrieval", "--query", str(query), "--gallery", str(gallery), "--profile", "offline", "--json"]
    assert main([*args, "--data-root", str(tmp_path / "data")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "imagenet-cnn:mobilenetv2"
    assert report["queries"] == 4 and report["skipped_queries"] == 0
    assert 0.0 < report["mAP"] <= 1.0 and report["rank1"] <= report["rank5"] <= report["rank10"] == 1.0

    # Precomputed vectors check the metric path on its own: each pid's vectors point the same way.
    names = [p.name for p in sorted(query.iterdir())] + [p.name for p in sorted(gallery.iterdir())]
    splits = ["query"] * 4 + ["gallery"] * (len(names) - 4)
    directions = np.eye(8)
    vectors = [directions[max(int(n.split("_")[0]), 0) % 8].tolist() for n in names]
    path = tmp_path / "vectors.parquet"
    pq.write_table(pa.table({"name": names, "split": splits, "vector": vectors}), path)
    plot = tmp_path / "cmc.png"
    assert main(["eval", "retrieval", "--vectors", str(path), "--json", "--plot", str(plot)]) == 0
    perfect = json.loads(capsys.readouterr().out)
    assert perfect["mAP"] == 1.0 and perfect["rank1"] == 1.0 and "rank20" not in perfect
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and perfect["plot"] == str(plot)
    assert main(["eval", "retrieval", "--vectors", str(path), "--json", "--rerank"]) == 0
    reranked = json.loads(capsys.readouterr().out)
    assert reranked["rerank"] is True and reranked["queries"] == 4 and 0.0 < reranked["mAP"] <= 1.0

    assert main(["eval", "retrieval", "--query", str(query)]) == 2
    assert "pass --query and --gallery" in capsys.readouterr().err
