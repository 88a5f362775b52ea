"""footage_manifest: what footage exists for a camera-day, and what is wrong with it."""

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days, split_camera_day
from reid_pipeline.defs.resources import FootageResource, StorageResource
from reid_pipeline.lib.footage.files import STATUS_ERROR, STATUS_SKIPPED, FootageFile, build_manifest
from reid_pipeline.lib.footage.timestamps import camera_zone
from reid_pipeline.lib.storage.rows import table_of


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="footage",
    kinds={"parquet"},
    code_version="2",
)
def footage_manifest(
    context: AssetExecutionContext, storage: StorageResource, footage: FootageResource
) -> dg.Output[pa.Table]:
    """One row per footage file of the camera-day: start time (and where it came from), duration,
    fps, frame count, resolution, content hash.

    Every file under the camera folder has a row (names starting with a dot excepted). Files that
    cannot be read (empty, corrupt, truncated, a dangling link) have ``status`` ``error``; files the
    pipeline chose not to read (not footage, a copy or second link, a link leaving the footage root)
    ``skipped``; ``error`` then names the file and the fix. Later stages skip both.
    """
    day, camera = split_camera_day(context.partition_key)
    rows = build_manifest(
        storage.raw_folder,
        day,
        camera,
        camera_zone(footage.timezone),
        links_outside_root=footage.links_outside_root,
        isolate=footage.isolate_files,
    )
    for row in rows:
        if row.error:
            context.log.warning(f"{row.status}: {row.error}")
    table = table_of(FootageFile, rows)
    return dg.Output(
        table,
        metadata={
            "files": len(rows),
            "files_with_errors": sum(1 for row in rows if row.status == STATUS_ERROR),
            "files_skipped": sum(1 for row in rows if row.status == STATUS_SKIPPED),
            "videos": sum(1 for row in rows if row.kind == "video" and not row.error),
            "stills": sum(1 for row in rows if row.kind == "image" and not row.error),
            "footage_seconds": round(sum(row.duration_s or 0.0 for row in rows if not row.error), 1),
            "preview": table_preview(table.drop_columns(["content_hash"])),
        },
    )
