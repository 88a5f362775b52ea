"""Nightly operations: the schedule that processes yesterday, and the retention job with its schedule."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from reid_pipeline.defs.partitions import camera_day_key, register_cameras
from reid_pipeline.defs.resources import IdentityResource, RetentionResource, StorageResource
from reid_pipeline.lib.footage.files import list_camera_days
from reid_pipeline.lib.privacy import retention as expiry
from reid_pipeline.lib.privacy.audit import record_retention
from reid_pipeline.settings import OperationsSettings, RetentionSettings


def yesterday(moment: datetime, zone: str) -> str:
    """The calendar day before ``moment`` in ``zone``: what a nightly run processes."""
    return (moment.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)).isoformat()


def _cron(time_of_day: str, minute_offset: int = 0) -> str:
    hour, minute = (int(v) for v in time_of_day.split(":"))
    total = (hour * 60 + minute + minute_offset) % (24 * 60)
    return f"{total % 60} {total // 60} * * *"


def build_nightly_schedule(camera_day_job: Any, ops: OperationsSettings) -> dg.ScheduleDefinition:
    """Every night, one camera-day run per camera with footage for yesterday.

    New cameras are registered as partitions first. The day's identity run follows from the
    ``identity_after_camera_day`` sensor (turn both on). Run keys name the day and camera, so a
    schedule tick evaluated twice never launches the same work twice.
    """

    @dg.schedule(
        name="nightly_camera_days",
        job=camera_day_job,
        cron_schedule=_cron(ops.nightly_time),
        execution_timezone=ops.nightly_timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def nightly_camera_days(
        context: dg.ScheduleEvaluationContext, storage: StorageResource
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """Processes yesterday's footage of every camera, end to end."""
        moment = context.scheduled_execution_time or datetime.now(ZoneInfo(ops.nightly_timezone))
        day = yesterday(moment, ops.nightly_timezone)
        found = list_camera_days(storage.raw_folder).get(day, [])
        if not found:
            return dg.SkipReason(f"no footage for {day} under {storage.raw_folder / day}")
        register_cameras(context.instance, found)
        return [
            dg.RunRequest(
                run_key=f"nightly|{day}|{camera}",
                partition_key=camera_day_key(day, camera),
                tags={"reid/trigger": "nightly_camera_days"},
            )
            for camera in found
        ]

    return nightly_camera_days


class RetentionConfig(dg.Config):
    today: str = ""  # YYYY-MM-DD; empty = the run's UTC date
    dry_run: bool = False


@dg.op(
    description="Deletes data older than each table's retention and pictures and vectors older than their own "
    "(thumbnails blanked, reports rewritten without images), then compacts LanceDB.",
    out=dg.Out(io_manager_key="run_memory"),  # a list of deletions, not a table for the Parquet IO manager
)
def apply_retention(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    storage: StorageResource,
    identity: IdentityResource,
    retention: RetentionResource,
) -> dg.Output[list[dict[str, object]]]:
    today = date.fromisoformat(config.today) if config.today else datetime.now(ZoneInfo("UTC")).date()
    policy = RetentionSettings(**retention.model_dump())
    parquet, store = storage.parquet(), identity.store(storage.data_root)
    deletions = expiry.plan(policy, today, parquet, store)
    if not config.dry_run:
        expiry.apply(deletions, parquet, store, policy.version_grace_s)
        author = context.run.tags.get("dagster/schedule_name") or f"run {context.run_id}"
        record_retention(store, [d.as_dict() for d in deletions], author, today.isoformat())
    for d in deletions:
        where = f"{d.date}/{d.camera}" if d.camera else d.date
        context.log.info(
            f"{'would delete' if config.dry_run else 'deleted'} {d.store} {d.table} {where}: {d.rows} {d.action} "
            f"({d.kinds}; {d.rule})"
        )
    rows = [d.as_dict() for d in deletions]
    table = "\n".join(
        f"| {r['store']} | {r['table']} | {r['date']} | {r['camera'] or ''} | {r['action']} | {r['kinds']} "
        f"| {r['rows']} | {r['rule']} |"
        for r in rows
    )
    header = (
        "| store | table | date | camera | what | kinds of data | count | rule |\n|---|---|---|---|---|---|---|---|\n"
    )
    return dg.Output(
        rows,
        metadata={
            "deleted_rows": sum(d.rows for d in deletions if d.action == "rows"),
            "thumbnails_removed": sum(d.rows for d in deletions if d.action == "thumbnails"),
            "report_images_removed": sum(d.rows for d in deletions if d.store == "reports"),
            "partitions": len(deletions),
            "dry_run": config.dry_run,
            "report": dg.MetadataValue.md(header + table),
        },
    )


@dg.job(
    description="Retention: delete data past its table's days, pictures past image_days and vectors past "
    "vector_days; report what went, by kind of data."
)
def retention_job() -> None:
    apply_retention()


def build_retention_schedule(ops: OperationsSettings) -> dg.ScheduleDefinition:
    """Daily, an hour after the nightly run starts."""
    return dg.ScheduleDefinition(
        name="daily_retention",
        job=retention_job,
        cron_schedule=_cron(ops.nightly_time, 60),
        execution_timezone=ops.nightly_timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
