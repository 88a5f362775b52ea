"""Identity assets: appearances, daily entities, global entities, timelines and watch-list sightings.

They live in LanceDB (not Parquet): each asset writes its own tables through the identity store, one
commit per day (or per global relink), so a re-run replaces exactly what it wrote before.

Backfill policy, on purpose: these daily assets are cheap (no model, a few LanceDB queries per day),
so a backfill of many days runs them as one run over the whole range (``single_run``): each asset
loops over the range's days, and the global ``entities`` relink, which reads every day, runs once
instead of once per day. The heavy per-camera assets upstream take the opposite policy.
"""

import warnings
from collections.abc import Sequence

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.adaptation import current_adaptation, site_adapter
from reid_pipeline.defs.assets.preview import table_preview
from reid_pipeline.defs.partitions import DATE_DIMENSION, days
from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.adaptation.site import NO_ADAPTER
from reid_pipeline.lib.identity.appearances import day_appearances
from reid_pipeline.lib.identity.corrections import interpret
from reid_pipeline.lib.identity.daily import cluster_day
from reid_pipeline.lib.identity.day_arrays import COLUMNS as DAY_COLUMNS
from reid_pipeline.lib.identity.refresh import refresh_timelines, write_day_sightings
from reid_pipeline.lib.identity.relink import relink
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.identity.tables import ENTITY_TIMELINES, appearances_schema
from reid_pipeline.lib.identity.thresholds import adaptation_kind, default_threshold
from reid_pipeline.lib.privacy.tombstones import Tombstones

DAILY_BACKFILL = dg.BackfillPolicy.single_run()

with warnings.catch_warnings():  # beta in Dagster 1.13, and exactly the mapping a day needs from camera-days
    warnings.simplefilter("ignore", dg.BetaWarning)
    PER_DAY = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DATE_DIMENSION)


def _backend_of(store: IdentityStore, date: str) -> str:
    return store.embedding_backend(date) or "open_clip"


def _adaptation_of(rows: list[dict]) -> str:
    return adaptation_kind(rows[0].get("adapter_id") if rows else None)


