"""Print what a set of camera-day runs produced, and where to find it."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pyarrow.compute as pc

from reid_pipeline.defs.launch import IDENTITY_RUN, CameraDayRun
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import Settings


def camera_day_counts(store: ParquetStore, day: str, camera: str) -> dict[str, int]:
    """Files (errors, skipped), detections, tracklets, crops, best crops, vectors and descriptions of a camera-day."""
    partition = {"date": day, "camera": camera}
    # What became of each file by the end of detection (crashes contained there included).
    statuses = store.read("footage_outcomes", partition, columns=["status"]).column("status").to_pylist()
    crops = store.read("crops", partition, columns=["is_best"])  # the JPEG bytes are not needed to count
    return {
        "files": len(statuses),
        "file_errors": statuses.count("error"),
        "files_skipped": statuses.count("skipped"),
        "detections": store.read("detections", partition).num_rows,
        "tracklets": store.read("tracklets", partition).num_rows,
        "crops": crops.num_rows,
        "best_crops": int(pc.sum(crops.column("is_best")).as_py() or 0),
        "embedded": store.read("embeddings", partition, columns=["kind"]).num_rows,
        "described": store.read("attributes", partition, columns=["status"]).num_rows,
    }


def print_summary(settings: Settings, runs: Sequence[CameraDayRun]) -> None:
    store = ParquetStore(settings.storage.data_root)
    print(
        f"\n{'date':<11} {'camera':<12} {'files':>5} {'errors':>6} {'skipped':>7} {'detections':>10} {'tracklets':>9}"
        f" {'crops':>6} {'best':>5} {'vectors':>7} {'described':>9}"
    )
    for run in runs:
        if not run.success:
            print(f"{run.day:<11} {run.camera_id:<12} FAILED (run {run.run_id}): {run.error}")
            continue
        if run.camera_id == IDENTITY_RUN:
            continue
        c = camera_day_counts(store, run.day, run.camera_id)
        print(
            f"{run.day:<11} {run.camera_id:<12} {c['files']:>5} {c['file_errors']:>6} {c['files_skipped']:>7}"
            f" {c['detections']:>10} {c['tracklets']:>9} {c['crops']:>6} {c['best_crops']:>5} {c['embedded']:>7}"
            f" {c['described']:>9}"
        )
    identity_days = sorted({run.day for run in runs if run.camera_id == IDENTITY_RUN and run.success})
    if identity_days:
        print_identities(settings, identity_days)
    print(f"\nParquet tables: {store.base}/parquet/<asset>/date=<YYYY-MM-DD>/camera=<camera_id>/part-0.parquet")
    if identity_days:
        print(f"Daily reports:  {store.base}/reports/<YYYY-MM-DD>.html (open in a browser)")
    print(f"Dagster runs:   dagster dev -w workspace.yaml (DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '')})")


def print_identities(settings: Settings, days: Sequence[str]) -> None:
    """Per day: appearances, daily entities, entities and how many spanned cameras; then days overall."""
    store = IdentityStore.from_settings(settings.identity, settings.storage.data_root)
    print(
        f"\n{'date':<11} {'appearances':>11} {'daily entities':>14} {'entities':>8} {'multi-camera':>12} {'to review':>9}"
    )
    for day in days:
        where = f"date = {quoted(day)}"
        timelines = store.rows("entity_timelines", where, ["cameras", "needs_review"])
        print(
            f"{day:<11} {len(store.rows('appearances', where, ['tracklet_id'])):>11}"
            f" {len(store.rows('daily_entities', where, ['daily_entity_id'])):>14} {len(timelines):>8}"
            f" {sum(1 for t in timelines if len(t['cameras']) > 1):>12} {sum(1 for t in timelines if t['needs_review']):>9}"
        )
    entities = store.rows("entities", columns=["n_days"])
    several = sum(1 for e in entities if e["n_days"] > 1)
    print(f"global entities: {len(entities)}, seen on more than one day: {several}  (LanceDB: {store.uri})")
