from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from reid_pipeline.cli import main
from reid_pipeline.lib.identity.thresholds import default_threshold
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place


def readme_python_block() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return readme.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def data_root(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return make_settings().storage.data_root


@pytest.mark.slow
def test_run_processes_a_day_through_dagster(
    data_root: str,
    synthetic_clip: Path,
    vtest_clip: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = Path(data_root) / "raw"
    place(raw, "2024-05-01", "gate", vtest_clip)
    place(raw, "2024-05-01", "yard", synthetic_clip)

    code = main(["run", "--date", "2024-05-01", "--camera", "gate", "--data-root", data_root, "--profile", "offline"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "2024-05-01  gate" in out and "yard" not in out.split("date")[-1]
    assert "global entities:" in out, "the day's identity run followed the camera run"
    assert (Path(data_root) / "parquet/tracklets/date=2024-05-01/camera=gate/part-0.parquet").is_file()
    instance = dg.DagsterInstance.get()
    assert instance.get_dynamic_partitions("cameras") == ["gate"]
    event = instance.get_latest_materialization_event(dg.AssetKey("tracklets"))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.partition == "gate|2024-05-01"

    # The README's DuckDB and polars queries, exactly as printed there, run over this output.
    namespace: dict[str, object] = {}
    monkeypatch.chdir(Path(data_root).parent)
    exec(readme_python_block(), namespace)
    best = namespace["best"]
    assert best.height == len(set(best["tracklet_id"])) > 0  # type: ignore[attr-defined]
    nearest = namespace["nearest"]
    assert nearest["similarity"][0] == pytest.approx(1.0, abs=1e-4)  # type: ignore[index]
    days_per_entity, timelines = namespace["days_per_entity"], namespace["timelines"]
    appearances = sum(timelines.column("n_appearances").to_pylist())  # type: ignore[attr-defined]
    assert days_per_entity["tracklets"].sum() == appearances > 0, "every tracklet is in one entity and one timeline"  # type: ignore[index]
    assert namespace["multi_camera"].height <= days_per_entity.height  # type: ignore[attr-defined]
    assert "gate" in capsys.readouterr().out
    check_identity_commands(data_root, capsys)


def cli_json(args: list[str], data_root: str, capsys: pytest.CaptureFixture[str]) -> object:
    assert main([*args, "--data-root", data_root, "--profile", "offline", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_identity_commands(data_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The day's identities through the CLI: list, show, history, a correction applied, image and text search."""
    timelines = cli_json(["entities", "list", "--date", "2024-05-01", "--camera", "gate"], data_root, capsys)
    assert isinstance(timelines, list) and timelines, "the day has entity timelines"
    assert sum(t["n_appearances"] for t in timelines) == len({x for t in timelines for x in t["tracklet_ids"]})
    first = timelines[0]["entity_id"]
    shown = cli_json(["entities", "show", first], data_root, capsys)
    assert isinstance(shown, dict) and shown["entity_id"] == first and shown["tracklets"]
    history = cli_json(["entities", "history", shown["tracklets"][0]], data_root, capsys)
    assert isinstance(history, list) and [h["date"] for h in history] == ["2024-05-01"]

    named = cli_json(["entities", "name", first, "Courier", "--apply", "--author", "test"], data_root, capsys)
    assert isinstance(named, dict) and named["applied"] is True
    renamed = cli_json(["entities", "show", first], data_root, capsys)
    assert isinstance(renamed, dict) and renamed["name"] == "Courier"

    import duckdb

    crop = duckdb.sql(
        f"SELECT jpeg FROM read_parquet('{data_root}/parquet/crops/**/*.parquet', hive_partitioning = true) "
        f"WHERE tracklet_id = '{shown['tracklets'][0]}' AND best_rank = 1"
    ).fetchall()[0][0]
    query = Path(data_root) / "query.jpg"
    query.write_bytes(crop)
    hits = cli_json(["search", "--image", str(query), "--top", "3"], data_root, capsys)
    assert isinstance(hits, list) and hits[0]["tracklet_id"] == shown["tracklets"][0]
    # The crop is one of the vectors pooled into its tracklet's: it would match it. (Site-adapted vectors
    # are centred, so a match scores well above the centred threshold, far below a raw cosine's 0.9.)
    assert hits[0]["similarity"] > default_threshold("imagenet-cnn", "centering").match

    assert main(["search", "--text", "red jacket", "--data-root", data_root, "--profile", "offline"]) == 2
    assert "text search needs CLIP weights" in capsys.readouterr().err


def test_run_without_footage_names_the_folder(data_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--date", "2024-05-09", "--data-root", data_root, "--profile", "offline"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no footage for 2024-05-09" in err and str(Path(data_root) / "raw" / "2024-05-09") in err


def test_run_with_unknown_camera_names_the_folder(
    data_root: str, synthetic_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    place(Path(data_root) / "raw", "2024-05-01", "gate", synthetic_clip)
    code = main(["run", "--date", "2024-05-01", "--camera", "roof", "--data-root", data_root, "--profile", "offline"])
    assert code == 2
    assert "2024-05-01/roof" in capsys.readouterr().err


def test_bad_date_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--date", "01/05/2024"])
    assert exit_info.value.code == 2
    assert "use YYYY-MM-DD" in capsys.readouterr().err


def test_bench_detect_json(data_root: str, vtest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "detect",
            "--json",
            "--seconds",
            "3",
            "--profile",
            "offline",
            "--data-root",
            data_root,
            "--source",
            str(vtest),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    naive, pipeline = report["naive"], report["pipeline"]
    assert naive["source_frames"] == pipeline["source_frames"] == 30
    assert naive["detected_frames"] == 30
    assert pipeline["detected_frames"] <= 6  # 2 fps over 3 s, fewer when nothing moved
    assert report["speedup"] == pytest.approx(pipeline["source_fps"] / naive["source_fps"], rel=0.01)


@pytest.mark.slow
def test_bench_embed_json(data_root: str, vtest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--json", "--seconds", "4", "--profile", "offline", "--data-root", data_root, "--source", str(vtest)]
    assert main(["bench", "embed", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    naive, pipeline = report["arms"]
    assert report["model"] == "imagenet-cnn:mobilenetv2" and report["dims"] == 1280
    assert naive["crops"] == pipeline["crops"] > 0 and naive["batch_size"] == 1
    assert report["speedup"] == pytest.approx(pipeline["crops_per_s"] / naive["crops_per_s"], rel=0.02)
    assert report["max_abs_difference_naive_vs_pipeline"] < 1e-3, "batching must not change the vectors"


@pytest.mark.slow
def test_bench_separation_json(data_root: str, vtest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--json", "--seconds", "4", "--profile", "offline", "--data-root", data_root, "--source", str(vtest)]
    assert main(["bench", "separation", *args]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in results] == ["imagenet-cnn:mobilenetv2", "imagenet-cnn:efficientnet-lite0"]
    for result in results:
        assert result["positive_pairs"] > 0 and result["negative_pairs"] > 0
        assert 0.0 <= result["auc"] <= 1.0


def test_bench_identities_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "identities", "--sizes", "600,3000", "--dims", "32", "--search-rows", "0", "--full-max", "1000"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "   600" in out and "  3000" in out and "extrapolated from" in out


def test_eval_clustering_sweeps_from_the_stored_vectors_threshold(
    data_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sweep starts from the threshold the pipeline used: that of the stored vectors' backend, not the profile's."""
    from reid_pipeline.lib.evaluation import sweep as sweep_module
    from reid_pipeline.lib.identity.params import MatchParams
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline_tests.lib.test_identity import World, run_day, run_global

    world = World(identities=3, seed=29)
    rows = [
        {**world.appearance(i, "2024-05-01", "gate", 100 * i), "backend": "imagenet-cnn", "model": "efficientnet-lite0"}
        for i in range(3)
    ]
    store = IdentityStore(str(Path(data_root) / "lancedb"), ann_min_rows=100_000)
    run_day(store, "2024-05-01", rows)
    run_global(store)
    labels = tmp_path / "labels.csv"
    labels.write_text("tracklet_id,identity\n" + "".join(f"{t},{i}\n" for t, i in world.truth.items()))
    bases: list[MatchParams] = []

    def recording_sweep(store: object, truth: object, base: MatchParams, *_args: object) -> list[dict[str, float]]:
        bases.append(base)
        return [{"match_threshold": 0.9, "attribute_weight": 0.2, "pairwise_f1": 1.0}]

    monkeypatch.setattr(sweep_module, "sweep", recording_sweep)
    args = ["eval", "clustering", "--labels", str(labels), "--sweep", "--profile", "standard"]
    assert main([*args, "--data-root", data_root, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    assert [b.match_threshold for b in bases] == [0.90], "ImageNet CNN vectors are matched at 0.90, open_clip at 0.85"
    assert report["in_force"] == {
        "embedding_backend": "imagenet-cnn",
        "adaptation": "none",  # the stored vectors say no site adapter made them
        "match_threshold": 0.9,
        "link_threshold": 0.9,
    }


class _Stop(Exception):
    """Raised in place of building a model: the test only needs what happened before."""


@pytest.mark.parametrize("bench", ["detect", "embed", "separation"])
def test_bench_commands_keep_models_offline_when_settings_say_so(
    data_root: str, bench: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reid_pipeline.lib.detection.factory as detection_factory
    import reid_pipeline.lib.runtime.offline as offline_module

    monkeypatch.setenv("REID_DETECTION__OFFLINE", "true")
    monkeypatch.setenv("REID_EMBEDDING__OFFLINE", "true")
    asked: list[bool] = []
    monkeypatch.setattr(offline_module, "configure_model_env", lambda _dir, offline: asked.append(offline))
    monkeypatch.setattr(detection_factory, "build_detector", lambda *_a: (_ for _ in ()).throw(_Stop()))

    with pytest.raises(_Stop):
        main(["bench", bench, "--profile", "standard", "--data-root", data_root])
    assert asked == [True], "offline = true forbids downloads whatever the profile"


def test_auto_profiles_are_probed_once_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    import reid_pipeline.lib.detection.factory as detection_factory
    import reid_pipeline.lib.embedding.factory as embedding_factory
    from reid_pipeline.cli.common import settings_from

    for name in (
        "REID_DETECTION__OFFLINE",
        "REID_EMBEDDING__OFFLINE",
        "REID_DETECTION__PROFILE",
        "REID_EMBEDDING__PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    probes: list[str] = []

    def unreachable(host: str, *_args: object) -> bool:
        probes.append(host)
        return False

    monkeypatch.setattr(detection_factory, "can_reach", unreachable)
    monkeypatch.setattr(embedding_factory, "can_reach", unreachable)
    monkeypatch.setattr(detection_factory, "weights_available_locally", lambda _weights: False)
    monkeypatch.setattr(embedding_factory, "open_clip_weights_cached", lambda _model, _pretrained: False)

    settings = settings_from(argparse.Namespace(data_root=None, profile="auto"))

    assert probes == [detection_factory.WEIGHTS_HOST, embedding_factory.WEIGHTS_HOST], "one probe per profile"
    assert settings.detection.profile == settings.embedding.profile == "offline"
    assert capsys.readouterr().out.count("offline profile") == 2, "each fallback is explained once"


def test_review_mot_finds_the_demo_clips_under_the_raw_root(
    data_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    import reid_pipeline.lib.evaluation.ground_truth as ground_truth

    roots: list[Path] = []
    monkeypatch.setattr(
        ground_truth, "demo_detections", lambda _data_root: pa.table({"detection_id": pa.array([], pa.string())})
    )
    monkeypatch.setattr(ground_truth, "clip_index", lambda raw_root: roots.append(raw_root) or {})
    monkeypatch.setenv("REID_STORAGE__RAW_ROOT", str(tmp_path / "cameras"))
    labels = tmp_path / "labels.csv"
    labels.write_text("tracklet_id,label\n")

    assert (
        main(["review", "mot", "--labels", str(labels), "--out", str(tmp_path / "gt.txt"), "--data-root", data_root])
        == 0
    )
    assert roots == [tmp_path / "cameras"], "the footage is where storage.raw_root says, not under the data root"
