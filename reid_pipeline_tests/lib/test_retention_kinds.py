"""Retention by kind of data on a real two-day run: pictures go after ``image_days`` wherever they are stored,
timelines keep their text and times, and the report says what kind of data went from which table."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.privacy.retention import apply, plan
from reid_pipeline.lib.review.report_files import images_in_report
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import RetentionSettings
from reid_pipeline_tests.privacy_run import CAMERA, missing, needles, places, scan

OLD, YOUNG = "2024-05-01", "2024-05-02"
TEXT = ("entity_id", "date", "first_seen", "last_seen", "cameras", "n_appearances", "tracklet_ids", "summary")


def _pictures_of(root: Path, day: str) -> list[bytes]:
    parquet, store = ParquetStore(str(root)), IdentityStore(str(root / "lancedb"), 100_000)
    crops = [
        c
        for cam in parquet.cameras("crops", day)
        for c in parquet.read("crops", {"date": day, "camera": cam}).column("jpeg").to_pylist()
    ]
    where = f"date = {quoted(day)}"
    thumbs = [r["thumbnail"] for name in ("appearances", "entity_timelines") for r in store.rows(name, where)]
    return [p for p in (*crops, *thumbs) if p]


@pytest.mark.slow
def test_pictures_past_image_days_go_everywhere_and_timelines_keep_text_and_times(
    two_day_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    parquet, store = ParquetStore(str(root)), IdentityStore(str(root / "lancedb"), 100_000)
    old_pictures, young_pictures = _pictures_of(root, OLD), _pictures_of(root, YOUNG)
    assert old_pictures and young_pictures
    assert images_in_report(str(root), OLD) > 0
    assert not missing(old_pictures, scan(root, needles(old_pictures))), "the scan finds every picture before"
    timelines_before = {r["timeline_id"]: r for r in store.rows("entity_timelines")}
    # image_days=1 on 2024-05-02: pictures of 2024-05-01 go; the tables' own limits (30, 90 days) take nothing.
    policy = RetentionSettings(image_days=1, vector_days=None, version_grace_s=0)

    deletions = plan(policy, date(2024, 5, 2), parquet, store)
    apply(deletions, parquet, store, policy.version_grace_s)

    listed = {(d.store, d.table, d.date, d.action, d.kinds) for d in deletions}
    assert listed == {
        ("parquet", "crops", OLD, "rows", "images, text"),
        ("lancedb", "appearances", OLD, "thumbnails", "images"),
        ("lancedb", "entity_timelines", OLD, "thumbnails", "images"),
        ("reports", "daily_report", OLD, "images", "images"),
        # The young day's page shows the old side of a review pair across days: that picture goes too.
        ("reports", "daily_report", YOUNG, "images", "images"),
    }
    assert {d.rule for d in deletions} == {"image_days=1"}
    assert places(scan(root, needles(old_pictures))) == [], "no picture of the old day anywhere under the data root"
    assert not missing(young_pictures, scan(root, needles(young_pictures))), "the young day keeps its pictures"
    assert images_in_report(str(root), OLD) == 0
    assert "Entities on 2024-05-01" in (root / "reports" / f"{OLD}.html").read_text()
    after = {r["timeline_id"]: r for r in store.rows("entity_timelines")}
    assert after.keys() == timelines_before.keys()
    for timeline_id, row in after.items():
        assert {k: row[k] for k in TEXT} == {k: timelines_before[timeline_id][k] for k in TEXT}
        assert bool(row["thumbnail"]) == (row["date"] == YOUNG)
    assert plan(policy, date(2024, 5, 2), parquet, store) == [], "nothing left to do on a second run"


def _vectors_of(root: Path, day: str) -> list[bytes]:
    parquet, store = ParquetStore(str(root)), IdentityStore(str(root / "lancedb"), 100_000)
    part = {"date": day, "camera": CAMERA}
    stored = parquet.read("embeddings", part).column("vector").to_pylist()
    stored += [r["vector"] for r in store.rows("appearances", f"date = {quoted(day)}")]
    return [np.asarray(v, dtype=np.float32).tobytes() for v in stored]


@pytest.mark.slow
def test_vectors_past_vector_days_go_and_timelines_stay(two_day_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    parquet, store = ParquetStore(str(root)), IdentityStore(str(root / "lancedb"), 100_000)
    old = _vectors_of(root, OLD)
    assert old and all(v in scan(root, set(old)) for v in old), "the scan finds every old vector before"
    timelines = len(store.rows("entity_timelines"))
    policy = RetentionSettings(image_days=None, vector_days=1, version_grace_s=0)

    deletions = plan(policy, date(2024, 5, 2), parquet, store)
    apply(deletions, parquet, store, policy.version_grace_s)

    assert {(d.store, d.table, d.date, d.kinds, d.rule) for d in deletions} == {
        ("parquet", "embeddings", OLD, "vectors, text", "vector_days=1"),
        ("parquet", "attributes", OLD, "vectors, text", "vector_days=1"),
        ("lancedb", "appearances", OLD, "images, vectors, text", "vector_days=1"),
    }
    assert places(scan(root, set(old))) == [], "no appearance vector of the old day is left on disk"
    assert {r["date"] for r in store.rows("appearances")} == {YOUNG}
    assert len(store.rows("entity_timelines")) == timelines, "timelines are kept"
