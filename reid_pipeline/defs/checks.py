"""Asset checks on every stage: schemas, counts that agree across stages, no orphan ids, full coverage.

Each check reads what its asset just stored for the partition (Parquet or LanceDB) and compares it
with the stage before. Blocking checks stop downstream assets of that partition when they fail, so a
broken stage never spreads into identities; the embeddings asset carries its own vector checks.
"""

import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import dagster as dg
import pyarrow as pa

from reid_pipeline.defs.partitions import camera_days, days, split_camera_day
from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.lib.storage.schemas import (
    ATTRIBUTES,
    CROPS,
    DETECTIONS,
    FOOTAGE_MANIFEST,
    FOOTAGE_OUTCOMES,
    TRACKLETS,
)

# Partitioned asset checks are a preview in Dagster 1.13, and exactly what per-partition checks need.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

Problems = dict[str, set[str]]
EXPLICIT_SCHEMAS = {
    "footage_manifest": FOOTAGE_MANIFEST,
    "footage_outcomes": FOOTAGE_OUTCOMES,
    "detections": DETECTIONS,
    "crops": CROPS,
    "tracklets": TRACKLETS,
    "attributes": ATTRIBUTES,
}


def _partition(context: dg.AssetCheckExecutionContext) -> dict[str, str]:
    day, camera = split_camera_day(context.partition_key)
    return {"date": day, "camera": camera}


def _ids(store: ParquetStore, asset: str, partition: dict[str, str], column: str) -> list[str]:
    return [str(v) for v in store.read(asset, partition, columns=[column]).column(column).to_pylist()]


def compare_ids(expected: Iterable[str], found: list[str], missing: str | None, extra: str, repeated: str) -> Problems:
    """Ids ``expected`` but not ``found`` (under ``missing``, unless None), found but not expected, found twice."""
    counts, wanted = Counter(found), set(expected)
    problems = {extra: set(counts) - wanted, repeated: {i for i, n in counts.items() if n > 1}}
    if missing:
        problems[missing] = wanted - set(counts)
    return problems


def _result(problems: Mapping[str, Iterable[str]], **counts: int) -> dg.AssetCheckResult:
    found = {name: sorted(values) for name, values in problems.items() if values}
    metadata: dict[str, object] = {**counts, **{name: ", ".join(v[:10]) for name, v in found.items()}}
    return dg.AssetCheckResult(passed=not found, metadata=metadata)  # type: ignore[arg-type]


