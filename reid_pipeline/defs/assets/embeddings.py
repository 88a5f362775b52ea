"""embeddings: appearance vectors of each tracklet's best crops, and one pooled vector per tracklet."""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days, split_camera_day
from reid_pipeline.defs.resources import EmbedderResource, StorageResource
from reid_pipeline.lib.embedding.checks import EmbeddingChecks
from reid_pipeline.lib.embedding.stream import (
    CROP_BATCH_ROWS,
    CROP_COLUMNS,
    StreamedEmbeddings,
    best_crop_counts,
    embed_stream,
)
from reid_pipeline.lib.embedding.types import Embedder, resolve_batch_size
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.lib.storage.schemas import embeddings_schema

BLOCKING_CHECKS = ("unit_norm", "no_nan", "dims_match_model")  # bad vectors would poison every match
CHECKS = (*BLOCKING_CHECKS, "one_vector_per_selected_crop")


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="appearance",
    kinds={"parquet", "pytorch"},
    pool="gpu",
    code_version="1",
    # Read from the crops' Parquet a batch at a time, not handed over as a table: a day of JPEGs is never held.
    deps=["crops"],
    check_specs=[dg.AssetCheckSpec(name, asset="embeddings", blocking=name in BLOCKING_CHECKS) for name in CHECKS],
)
def embeddings(
    context: AssetExecutionContext,
    storage: StorageResource,
    embedding: EmbedderResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """L2-normalised appearance vectors (``vector``, fixed-size float32 list) of the best K crops of every
    tracklet (``kind='crop'``), and per tracklet their quality-weighted mean, re-normalised
    (``kind='tracklet'``): the vector the identity stage matches on.

    Standard profile: open_clip (fp16 on a GPU). Offline profile: an ImageNet CNN whose weights ship in
    a package. Checks: unit norm, no NaN, one vector per selected crop, width equal to the model's.

    Streamed: the best crops are read a batch at a time, their rows written as they are embedded and each
    tracklet's vector pooled with running sums; the file replaces the partition's old one only once complete.
    """
    choice = embedding.choice()
    if choice.note:
        context.log.warning(choice.note)
    model = embedding.embedder(storage.model_config_dir)
    store = storage.parquet()
    checks = EmbeddingChecks(model.dims, model.dims)
    spec = embedding.spec()
    batch_size = resolve_batch_size(spec.batch_size, model)
    started = time.perf_counter()
    runs: list[StreamedEmbeddings] = []
    for key in context.partition_keys:  # a ranged run writes each camera-day's own partition
        day, camera = split_camera_day(key)
        partition = {"date": day, "camera": camera}
        run = _embed_partition(context, store, partition, model, (batch_size, spec.workers), checks)
        batch_size = run.batch_size
        runs.append(run)
    seconds = time.perf_counter() - started
    yield dg.MaterializeResult(metadata=_metadata(context, store, choice.profile, model, runs, seconds))
    for outcome in checks.outcomes():
        severity = dg.AssetCheckSeverity.ERROR if outcome.name in BLOCKING_CHECKS else dg.AssetCheckSeverity.WARN
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            passed=outcome.passed,
            severity=severity,
            description=outcome.description,
            metadata=outcome.metadata,
        )


def _embed_partition(
    context: AssetExecutionContext,
    store: ParquetStore,
    partition: dict[str, str],
    model: Embedder,
    sizes: tuple[int, int],
    checks: EmbeddingChecks,
) -> StreamedEmbeddings:
    """Stream one camera-day's best crops into its embeddings partition, counting the checks on the way."""

    def shrunk(failed: int, new: int) -> None:
        context.log.warning(f"out of memory at batch {failed}: continuing with batch {new}")

    batch_size, workers = sizes  # model batch, decode threads
    with store.stream("embeddings", partition, embeddings_schema(model.dims)) as write:

        def sink(rows: pa.Table) -> None:
            checks.add(rows)
            write(rows)

        run = embed_stream(
            store.batches("crops", partition, CROP_COLUMNS, CROP_BATCH_ROWS),
            model,
            batch_size,
            workers,
            sink,
            checks.expect,
            shrunk,
            best_crop_counts(store.read("crops", partition, columns=["tracklet_id", "is_best"])),
        )
    for error in run.errors:
        context.log.warning(error)
    return run


def _metadata(
    context: AssetExecutionContext,
    store: ParquetStore,
    profile: str,
    model: Embedder,
    runs: list[StreamedEmbeddings],
    seconds: float,
) -> dict[str, Any]:  # Dagster's raw metadata values: numbers, strings and MetadataValues
    """The metadata the asset reported when it returned one table, summed over the run's camera-days."""
    partitions = [dict(zip(("date", "camera"), split_camera_day(key), strict=True)) for key in context.partition_keys]
    detections = sum(store.num_rows("crops", partition) for partition in partitions)
    embedded = sum(run.crops_embedded for run in runs)
    tracklets = sum(run.tracklets for run in runs)
    heads = [run.head for run in runs if run.head is not None]
    return {
        "path": dg.MetadataValue.path(store.partition_file("embeddings", partitions[0])),
        "rows": embedded + tracklets,
        "profile": profile,
        "model": f"{model.backend}:{model.model_name}",
        "dims": model.dims,
        "device": model.device,
        "detections": detections,
        "crops_embedded": embedded,
        "tracklets": tracklets,
        "embedded_share_of_detections": round(embedded / detections, 3) if detections else 0.0,
        "final_batch_size": runs[-1].batch_size if runs else 0,
        "oom_backoffs": sum(run.shrinks for run in runs),
        "seconds": round(seconds, 2),
        "crops_per_s": round(embedded / seconds, 2) if seconds else 0.0,
        "preview": table_preview(heads[0] if heads else embeddings_schema(model.dims).empty_table()),
    }
