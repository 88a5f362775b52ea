"""detections: tracked boxes of people, vehicles and animals in a camera-day's footage."""

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days
from reid_pipeline.defs.resources import DetectorResource, FootageResource, StorageResource
from reid_pipeline.lib.detect_footage import detect_camera_day
from reid_pipeline.lib.schemas import DETECTIONS, table_from_rows


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet", "pytorch"},
    pool="gpu",
    code_version="1",
)
def detections(
    context: AssetExecutionContext,
    footage_manifest: pa.Table,
    storage: StorageResource,
    footage: FootageResource,
    detector: DetectorResource,
) -> dg.Output[pa.Table]:
    """Boxes found by the detector on sampled, moving frames, linked into tracklets by the tracker.

    ``track_id`` is unique within the camera-day: the tracker restarts with every file, then track
    fragments (across files too) are stitched where motion and colour agree; ``tracklet_id``
    (date/camera/track) is unique everywhere. The profile in force (standard = YOLO, offline =
    SSD-MobileNet-v2 from a package) is recorded per row in ``backend`` and ``model``.
    """
    choice = detector.choice()
    if choice.note:
        context.log.warning(choice.note)
    model = detector.detector(storage.model_config_dir)
    sampling = footage.spec()
    run = detect_camera_day(
        footage_manifest.to_pylist(),
        storage.raw_root,
        model,
        detector.tracking(),
        sampling,
        context.log.info,
        detector.stitching(),
    )
    for error in run.stats.errors:
        context.log.warning(error)
    table = table_from_rows(run.rows, DETECTIONS)
    tracks = len(set(table.column("tracklet_id").to_pylist()))
    return dg.Output(
        table,
        metadata={
            "profile": choice.profile,
            "model": f"{model.backend}:{model.model_name}",
            "files": run.files,
            "frames_decoded": run.stats.decoded,
            "frames_sampled": run.stats.sampled,
            "frames_skipped_no_motion": run.stats.motion_skipped,
            "frames_detected": run.stats.detected,
            "detections": table.num_rows,
            "tracklets": tracks,
            "seconds": round(run.seconds, 2),
            "sampled_frames_per_s": round(run.stats.sampled / run.seconds, 2) if run.seconds else 0.0,
            "preview": table_preview(table),
        },
    )
