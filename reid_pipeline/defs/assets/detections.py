"""detections: tracked boxes of people, vehicles and animals in a camera-day's footage; and
footage_outcomes: what became of every file of the camera-day.
"""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import jpeg_preview, table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days
from reid_pipeline.defs.resources import DetectorResource, FootageResource, IdentityResource, StorageResource
from reid_pipeline.lib.detection.run import DetectionRun, detect_camera_day
from reid_pipeline.lib.detection.thumbnail import busiest_frame, detection_thumbnail
from reid_pipeline.lib.detection.types import Detector
from reid_pipeline.lib.footage.outcomes import file_outcomes
from reid_pipeline.lib.privacy.tombstones import Tombstones
from reid_pipeline.lib.storage.schemas import FOOTAGE_OUTCOMES, table_from_rows


@dg.multi_asset(
    outs={
        "detections": dg.AssetOut(
            group_name="footage",
            kinds={"parquet", "pytorch"},
            code_version="2",
            description="Boxes found by the detector on sampled, moving frames, linked into tracklets.",
        ),
        "footage_outcomes": dg.AssetOut(
            group_name="footage",
            kinds={"parquet"},
            code_version="1",
            description="One row per manifest file: ok (frames and detections it gave), error or skipped with "
            "the reason, detection crashes contained in the worker process included.",
        ),
    },
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    pool="gpu",
)
def detections(
    context: AssetExecutionContext,
    footage_manifest: pa.Table,
    storage: StorageResource,
    footage: FootageResource,
    detection: DetectorResource,
    identity: IdentityResource,
) -> tuple[dg.Output[pa.Table], dg.Output[pa.Table]]:
    """Boxes found by the detector on sampled, moving frames, linked into tracklets by the tracker.

    ``track_id`` is unique within the camera-day: the tracker restarts with every file, then track
    fragments (across files too) are stitched where motion and colour agree; ``tracklet_id``
    (date/camera/track) is unique everywhere. The profile in force (standard = YOLO, offline =
    SSD-MobileNet-v2 from a package) is recorded per row in ``backend`` and ``model``.

    Files are decoded and detected in a worker process (``footage.isolate_files``): a native crash
    on one file becomes an ``error`` row of ``footage_outcomes`` and the other files go on.
    """
    choice = detection.choice()
    if choice.note:
        context.log.warning(choice.note)
    model = detection.detector(storage.model_config_dir)
    sampling = footage.spec()
    run = detect_camera_day(
        footage_manifest.to_pylist(),
        storage.raw_folder,
        model,
        detection.tracking(),
        sampling,
        context.log.info,
        detection.stitching(),
        recipe=detection.recipe(storage.model_config_dir),
    )
    for error in run.stats.errors:
        context.log.warning(error)
    # Erased entities stay erased: their tracklets are dropped before anything is cropped or embedded.
    erased = Tombstones.load(identity.store(storage.data_root))
    table = run.table
    if erased.tracklets:
        gone = pc.is_in(table["tracklet_id"], value_set=pa.array(sorted(erased.tracklets), pa.string()))
        table = table.filter(pc.invert(gone))
    if table.num_rows < run.table.num_rows:
        context.log.info(f"left out {run.table.num_rows - table.num_rows} detections of erased entities")
    manifest = footage_manifest.to_pylist()
    outcomes = table_from_rows(file_outcomes(manifest, table, run.reports), FOOTAGE_OUTCOMES)
    failed = [report.error for report in run.reports.values() if report.error]
    for error in failed:
        context.log.warning(error)
    metadata = _detections_metadata(table, run, choice.profile, model)
    thumbnail = detection_thumbnail(busiest_frame(table), manifest, storage.raw_folder)
    metadata["thumbnail"] = jpeg_preview(thumbnail, "busiest frame, every box drawn")
    return dg.Output(table, output_name="detections", metadata=metadata), dg.Output(
        outcomes, output_name="footage_outcomes", metadata=_outcomes_metadata(outcomes, len(failed))
    )


def _detections_metadata(table: pa.Table, run: DetectionRun, profile: str, model: Detector) -> dict[str, Any]:
    """What the UI shows of a camera-day's detection: the model, frame counts at each gate, speed, a preview."""
    return {
        "profile": profile,
        "model": f"{model.backend}:{model.model_name}",
        "files": run.files,
        "frames_decoded": run.stats.decoded,
        "frames_sampled": run.stats.sampled,
        "frames_skipped_no_motion": run.stats.motion_skipped,
        "frames_detected": run.stats.detected,
        "detections": table.num_rows,
        "tracklets": len(set(table.column("tracklet_id").to_pylist())),
        "seconds": round(run.seconds, 2),
        "sampled_frames_per_s": round(run.stats.sampled / run.seconds, 2) if run.seconds else 0.0,
        "preview": table_preview(table),
    }


def _outcomes_metadata(outcomes: pa.Table, crashes: int) -> dict[str, Any]:
    """How the camera-day's files fared: counts by status and the contained detection crashes."""
    statuses = outcomes.column("status").to_pylist()
    return {
        "files": outcomes.num_rows,
        "ok": statuses.count("ok"),
        "errors": statuses.count("error"),
        "skipped": statuses.count("skipped"),
        "detection_crashes": crashes,
        "preview": table_preview(outcomes),
    }
