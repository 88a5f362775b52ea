"""Retention: drop crops and vectors older than a per-table number of days, and say exactly what went.

Parquet assets lose whole partition files (``date=<D>/camera=<C>``); LanceDB tables lose the rows of
old dates, then get compacted so the space really comes back. Tables not named in the policy
(timelines, entities, corrections by default) are never touched. The cutoff is strict: a table kept
``N`` days on day ``T`` keeps every date from ``T - N + 1`` on, so nothing younger is ever deleted.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from reid_pipeline.lib.identity.store import quoted

if TYPE_CHECKING:
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline.lib.storage import ParquetStore
    from reid_pipeline.settings import RetentionSettings


@dataclass(frozen=True)
class Deletion:
    store: str  # parquet | lancedb
    table: str
    date: str
    camera: str | None
    rows: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def cutoff(today: date, keep_days: int) -> str:
    """The oldest date still kept: ``keep_days`` days ending with ``today``."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, got {keep_days}: 0 would delete today's data")
    return (today - timedelta(days=keep_days - 1)).isoformat()


def _parquet_dates(parquet: ParquetStore, asset: str) -> list[str]:
    selector = pafs.FileSelector(parquet.asset_dir(asset), allow_not_found=True)
    return sorted(
        info.base_name.removeprefix("date=")
        for info in parquet.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date=")
    )


def plan(
    policy: RetentionSettings, today: date, parquet: ParquetStore, identity: IdentityStore | None
) -> list[Deletion]:
    """Everything the policy would delete on ``today``, row counts included; deletes nothing."""
    found = []
    for asset, keep in sorted(policy.parquet_days.items()):
        oldest = cutoff(today, keep)
        for day in _parquet_dates(parquet, asset):
            if day >= oldest:
                continue
            for camera in parquet.cameras(asset, day):
                rows = parquet.read(asset, {"date": day, "camera": camera}, columns=[]).num_rows
                found.append(Deletion("parquet", asset, day, camera, rows))
    if identity is not None:
        for name, keep in sorted(policy.lancedb_days.items()):
            if not identity.has(name):
                continue
            oldest = cutoff(today, keep)
            dates = [r["date"] for r in identity.rows(name, f"date < {quoted(oldest)}", columns=["date"])]
            for day in sorted(set(dates)):
                found.append(Deletion("lancedb", name, day, None, dates.count(day)))
    return found


def apply(
    deletions: list[Deletion], parquet: ParquetStore, identity: IdentityStore | None, version_grace_s: int = 3600
) -> None:
    """Carry out a plan, then compact every LanceDB table that lost rows.

    Versions older than ``version_grace_s`` are cleaned up; younger ones stay for readers still on them.
    """
    touched = set()
    for d in deletions:
        if d.store == "parquet":
            assert d.camera is not None
            parquet.delete(d.table, {"date": d.date, "camera": d.camera})
            if not parquet.cameras(d.table, d.date):  # leave no empty date folder behind
                parquet.fs.delete_dir(f"{parquet.asset_dir(d.table)}/date={d.date}")
        elif identity is not None:
            identity.table(d.table).delete(f"date = {quoted(d.date)}")
            touched.add(d.table)
    for name in sorted(touched):
        assert identity is not None
        # Compaction rewrites the fragments; cleanup drops the old versions that still held the rows.
        with warnings.catch_warnings():  # LanceDB warns about a zero grace; that is the caller's choice
            warnings.simplefilter("ignore", UserWarning)
            identity.table(name).optimize(cleanup_older_than=timedelta(seconds=version_grace_s))