def same_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Type equality that ignores child field names (Parquet calls a list's child "element", Arrow "item")."""
    if pa.types.is_map(a) and pa.types.is_map(b):
        return same_type(a.key_type, b.key_type) and same_type(a.item_type, b.item_type)
    if pa.types.is_fixed_size_list(a) and pa.types.is_fixed_size_list(b):
        return bool(a.list_size == b.list_size) and same_type(a.value_type, b.value_type)
    if pa.types.is_list(a) and pa.types.is_list(b):
        return same_type(a.value_type, b.value_type)
    return bool(a.equals(b))


def _schema_check(asset: str, schema: pa.Schema) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{asset}_schema",
        partitions_def=camera_days,
        blocking=True,
        description=f"The stored {asset} partition has exactly the pipeline's explicit Arrow schema.",
    )
    def check(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
        stored = storage.parquet().schema(asset, _partition(context))
        actual = {f.name: f.type for f in stored}
        wrong = {
            f"{f.name}: {actual.get(f.name, 'missing')} instead of {f.type}"
            for f in schema
            if f.name not in actual or not same_type(actual[f.name], f.type)
        }
        extra = set(actual) - set(schema.names)
        return _result({"wrong_columns": wrong, "unexpected_columns": extra}, columns=len(actual))

    return check


SCHEMA_CHECKS = [_schema_check(asset, schema) for asset, schema in EXPLICIT_SCHEMAS.items()]


def crop_problems(store: ParquetStore, part: dict[str, str]) -> tuple[Problems, dict[str, int]]:
    """Detections without a crop, crops of no detection, and crops stored twice."""
    detections, crops = set(_ids(store, "detections", part, "detection_id")), _ids(store, "crops", part, "crop_id")
    problems = compare_ids(detections, crops, "missing_crops", "orphan_crops", "duplicated")
    return problems, {"detections": len(detections), "crops": len(crops)}


@dg.asset_check(asset="footage_outcomes", partitions_def=camera_days, blocking=True)
def outcomes_cover_manifest(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Every file of the manifest has exactly one outcome: no file is lost between intake and detection."""
    store, part = storage.parquet(), _partition(context)
    manifest, outcomes = (
        _ids(store, "footage_manifest", part, "file_id"),
        _ids(store, "footage_outcomes", part, "file_id"),
    )
    problems = compare_ids(manifest, outcomes, "files_without_outcome", "unknown_files", "duplicated")
    return _result(problems, files=len(outcomes))


@dg.asset_check(asset="crops", partitions_def=camera_days, blocking=True)
def crops_match_detections(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """One crop per detection, cut from it (crop id = detection id): none missing, none extra."""
    problems, counts = crop_problems(storage.parquet(), _partition(context))
    return _result(problems, **counts)


@dg.asset_check(asset="tracklets", partitions_def=camera_days, blocking=True)
def tracklets_cover_detections(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Every tracklet id of the detections has exactly one tracklet row, and no tracklet lacks detections."""
    store, part = storage.parquet(), _partition(context)
    from_detections = _ids(store, "detections", part, "tracklet_id")
    tracklets = _ids(store, "tracklets", part, "tracklet_id")
    problems = compare_ids(from_detections, tracklets, "missing_tracklets", "orphan_tracklets", "duplicated")
    return _result(problems, tracklets=len(tracklets))


# It reads tracklets too, which embeddings does not depend on: without the dependency a step executor that runs
# steps in parallel (Celery workers) may start it before the tracklets are written.
@dg.asset_check(asset="embeddings", partitions_def=camera_days, blocking=True, additional_deps=["tracklets"])
def embeddings_have_owners(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Crop vectors belong to stored crops and pooled vectors to stored tracklets: no orphan ids."""
    store, part = storage.parquet(), _partition(context)
    table = store.read("embeddings", part, columns=["embedding_id", "kind"]).to_pylist()
    crops, tracklets = set(_ids(store, "crops", part, "crop_id")), set(_ids(store, "tracklets", part, "tracklet_id"))
    return _result(
        {
            "orphan_crop_vectors": {r["embedding_id"] for r in table if r["kind"] == "crop"} - crops,
            "orphan_tracklet_vectors": {r["embedding_id"] for r in table if r["kind"] == "tracklet"} - tracklets,
        },
        vectors=len(table),
    )


@dg.asset_check(asset="attributes", partitions_def=camera_days, blocking=True)
def attributes_have_tracklets(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """At most one description per tracklet, and only of stored tracklets."""
    store, part = storage.parquet(), _partition(context)
    described, tracklets = (
        _ids(store, "attributes", part, "tracklet_id"),
        set(_ids(store, "tracklets", part, "tracklet_id")),
    )
    problems = compare_ids(tracklets, described, None, "orphans", "duplicated")
    return _result(problems, described=len(described), tracklets=len(tracklets))


def _day_ids(store: IdentityStore, table: str, date: str, column: str) -> list[str]:
    return [str(r[column]) for r in store.rows(table, f"date = {quoted(date)}", [column])]


def _over_days(
    context: dg.AssetCheckExecutionContext, check_day: Callable[[str], tuple[Problems, int]], counted: str
) -> dg.AssetCheckResult:
    """Run a per-day check over every day of the run (one, or a backfill's range); ids carry their day."""
    merged: Problems = {}
    total = 0
    for date in context.partition_keys:
        problems, count = check_day(date)
        total += count
        for name, ids in problems.items():
            merged.setdefault(name, set()).update(f"{date}:{i}" for i in ids)
    return _result(merged, **{counted: total})


@dg.asset_check(asset="appearances", partitions_def=days, blocking=True)
def appearances_match_tracklets(
    context: dg.AssetCheckExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.AssetCheckResult:
    """One appearance per tracklet with a pooled vector, over every camera of the day: none lost, none extra."""
    parquet, store = storage.parquet(), identity.store(storage.data_root)

    def check_day(date: str) -> tuple[Problems, int]:
        pooled: set[str] = set()
        for camera in parquet.cameras("embeddings", date):
            part = {"date": date, "camera": camera}
            rows = parquet.read("embeddings", part, columns=["embedding_id", "kind"]).to_pylist()
            pooled |= {r["embedding_id"] for r in rows if r["kind"] == "tracklet"}
        appearances = _day_ids(store, "appearances", date, "tracklet_id")
        problems = compare_ids(pooled, appearances, "tracklets_without_appearance", "orphan_appearances", "duplicated")
        return problems, len(appearances)

    return _over_days(context, check_day, "appearances")


@dg.asset_check(asset="daily_entities", partitions_def=days, blocking=True)
def daily_entities_partition_appearances(
    context: dg.AssetCheckExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.AssetCheckResult:
    """Every appearance of the day is in exactly one daily entity."""
    store = identity.store(storage.data_root)

    def check_day(date: str) -> tuple[Problems, int]:
        appearances = _day_ids(store, "appearances", date, "tracklet_id")
        rows = store.rows("daily_entities", f"date = {quoted(date)}", ["tracklet_ids"])
        members = [t for r in rows for t in r["tracklet_ids"]]
        problems = compare_ids(appearances, members, "appearances_in_no_entity", "unknown_members", "in_two_entities")
        return problems, len(rows)

    return _over_days(context, check_day, "daily_entities")


@dg.asset_check(asset="entity_timelines", partitions_def=days, blocking=True)
def timelines_cover_entities(
    context: dg.AssetCheckExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.AssetCheckResult:
    """One timeline row per global entity seen on the day, and none for an entity not seen."""
    store = identity.store(storage.data_root)

    def check_day(date: str) -> tuple[Problems, int]:
        seen = set(_day_ids(store, "entity_members", date, "entity_id"))
        timelines = _day_ids(store, "entity_timelines", date, "entity_id")
        problems = compare_ids(seen, timelines, "entities_without_timeline", "timelines_without_entity", "duplicated")
        return problems, len(seen)

    return _over_days(context, check_day, "entities")


CHECKS = [
    *SCHEMA_CHECKS,
    outcomes_cover_manifest,
    crops_match_detections,
    tracklets_cover_detections,
    embeddings_have_owners,
    attributes_have_tracklets,
    appearances_match_tracklets,
    daily_entities_partition_appearances,
    timelines_cover_entities,
]
