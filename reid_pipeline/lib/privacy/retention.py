"""Retention: drop data older than its limit, by table and by kind of data, and say exactly what went.

Two kinds of limit apply together. Per table (``parquet_days``, ``lancedb_days``): Parquet assets lose
whole partition files (``date=<D>/camera=<C>``), LanceDB tables lose the rows of old dates. Per kind
of data, wherever it is stored: pictures (``image_days``: crop JPEGs, thumbnails in any LanceDB table,
the images of the daily reports) and appearance vectors (``vector_days``: the embeddings asset, the
appearances table). A thumbnail past ``image_days`` is blanked in place, so timelines keep their text
and times; a report past it is rewritten without images. LanceDB tables that changed are compacted
and their old versions cleaned up, so the space, and the data, really go.

The cutoff is strict: a limit of ``N`` days on day ``T`` keeps every date from ``T - N + 1`` on, so
nothing younger is ever touched. Tables not named by any limit are never touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from reid_pipeline.lib.identity.store import quoted
from reid_pipeline.lib.review.report_files import old_pictures_in_report, report_dates, write_report

if TYPE_CHECKING:
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline.lib.storage.parquet import ParquetStore
    from reid_pipeline.settings import RetentionSettings

# What each stored table holds, by kind of data; a table not listed holds text (ids, times, attributes).
KINDS_HELD = {
    "crops": ("images", "text"),
    "embeddings": ("vectors", "text"),
    "attributes": ("vectors", "text"),  # the tracklet vector each description was made from
    "appearances": ("images", "vectors", "text"),
}
IMAGE_ASSETS = ("crops",)  # Parquet assets that are pictures
VECTOR_ASSETS = ("embeddings", "attributes")  # Parquet assets holding appearance vectors
VECTOR_TABLES = ("appearances",)  # LanceDB tables whose rows are appearance vectors (the row is its vector)
NO_IMAGE = "X''"  # the empty JPEG a thumbnail becomes past image_days (the column is not nullable)


@dataclass(frozen=True)
class Deletion:
    store: str  # parquet | lancedb | reports
    table: str
    date: str
    camera: str | None
    rows: int  # rows (or thumbnails, or report images) that go
    action: str = "rows"  # rows: whole rows or partitions go | thumbnails: pictures blanked | images: page rewritten
    kinds: str = "text"  # what kinds of data went: images, vectors, text
    rule: str = ""  # the limit that took it, e.g. "image_days=30"
    keeps_from: str = ""  # the oldest date that limit keeps

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def cutoff(today: date, keep_days: int) -> str:
    """The oldest date still kept: ``keep_days`` days ending with ``today``."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, got {keep_days}: 0 would delete today's data")
    return (today - timedelta(days=keep_days - 1)).isoformat()


def _strictest(limits: dict[str, int | None]) -> tuple[int, str] | None:
    """The shortest of the limits that are set, with the rule that names it."""
    set_ = [(days, rule) for rule, days in limits.items() if days is not None]
    return min(set_) if set_ else None


def _parquet_dates(parquet: ParquetStore, asset: str) -> list[str]:
    selector = pafs.FileSelector(parquet.asset_dir(asset), allow_not_found=True)
    return sorted(
        info.base_name.removeprefix("date=")
        for info in parquet.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date=")
    )


def _kinds(table: str) -> str:
    return ", ".join(KINDS_HELD.get(table, ("text",)))


def _parquet_plan(policy: RetentionSettings, today: date, parquet: ParquetStore) -> list[Deletion]:
    found = []
    assets = set(policy.parquet_days) | set(IMAGE_ASSETS) | set(VECTOR_ASSETS)
    for asset in sorted(assets):
        limit = _strictest(
            {
                f"parquet_days.{asset}": policy.parquet_days.get(asset),
                f"image_days={policy.image_days}": policy.image_days if asset in IMAGE_ASSETS else None,
                f"vector_days={policy.vector_days}": policy.vector_days if asset in VECTOR_ASSETS else None,
            }
        )
        if limit is None:
            continue
        oldest = cutoff(today, limit[0])
        rule = limit[1] if "=" in limit[1] else f"{limit[1]}={limit[0]}"
        for day in _parquet_dates(parquet, asset):
            if day >= oldest:
                continue
            for camera in parquet.cameras(asset, day):
                rows = parquet.read(asset, {"date": day, "camera": camera}, columns=[]).num_rows
                found.append(Deletion("parquet", asset, day, camera, rows, "rows", _kinds(asset), rule, oldest))
    return found


