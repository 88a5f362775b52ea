"""The daily HTML report: every entity of the day, a timeline per camera, watch-list hits, the review queue."""

import time

import dagster as dg
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.identity import DAILY_BACKFILL, entity_timelines, watch_sightings
from reid_pipeline.defs.partitions import days
from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.review.report_files import report_path, write_report

__all__ = ["daily_report", "report_path"]


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"html"},
    deps=[entity_timelines, watch_sightings],
    code_version="1",
    backfill_policy=DAILY_BACKFILL,
)
def daily_report(
    context: AssetExecutionContext,
    storage: StorageResource,
    identity: IdentityResource,
) -> dg.MaterializeResult:
    """A self-contained HTML page per day under ``<data_root>/reports/``: every entity with a thumbnail strip,
    attributes, cameras, first and last seen, a timeline chart per camera, watch-list hits, and the review
    queue side by side with same / not same / name decisions to save for ``reid-pipeline review apply``.
    A day with no entity gets no page. Pictures past ``[retention] image_days`` are taken out by the retention
    job (from the tables and from these pages), which enforces every limit in one place.
    """
    store = identity.store(storage.data_root)
    started = time.perf_counter()
    written, entities, review, hits, shown = [], 0, 0, 0, []
    for date in context.partition_keys:
        report = write_report(store, storage.data_root, date)
        if report is None:
            context.log.info(f"{date}: no entities, no report")
            continue
        path = report_path(storage.data_root, date)
        written.append(path)
        entities, review, hits = (
            entities + len(report.entities),
            review + len(report.review),
            hits + len(report.watch_hits),
        )
        shown += [e.entity_id for e in report.entities]
        context.log.info(f"{date}: report of {len(report.entities)} entities written to {path}")
    return dg.MaterializeResult(
        metadata={
            "reports": dg.MetadataValue.path(written[-1]) if len(written) == 1 else ", ".join(written) or "none",
            "entities": entities,
            "review_pairs": review,
            "watch_hits": hits,
            "seconds": round(time.perf_counter() - started, 3),
            # Ids, not pictures: Dagster's event log cannot forget one person, so no image goes into it.
            "entity_ids": ", ".join(shown[:20]) + (", ..." if len(shown) > 20 else ""),
        }
    )
