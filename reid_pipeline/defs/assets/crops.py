"""crops and tracklets: the pixels of every detection, scored, and a summary per tracklet."""

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days
from reid_pipeline.defs.resources import CropResource, StorageResource
from reid_pipeline.lib.crops.cropping import cut_crops
from reid_pipeline.lib.crops.tracklets import TrackletRow, summarise_tracklets
from reid_pipeline.lib.storage.rows import table_of
from reid_pipeline.lib.storage.schemas import CROPS, table_from_rows


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="1",
)
def crops(
    context: AssetExecutionContext,
    detections: pa.Table,
    footage_manifest: pa.Table,
    storage: StorageResource,
    crops_settings: CropResource,
) -> dg.Output[pa.Table]:
    """Each detection cut out as a JPEG, with a quality score from size, sharpness, border truncation
    and detector score. The best K crops of each tracklet are marked (``is_best``, ``best_rank``):
    they are what gets embedded and described downstream.
    """
    rows = cut_crops(
        detections.to_pylist(),
        footage_manifest.to_pylist(),
        storage.raw_folder,
        crops_settings.spec(),
        context.log.warning,
    )
    table = table_from_rows(rows, CROPS)
    best = sum(1 for row in rows if row["is_best"])
    return dg.Output(
        table,
        metadata={
            "crops": table.num_rows,
            "best_crops": best,
            "too_small_or_blank": sum(1 for row in rows if row["quality"] == 0),
            "jpeg_megabytes": round(sum(len(row["jpeg"]) for row in rows) / 1e6, 2),
            "preview": table_preview(table),
            # Counts and ids only: Dagster's event log cannot forget one person, so no picture goes into it.
            "tracklets_with_best_crop": sum(1 for row in rows if row["best_rank"] == 1),
        },
    )


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="1",
)
def tracklets(detections: pa.Table, crops: pa.Table) -> dg.Output[pa.Table]:
    """One row per tracklet: camera, time span, number of detections, mean score and its best crops.

    The unit that later stages embed, describe and match across cameras and days.
    """
    best_crops = crops.filter(crops.column("is_best")).drop_columns(["jpeg"])
    rows = summarise_tracklets(detections.to_pylist(), best_crops.to_pylist())
    table = table_of(TrackletRow, rows)
    return dg.Output(
        table,
        metadata={
            "tracklets": table.num_rows,
            "without_usable_crop": sum(1 for row in rows if not row.best_crop_ids),
            "preview": table_preview(table),
        },
    )
