"""crops and tracklets: the pixels of every detection, scored, and a summary per tracklet."""

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.io_manager import BEST_CROPS
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days, split_camera_day
from reid_pipeline.defs.resources import CropResource, StorageResource
from reid_pipeline.lib.crops.cropping import CROP_DETECTION_COLUMNS, write_crops
from reid_pipeline.lib.crops.tracklets import TRACKLET_DETECTION_COLUMNS, TrackletRow, summarise_tracklets
from reid_pipeline.lib.storage.rows import table_of
from reid_pipeline.lib.storage.schemas import CROPS


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="1",
    # What cutting needs of the detections: not their class names, tracker numbers or model names.
    ins={"detections": dg.AssetIn(metadata={"columns": CROP_DETECTION_COLUMNS})},
)
def crops(
    context: AssetExecutionContext,
    detections: pa.Table,
    footage_manifest: pa.Table,
    storage: StorageResource,
    crops_settings: CropResource,
) -> dg.MaterializeResult:
    """Each detection cut out as a JPEG, with a quality score from size, sharpness, border truncation
    and detector score. The best K crops of each tracklet are marked (``is_best``, ``best_rank``):
    they are what gets embedded and described downstream.

    Written to Parquet a chunk at a time as they are cut (a day of JPEGs is never held in memory); the
    file replaces the partition's old one only once every crop is written.
    """
    day, camera = split_camera_day(context.partition_key)
    partition = {"date": day, "camera": camera}
    store = storage.parquet()
    with store.stream("crops", partition, CROPS) as sink:
        summary = write_crops(
            detections,
            footage_manifest.to_pylist(),
            storage.raw_folder,
            crops_settings.spec(),
            sink,
            context.log.warning,
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(store.partition_file("crops", partition)),
            "rows": summary.crops,
            "crops": summary.crops,
            "best_crops": summary.best,
            "too_small_or_blank": summary.too_small_or_blank,
            "jpeg_megabytes": round(summary.jpeg_bytes / 1e6, 2),
            "preview": table_preview(summary.head if summary.head is not None else CROPS.empty_table()),
            # Counts and ids only: Dagster's event log cannot forget one person, so no picture goes into it.
            "tracklets_with_best_crop": summary.tracklets_with_best,
        },
    )


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="1",
    ins={
        # Only what a tracklet's summary needs of its detections (a day of boxes and paths is not read).
        "detections": dg.AssetIn(metadata={"columns": TRACKLET_DETECTION_COLUMNS}),
        # The best crops' ids and qualities; no picture is read.
        "crops": dg.AssetIn(metadata={**BEST_CROPS, "columns": [f.name for f in CROPS if f.name != "jpeg"]}),
    },
)
def tracklets(detections: pa.Table, crops: pa.Table) -> dg.Output[pa.Table]:
    """One row per tracklet: camera, time span, number of detections, mean score and its best crops.

    The unit that later stages embed, describe and match across cameras and days.
    """
    rows = summarise_tracklets(detections.to_pylist(), crops.to_pylist())
    table = table_of(TrackletRow, rows)
    return dg.Output(
        table,
        metadata={
            "tracklets": table.num_rows,
            "without_usable_crop": sum(1 for row in rows if not row.best_crop_ids),
            "preview": table_preview(table),
        },
    )
