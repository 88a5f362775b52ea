"""embeddings: appearance vectors of each tracklet's best crops, and one pooled vector per tracklet."""

import time
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.io_manager import BEST_CROPS
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days, split_camera_day
from reid_pipeline.defs.resources import EmbedderResource, StorageResource
from reid_pipeline.lib.embedding.checks import check_embeddings
from reid_pipeline.lib.embedding.run import best_crops, embed_tracklets
from reid_pipeline.lib.embedding.types import resolve_batch_size

BLOCKING_CHECKS = ("unit_norm", "no_nan", "dims_match_model")  # bad vectors would poison every match
CHECKS = (*BLOCKING_CHECKS, "one_vector_per_selected_crop")


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="appearance",
    kinds={"parquet", "pytorch"},
    pool="gpu",
    code_version="1",
    ins={"crops": dg.AssetIn(metadata=BEST_CROPS)},  # a day's JPEGs stay on disk: only the best are read
    check_specs=[dg.AssetCheckSpec(name, asset="embeddings", blocking=name in BLOCKING_CHECKS) for name in CHECKS],
)
def embeddings(
    context: AssetExecutionContext,
    crops: pa.Table,  # the best crops only (BEST_CROPS)
    storage: StorageResource,
    embedding: EmbedderResource,
) -> Iterator[dg.Output[pa.Table] | dg.AssetCheckResult]:
    """L2-normalised appearance vectors (``vector``, fixed-size float32 list) of the best K crops of every
    tracklet (``kind='crop'``), and per tracklet their quality-weighted mean, re-normalised
    (``kind='tracklet'``): the vector the identity stage matches on.

    Standard profile: open_clip (fp16 on a GPU). Offline profile: an ImageNet CNN whose weights ship in
    a package. Checks: unit norm, no NaN, one vector per selected crop, width equal to the model's.
    """
    choice = embedding.choice()
    if choice.note:
        context.log.warning(choice.note)
    model = embedding.embedder(storage.model_config_dir)
    spec = embedding.spec()

    def shrunk(failed: int, new: int) -> None:
        context.log.warning(f"out of memory at batch {failed}: continuing with batch {new}")

    started = time.perf_counter()
    result = embed_tracklets(crops, model, resolve_batch_size(spec.batch_size, model), spec.workers, shrunk)
    seconds = time.perf_counter() - started
    for error in result.errors:
        context.log.warning(error)
    selected = best_crops(crops).column("crop_id").to_pylist()
    detections = sum(
        storage.parquet().num_rows("crops", dict(zip(("date", "camera"), split_camera_day(key), strict=True)))
        for key in context.partition_keys
    )
    yield dg.Output(
        result.table,
        metadata={
            "profile": choice.profile,
            "model": f"{model.backend}:{model.model_name}",
            "dims": model.dims,
            "device": model.device,
            "detections": detections,
            "crops_embedded": result.crops_embedded,
            "tracklets": result.tracklets,
            "embedded_share_of_detections": round(result.crops_embedded / detections, 3) if detections else 0.0,
            "final_batch_size": result.batch_size,
            "oom_backoffs": result.shrinks,
            "seconds": round(seconds, 2),
            "crops_per_s": round(result.crops_embedded / seconds, 2) if seconds else 0.0,
            "preview": table_preview(result.table.drop_columns(["vector"])),
        },
    )
    for outcome in check_embeddings(result.table, selected, model.dims):
        severity = dg.AssetCheckSeverity.ERROR if outcome.name in BLOCKING_CHECKS else dg.AssetCheckSeverity.WARN
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            passed=outcome.passed,
            severity=severity,
            description=outcome.description,
            metadata=outcome.metadata,
        )
