"""Print what a set of camera-day runs produced, and where to find it."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pyarrow.compute as pc

from reid_pipeline.defs.launch import CameraDayRun
from reid_pipeline.lib.storage import ParquetStore
from reid_pipeline.settings import Settings


def camera_day_counts(store: ParquetStore, day: str, camera: str) -> dict[str, int]:
    """Files, file errors, detections, tracklets, crops, best crops, vectors and descriptions of one camera-day."""
    partition = {"date": day, "camera": camera}
    manifest = store.read("footage_manifest", partition)
    crops = store.read("crops", partition, columns=["is_best"])  # the JPEG bytes are not needed to count
    return {
        "files": manifest.num_rows,
        "file_errors": manifest.num_rows - int(pc.sum(pc.is_null(manifest.column("error"))).as_py() or 0),
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
        f"\n{'date':<11} {'camera':<12} {'files':>5} {'errors':>6} {'detections':>10} {'tracklets':>9} {'crops':>6} {'best':>5}"
        f" {'vectors':>7} {'described':>9}"
    )
    for run in runs:
        if not run.success:
            print(f"{run.day:<11} {run.camera_id:<12} FAILED (run {run.run_id}): {run.error}")
            continue
        c = camera_day_counts(store, run.day, run.camera_id)
        print(
            f"{run.day:<11} {run.camera_id:<12} {c['files']:>5} {c['file_errors']:>6} {c['detections']:>10}"
            f" {c['tracklets']:>9} {c['crops']:>6} {c['best_crops']:>5} {c['embedded']:>7} {c['described']:>9}"
        )
    print(f"\nParquet tables: {store.base}/parquet/<asset>/date=<YYYY-MM-DD>/camera=<camera_id>/part-0.parquet")
    print(f"Dagster runs:   dagster dev -w workspace.yaml (DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '')})")
