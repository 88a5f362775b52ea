"""The site_adapter asset through Dagster: its adapter id on every vector, and a new adapter re-adapting
every stored day (never two adapters' vectors in one comparison)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import cameras
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.settings import Settings, load_settings
from reid_pipeline_tests.privacy_run import CAMERA, DAYS


def settings_with(root: Path, **identity: object) -> Settings:
    return load_settings(
        storage={"data_root": str(root)},
        detection={"profile": "offline", "offline": True},
        embedding={"profile": "offline", "offline": True},
        retention={"image_days": None, "vector_days": None},
        identity=identity,
    )


def identity_run(settings: Settings, day: str) -> dict[str, dict[str, object]]:
    """identity_job for ``day``; the metadata of each asset it materialized."""
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(cameras.name, [CAMERA])  # type: ignore[arg-type]
    run = defs.resolve_job_def("identity_job").execute_in_process(partition_key=day, instance=instance)
    assert run.success
    return {
        event.asset_key.path[-1]: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in run.get_asset_materialization_events()
    }


def adapters_in(store: IdentityStore, table: str) -> set[str]:
    return {a for ids in store.adapter_ids(table).values() for a in ids}


@pytest.mark.slow
def test_a_new_adapter_re_adapts_every_stored_day(two_day_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    store = IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    # Without adaptation, both days go back to backbone vectors, whatever made them before.
    plain = identity_run(settings_with(root, adaptation="none"), DAYS[1])
    assert plain["site_adapter"]["adapter_id"] == "none"
    assert adapters_in(store, "appearances") == adapters_in(store, "daily_entities") == {"none"}

    # Centering learned from both days; running the second day re-adapts the first one too.
    centred = identity_run(settings_with(root, adaptation="centering", adaptation_window_days=0), DAYS[1])
    first_id = str(centred["site_adapter"]["adapter_id"])
    assert first_id.startswith("centering-")
    assert centred["appearances"]["days_re_adapted"] == DAYS[0]
    assert adapters_in(store, "appearances") == adapters_in(store, "daily_entities") == {first_id}
    assert store.vector_width("appearances") == 1280

    # The same footage and settings give the same adapter: nothing to redo.
    again = identity_run(settings_with(root, adaptation="centering", adaptation_window_days=0), DAYS[1])
    assert again["site_adapter"]["adapter_id"] == first_id
    assert again["appearances"]["days_re_adapted"] == "none"

    # A trained head on the latest day only: another adapter, another width; every day is redone.
    head = identity_run(settings_with(root, adaptation="head", adaptation_window_days=1), DAYS[1])
    head_id = str(head["site_adapter"]["adapter_id"])
    assert head_id.startswith("head-") and head_id != first_id
    assert head["site_adapter"]["training_window"] == DAYS[1]
    assert "loss_curve" in head["site_adapter"]
    assert head["appearances"]["days_re_adapted"] == DAYS[0]
    assert adapters_in(store, "appearances") == adapters_in(store, "daily_entities") == {head_id}
    # At most 128 wide, fewer when the window holds fewer crops than that (the head starts as their PCA).
    width = store.vector_width("appearances")
    assert width is not None and width <= 128
    assert store.vector_width("daily_entities") == store.vector_width("entities") == width
    assert store.rows("entity_members"), "linking ran on one adapter's vectors"
    assert "threshold_provenance" in head["daily_entities"]
    # Only the adapter in force stays on disk: older ones were learned from crops that may be gone since.
    folder = root / "adaptation"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{head_id}.npz", f"{head_id}.json", "current.txt"])


@pytest.mark.slow
def test_an_erasure_retrains_the_adapter_without_the_erased_crops(
    two_day_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reid_pipeline.cli import main
    from reid_pipeline.lib.adaptation.window import crops_of_days
    from reid_pipeline.lib.storage.parquet import ParquetStore

    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = settings_with(root, adaptation="centering", adaptation_window_days=0)
    before = str(identity_run(settings, DAYS[1])["site_adapter"]["adapter_id"])
    store = IdentityStore(str(root / "lancedb"), ann_min_rows=100_000)
    entity = max(store.rows("entities"), key=lambda e: (e["n_appearances"], e["entity_id"]))
    erased = {m["tracklet_id"] for m in store.rows("entity_members") if m["entity_id"] == entity["entity_id"]}
    assert erased & set(crops_of_days(ParquetStore(str(root)), tuple(DAYS)).tracklets), "it trained the adapter"

    assert main(["entities", "forget", entity["entity_id"], "--apply", "--data-root", str(root), "--json"]) == 0
    capsys.readouterr()
    after = str(identity_run(settings, DAYS[1])["site_adapter"]["adapter_id"])

    assert after != before, "the adapter learned from the erased crops: it is learned again without them"
    assert not erased & set(crops_of_days(ParquetStore(str(root)), tuple(DAYS)).tracklets)
    assert not list((root / "adaptation").glob(f"{before}.*")), "the old adapter is gone from disk"
    assert adapters_in(store, "appearances") == {after}


@pytest.mark.slow
def test_centering_from_streamed_sums_equals_centering_fitted_on_held_crops(two_day_root: Path) -> None:
    """``window_means`` adds the window up a few rows at a time; the adapter is the one the held crops give."""
    from reid_pipeline.lib.adaptation.site import centering_of, fit_site_adaptation
    from reid_pipeline.lib.adaptation.window import crops_of_days, window_means
    from reid_pipeline.lib.storage.parquet import ParquetStore

    store, days = ParquetStore(str(two_day_root)), tuple(DAYS)
    held = crops_of_days(store, days)
    streamed = window_means(store, days, rows=7)
    assert held.crop_ids and streamed.crops == len(held.crop_ids)
    assert streamed.describe().tracklets == held.describe().tracklets > 1
    assert streamed.describe().cameras == held.describe().cameras
    assert streamed.backbone == held.backbone
    fitted = fit_site_adaptation("centering", held.backbone, held.vectors, held.cameras, held.tracklets, [], days)
    summed = centering_of(streamed.backbone, streamed.sums, streamed.counts, days)
    assert sorted(summed.camera_means) == sorted(fitted.camera_means)
    for camera, mean in fitted.camera_means.items():
        np.testing.assert_allclose(summed.camera_means[camera], mean, atol=1e-6)
    assert summed.adapter_id == fitted.adapter_id
