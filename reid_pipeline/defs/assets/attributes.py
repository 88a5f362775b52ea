"""attributes: a structured, human-readable description of every tracklet."""

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import CAMERA_DAY_BACKFILL, camera_days, split_camera_day
from reid_pipeline.defs.resources import DescriberResource, EmbedderResource, StorageResource
from reid_pipeline.lib.attributes.run import describe_tracklets
from reid_pipeline.lib.storage.schemas import ATTRIBUTES


@dg.asset(
    partitions_def=camera_days,
    backfill_policy=CAMERA_DAY_BACKFILL,
    group_name="appearance",
    kinds={"parquet", "pytorch"},
    pool="gpu",
    code_version="1",
    ins={
        # Only what a description needs: the tracklet's names, its best crop's JPEG and its pooled vector. The
        # rest of its K crops, their vectors and the other columns are not read.
        "tracklets": dg.AssetIn(metadata={"columns": ["tracklet_id", "date", "camera_id", "entity_type"]}),
        "crops": dg.AssetIn(
            metadata={"filters": [("best_rank", "=", 1)], "columns": ["crop_id", "tracklet_id", "best_rank", "jpeg"]}
        ),
        "embeddings": dg.AssetIn(
            metadata={"filters": [("kind", "=", "tracklet")], "columns": ["tracklet_id", "kind", "vector"]}
        ),
    },
)
def attributes(
    context: AssetExecutionContext,
    tracklets: pa.Table,
    crops: pa.Table,
    embeddings: pa.Table,
    storage: StorageResource,
    embedding: EmbedderResource,
    attributes_settings: DescriberResource,
) -> dg.Output[pa.Table]:
    """What each tracklet looks like, from its best crop: JSON validated against the entity type's vocabulary
    (person: clothing colours and types, headwear, bag, carried object, hair, accessories; vehicle: colour,
    body type, visible text; animal: species, coat, markings, antlers), flattened columns for the common
    fields, a one-line ``summary`` and a confidence per field. Never age, gender or ethnicity.

    Backend: ``vlm`` (enhanced mode, a vision-language model), ``clip-zero-shot`` (fast mode, text prompts
    against the stored CLIP vectors) or ``pixel-colours`` (offline profile). A tracklet keeps its earlier
    description while its vector drifts less than ``drift_threshold``.
    """
    describer = attributes_settings.describer(embedding, storage.model_config_dir)
    note = attributes_settings.choice(embedding.embedder(storage.model_config_dir), embedding.offline).note
    if note:
        context.log.warning(note)
    day, camera = split_camera_day(context.partition_key)
    store = storage.parquet()
    partition = {"date": day, "camera": camera}
    previous = store.read("attributes", partition, ATTRIBUTES) if store.exists("attributes", partition) else None
    result = describe_tracklets(
        tracklets,
        crops,
        embeddings,
        previous,
        describer,
        attributes_settings.drift_threshold,
        context.run_id,
        log=context.log.info,
    )
    for error in result.errors:
        context.log.warning(error)
    return dg.Output(
        result.table,
        metadata={
            "backend": describer.backend,
            "model": describer.model_name,
            "tracklets": tracklets.num_rows,
            "described": result.described,
            "reused_unchanged": result.reused,
            "without_usable_crop": result.without_crop,
            **{f"status_{status}": count for status, count in sorted(result.statuses.items())},
            "preview": table_preview(result.table.drop_columns(["appearance", "attributes"])),
        },
    )