def _lancedb_plan(policy: RetentionSettings, today: date, identity: IdentityStore) -> list[Deletion]:
    found = []
    for name in sorted(identity.lance.table_names()):
        columns = identity.table(name).schema.names
        limit = _strictest(
            {
                f"lancedb_days.{name}": policy.lancedb_days.get(name),
                f"vector_days={policy.vector_days}": policy.vector_days
                if name in VECTOR_TABLES and "vector" in columns
                else None,
            }
        )
        rows_from = cutoff(today, limit[0]) if limit else ""  # rows before this date go whole
        if limit and "date" in columns:
            rule = limit[1] if "=" in limit[1] else f"{limit[1]}={limit[0]}"
            dates = [r["date"] for r in identity.rows(name, f"date < {quoted(rows_from)}", columns=["date"])]
            for day in sorted(set(dates)):
                found.append(
                    Deletion("lancedb", name, day, None, dates.count(day), "rows", _kinds(name), rule, rows_from)
                )
        if policy.image_days and "thumbnail" in columns and "date" in columns:
            oldest = cutoff(today, policy.image_days)
            where = f"date < {quoted(oldest)} AND date >= {quoted(rows_from)} AND thumbnail <> {NO_IMAGE}"
            dates = [r["date"] for r in identity.rows(name, where, columns=["date"])]
            for day in sorted(set(dates)):
                rule = f"image_days={policy.image_days}"
                found.append(
                    Deletion("lancedb", name, day, None, dates.count(day), "thumbnails", "images", rule, oldest)
                )
    return found


def _report_plan(policy: RetentionSettings, today: date, data_root: str, identity: IdentityStore) -> list[Deletion]:
    """Pages holding pictures past ``image_days``: an old day's page, or a recent page showing an old day's
    picture (a review pair across days)."""
    if not policy.image_days:
        return []
    oldest = cutoff(today, policy.image_days)
    found = []
    for day in report_dates(data_root):
        images = old_pictures_in_report(identity, data_root, day, oldest)
        if images:
            rule = f"image_days={policy.image_days}"
            found.append(Deletion("reports", "daily_report", day, None, images, "images", "images", rule, oldest))
    return found


def plan(
    policy: RetentionSettings, today: date, parquet: ParquetStore, identity: IdentityStore | None
) -> list[Deletion]:
    """Everything the policy would delete on ``today``, with counts and kinds of data; deletes nothing."""
    found = _parquet_plan(policy, today, parquet)
    if identity is not None:
        found += _lancedb_plan(policy, today, identity)
        found += _report_plan(policy, today, parquet.data_root, identity)
    return found


def apply(
    deletions: list[Deletion], parquet: ParquetStore, identity: IdentityStore | None, version_grace_s: int = 3600
) -> None:
    """Carry out a plan, compact every LanceDB table that changed, then rewrite the listed reports.

    Reports come last: they are rebuilt from the tables, which by then hold no old picture.
    """
    touched = set()
    for d in deletions:
        if d.store == "parquet":
            assert d.camera is not None
            parquet.delete(d.table, {"date": d.date, "camera": d.camera})
            if not parquet.cameras(d.table, d.date):  # leave no empty date folder behind
                parquet.fs.delete_dir(f"{parquet.asset_dir(d.table)}/date={d.date}")
        elif d.store == "lancedb" and identity is not None:
            if d.action == "thumbnails":
                identity.table(d.table).update(where=f"date = {quoted(d.date)}", values_sql={"thumbnail": NO_IMAGE})
            else:
                identity.table(d.table).delete(f"date = {quoted(d.date)}")
            touched.add(d.table)
    for name in sorted(touched):
        assert identity is not None
        identity.compact(name, version_grace_s)
    for d in deletions:
        if d.store == "reports" and identity is not None:
            write_report(identity, parquet.data_root, d.date, d.keeps_from)
