"""crops and tracklets: the pixels of every detection, scored, and a summary per tracklet."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.io_manager import BEST_CROPS
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days
from reid_pipeline.defs.resources import CropResource, StorageResource
from reid_pipeline.lib.crops.cropping import crop_table
from reid_pipeline.lib.crops.tracklets import TrackletRow, summarise_tracklets
from reid_pipeline.lib.storage.rows import table_of
from reid_pipeline.lib.storage.schemas import CROPS


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
    table = crop_table(
        detections, footage_manifest.to_pylist(), storage.raw_folder, crops_settings.spec(), context.log.warning
    )
    best_rank = table.column("best_rank")
    return dg.Output(
        table,
        metadata={
            "crops": table.num_rows,
            "best_crops": pc.sum(table.column("is_best")).as_py() or 0,
            "too_small_or_blank": pc.sum(pc.equal(table.column("quality"), 0)).as_py() or 0,
            "jpeg_megabytes": round((pc.sum(pc.binary_length(table.column("jpeg"))).as_py() or 0) / 1e6, 2),
            "preview": table_preview(table),
            # Counts and ids only: Dagster's event log cannot forget one person, so no picture goes into it.
            "tracklets_with_best_crop": pc.sum(pc.equal(best_rank, 1)).as_py() or 0,
        },
    )


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="1",
    # The best crops' ids and qualities; no picture is read.
    ins={"crops": dg.AssetIn(metadata={**BEST_CROPS, "columns": [f.name for f in CROPS if f.name != "jpeg"]})},
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
