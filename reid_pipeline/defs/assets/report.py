"""The daily HTML report: every entity of the day, a timeline per camera, watch-list hits, the review queue."""

import time

import dagster as dg
from dagster import AssetExecutionContext

from reid_pipeline.defs.assets.identity import DAILY_BACKFILL, entity_timelines, watch_sightings
from reid_pipeline.defs.assets.preview import thumbnail_strip
from reid_pipeline.defs.partitions import days
from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.review.report_data import gather
from reid_pipeline.lib.review.report_html import render
from reid_pipeline.lib.storage import filesystem_for

STRIP_IN_METADATA = 8


def report_path(data_root: str, date: str) -> str:
    """Where the day's report goes: ``<data_root>/reports/<date>.html`` (a path or object-store key)."""
    _fs, base = filesystem_for(data_root)
    return f"{base}/reports/{date}.html"


@dg.asset(
    partitions_def=days,
    group_name="identity",
    kinds={"html"},
    deps=[entity_timelines, watch_sightings],
    code_version="1",
    backfill_policy=DAILY_BACKFILL,
)
def daily_report(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """A self-contained HTML page per day under ``<data_root>/reports/``: every entity with a thumbnail strip,
    attributes, cameras, first and last seen, a timeline chart per camera, watch-list hits, and the review
    queue side by side with same / not same / name decisions to save for ``reid-pipeline review apply``.
    """
    store = identity.store(storage.data_root)
    fs, _base = filesystem_for(storage.data_root)
    started = time.perf_counter()
    written, entities, review, hits, strip = [], 0, 0, 0, []
    for date in context.partition_keys:
        report = gather(store, date)
        path = report_path(storage.data_root, date)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path) as out:
            out.write(render(report).encode())
        written.append(path)
        entities, review, hits = (
            entities + len(report.entities),
            review + len(report.review),
            hits + len(report.watch_hits),
        )
        strip += [(e.entity_id, e.timeline["thumbnail"]) for e in report.entities]
        context.log.info(f"{date}: report of {len(report.entities)} entities written to {path}")
    return dg.MaterializeResult(
        metadata={
            "reports": dg.MetadataValue.path(written[-1]) if len(written) == 1 else ", ".join(written),
            "entities": entities,
            "review_pairs": review,
            "watch_hits": hits,
            "seconds": round(time.perf_counter() - started, 3),
            "thumbnails": thumbnail_strip(strip, STRIP_IN_METADATA),
        }
    )