def _stale_days(store: IdentityStore, table: str, adapter_id: str) -> list[str]:
    """Stored days of ``table`` whose vectors another adapter made: they are redone."""
    return sorted(day for day, ids in store.adapter_ids(table).items() if ids != {adapter_id})


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"lancedb"},
    deps=[
        *(dg.AssetDep(name, partition_mapping=PER_DAY) for name in ("tracklets", "crops", "embeddings", "attributes")),
        site_adapter,
    ],
    code_version="2",
    backfill_policy=DAILY_BACKFILL,
)
def appearances(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """One row per tracklet of the day, from every camera: pooled vector, entity type, camera, start and end
    time, attributes and summary, a thumbnail of the best crop, and ids back to the Parquet tables. Tracklets
    and vectors of erased entities (``tombstones``) are left out. With site adaptation on, the vectors are
    the adapted ones and ``adapter_id`` names the adapter; stored days another adapter made are re-adapted
    here too (from their stored backbone vectors), so one comparison never mixes two adapters.
    LanceDB table ``appearances``; scalar indexes on date, camera and entity type, a vector index once large.
    """
    store = identity.store(storage.data_root)
    erased = Tombstones.load(store)
    adaptation = current_adaptation(storage, identity)
    adapter_id = adaptation.adapter_id if adaptation else NO_ADAPTER
    stale = [d for d in _stale_days(store, "appearances", adapter_id) if d not in context.partition_keys]
    written, cameras, skipped, left_out = 0, set(), 0, 0
    # A day at a time, made and written: re-adapting a year of stored days never holds more than one of them.
    for date in [*context.partition_keys, *stale]:
        # Erased entities stay erased, whatever a re-run found again.
        day = day_appearances(storage.parquet(), date, adaptation, erased.keep)
        if stale and day.found and store.vector_width("appearances") not in (None, day.dims):
            # Another adapter, another width: every stored day is re-adapted in this loop, so the table starts
            # anew (one adapter makes every day's vectors, so the first day with rows tells the width).
            store.drop("appearances")
        kept = day.table.num_rows if day.table is not None else 0
        left_out += day.found - kept
        if kept or store.has("appearances"):
            rows = day.table if day.table is not None else appearances_schema(day.dims or 1).empty_table()
            written += store.write_appearances(date, rows, day.dims or 1)
        cameras.update(day.cameras)
        skipped += day.skipped_without_vector
    return dg.MaterializeResult(
        metadata={
            "appearances": written,
            "days": len(context.partition_keys),
            "cameras": ", ".join(sorted(cameras)) or "none",
            "tracklets_without_vector": skipped,
            "left_out_as_erased": left_out,
            "adapter_id": adapter_id,
            "days_re_adapted": ", ".join(stale) or "none",
            "lancedb": store.uri,
            "vector_index": store.vector_index.get("appearances", "none: nothing written"),
        }
    )


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"lancedb"},
    deps=[appearances],
    code_version="1",
    backfill_policy=DAILY_BACKFILL,
)
def daily_entities(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """The day's tracklets clustered across cameras. Candidates come from LanceDB nearest neighbours; the
    score is cosine fused with attribute agreement. Never merged: different entity types, tracklets seen at
    once on one camera, sightings on two cameras closer in time than their transition time, pairs people
    marked "not the same". Pairs scoring just under the threshold go to ``review_queue``.
    """
    store = identity.store(storage.data_root)
    totals: dict[str, int] = {}
    threshold = 0.0
    # Days whose daily entities another adapter's vectors made are clustered again (their appearances were
    # re-adapted), so linking never compares vectors of two adapters.
    current = store.adapter_ids("appearances")
    width = store.vector_width("appearances")
    stale = sorted(
        day
        for day, ids in store.adapter_ids("daily_entities").items()
        if day not in context.partition_keys and ids != current.get(day, ids)
    )
    if store.vector_width("daily_entities") not in (None, width):
        store.drop("daily_entities")
        stale = sorted(d for d in current if d not in context.partition_keys)
    provenance = ""
    for date in [*context.partition_keys, *stale]:
        day = _cluster_one_day(store, identity, date)
        threshold = float(day.pop("match_threshold"))
        provenance = str(day.pop("threshold_provenance"))
        for key, value in day.items():
            totals[key] = totals.get(key, 0) + int(value)
    return dg.MaterializeResult(
        metadata={
            **totals,
            "days": len(context.partition_keys),
            "match_threshold": threshold,
            "threshold_provenance": provenance,
            "days_clustered_again": ", ".join(stale) or "none",
            "vector_index": store.vector_index.get("daily_entities", "none: nothing written"),
        }
    )


def _cluster_one_day(store: IdentityStore, identity: IdentityResource, date: str) -> dict[str, float | str]:
    # Only what clustering reads: no thumbnail or attribute document (a 4-hour day's are a copy's worth again).
    stored = set(store.table("appearances").schema.names) if store.has("appearances") else set()
    wanted = [name for name in (*DAY_COLUMNS, "vector") if name in stored]  # an older table may lack adapter_id
    rows = store.arrow("appearances", f"date = {quoted(date)}", columns=wanted)
    first = rows.slice(0, 1).select(["adapter_id"]).to_pylist() if rows is not None else []
    backend, adaptation = _backend_of(store, date), _adaptation_of(first)
    params = identity.params(backend, adaptation)
    appearances = rows if rows is not None else []
    result = cluster_day(date, appearances, params, interpret(store.corrections()))
    dims = rows.schema.field("vector").type.list_size if rows is not None else 1
    if rows is not None or store.has("daily_entities"):
        store.write_daily_entities(date, result.table, dims)
    store.write_review("tracklet", date, result.review)
    cameras = result.table.column("cameras").to_pylist()
    return {
        "appearances": len(appearances),
        "daily_entities": result.table.num_rows,
        "seen_on_several_cameras": sum(1 for c in cameras if len(c) > 1),
        "candidate_pairs": result.candidate_pairs,
        "merges": result.merged_edges,
        "refused_by_constraints": result.refused_edges,
        "flagged_for_review": len(result.review),
        "match_threshold": params.match_threshold,
        "threshold_provenance": "identity.match_threshold (set)"
        if identity.match_threshold is not None
        else f"default for {backend} vectors, adaptation {adaptation}: {default_threshold(backend, adaptation).provenance}",
    }


class RelinkConfig(dg.Config):
    full: bool = False  # replay every day (after a threshold or model change); otherwise only what is new


# A relink that lost a race with another one starts again on the new state (an optimistic version check
# in ``link_state``), so nothing is overwritten; the pool still keeps them from doing the work twice.
@dg.asset(group_name="identity", kinds={"lancedb"}, deps=[daily_entities], code_version="2", pool="identity_link")
def entities(
    context: AssetExecutionContext, config: RelinkConfig, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """Global identities: each day's daily entities linked, in date order, to the entities of the days before,
    people's corrections (merge, split, name, not the same, watch) applied. A new day is linked on its own
    against the stored entities (only the entities it reaches are rewritten); a day that arrives out of
    order or changes, or a changed correction, replays every day, so ids are the same whatever order days
    were backfilled in. ``full: true`` (the ``relink_job``) replays everything, e.g. after a threshold or
    model change. Timelines of days whose membership changed are refreshed here too.
    """
    store = identity.store(storage.data_root)
    if not store.has("daily_entities"):
        return dg.MaterializeResult(metadata={"entities": 0, "mode": "nothing linked yet"})
    first = store.table("daily_entities").search().select(["date", "adapter_id"]).limit(1).to_arrow().to_pylist()
    params = identity.params(_backend_of(store, first[0]["date"]) if first else "open_clip", _adaptation_of(first))
    report = relink(store, params, interpret(store.corrections()), full=config.full)
    _report_rewritten_days(context, report.timelines_refreshed)
    total = store.table("entities").count_rows() if store.has("entities") else 0
    return dg.MaterializeResult(
        metadata={
            "mode": report.mode + (f" ({report.why_full})" if report.why_full else ""),
            "days_linked": ", ".join(report.days_linked) or "none",
            "entities": total,
            "entities_written": report.entities_written,
            "links_across_days": report.links_across_days,
            "flagged_for_review": report.review_pairs,
            "lost_races_retried": report.lost_races,
            "timelines_refreshed_for_days": ", ".join(report.timelines_refreshed) or "none",
            "vector_index": store.vector_index.get("entities", "unchanged: nothing written"),
            "table_upkeep": "; ".join(f"{t}: {what}" for t, what in sorted(store.upkept.items())) or "none due",
        }
    )


def _report_rewritten_days(context: AssetExecutionContext, days_rewritten: Sequence[str]) -> None:
    """Record, in the catalog, each day whose timelines and sightings the relink rewrote: the rows changed
    under those partitions, so the UI must show them as materialized now, by this run."""
    own = context.run.tags.get("dagster/partition")  # this run materializes its own day's rows anyway
    for day in sorted(set(days_rewritten) - {own}):
        for key in ("entity_timelines", "watch_sightings"):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=key,
                    partition=day,
                    description="rewritten by the entities relink after a change of entity membership",
                    metadata={"rewritten_by": "entities"},
                )
            )


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"lancedb"},
    deps=[entities],
    code_version="1",
    backfill_policy=DAILY_BACKFILL,
)
def entity_timelines(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """Per global entity and day: first and last seen, cameras, number of appearances, best thumbnail,
    attribute summary, review flag, name and watch-list flag. LanceDB table ``entity_timelines``.
    """
    store = identity.store(storage.data_root)
    written_days = refresh_timelines(store, None, None, list(context.partition_keys), with_sightings=False)
    listed = ", ".join(quoted(d) for d in context.partition_keys)
    timelines = store.rows("entity_timelines", f"date IN ({listed})")
    preview = [{k: v for k, v in row.items() if k != "thumbnail"} for row in timelines]
    schema = pa.schema([f for f in ENTITY_TIMELINES if f.name != "thumbnail"])
    return dg.MaterializeResult(
        metadata={
            "entities": len(timelines),
            "on_several_cameras": sum(1 for row in timelines if len(row["cameras"]) > 1),
            "needs_review": sum(1 for row in timelines if row["needs_review"]),
            "days_written": ", ".join(written_days),
            "preview": table_preview(pa.Table.from_pylist(preview, schema=schema)),
        }
    )


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"lancedb"},
    deps=[entity_timelines],
    code_version="1",
    backfill_policy=DAILY_BACKFILL,
)
def watch_sightings(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """New sightings of watched entities on the day (LanceDB table ``watch_sightings``), also logged."""
    store = identity.store(storage.data_root)
    hits = write_day_sightings(store, list(context.partition_keys))
    for hit in hits:
        context.log.warning(
            f"watched entity {hit['entity_id']} ({hit['name'] or 'unnamed'}) seen {hit['date']} {hit['first_seen']:%H:%M:%S}"
            f"-{hit['last_seen']:%H:%M:%S} on {', '.join(hit['cameras'])}"
        )
    return dg.MaterializeResult(metadata={"sightings": len(hits), "entities": ", ".join(h["entity_id"] for h in hits)})
