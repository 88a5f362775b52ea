"""Erase one entity everywhere: Parquet rows, LanceDB rows (and every old version), reports; keep a tombstone.

``find_erasure`` says what would go (rows per table, the raw files showing the entity, with times) and
touches nothing; ``erase`` carries it out. Raw footage is the operator's: it is listed, and deleted only
when asked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from reid_pipeline.lib.identity.query import resolve_entity
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.privacy import tombstones
from reid_pipeline.lib.review.report_files import report_dates, write_report
from reid_pipeline.lib.storage.parquet import ParquetStore


@dataclass(frozen=True)
class FootageHit:
    """A raw file in which the entity appears, and when."""

    path: str  # relative to the raw footage root
    camera_id: str
    first_seen: datetime
    last_seen: datetime


@dataclass
class Erasure:
    entity_id: str
    tracklets: list[str]
    daily_entity_ids: list[str]
    days: list[str]
    lancedb: dict[str, str]  # table -> filter selecting the entity's rows
    counts: dict[str, int] = field(default_factory=dict)  # "<store>.<table>" -> rows that go
    footage: list[FootageHit] = field(default_factory=list)
    report_days: list[str] = field(default_factory=list)  # pages to rewrite (its days, and pages showing it)


def _listed(values: list[str]) -> str:
    return ", ".join(quoted(v) for v in values) or "''"


def _camera_day(tracklet_id: str) -> tuple[str, str]:
    """(date, camera) of a tracklet: its id is ``<date>/<camera>/<track>``."""
    day, rest = tracklet_id.split("/", 1)
    return day, rest.rsplit("/", 1)[0]


def _parquet_assets(parquet: ParquetStore) -> list[str]:
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(f"{parquet.base}/parquet", allow_not_found=True)
    return sorted(i.base_name for i in parquet.fs.get_file_info(selector) if i.type == pafs.FileType.Directory)


def _matching(table: pa.Table, tracklets: list[str]) -> pa.Array:
    return pc.is_in(table.column("tracklet_id"), value_set=pa.array(tracklets, pa.string()))


def find_erasure(store: IdentityStore, parquet: ParquetStore, ref: str) -> Erasure:
    """Everything of the entity ``ref`` (an entity id or one of its tracklets), counted; deletes nothing."""
    entity = resolve_entity(store, ref)
    entity_id = str(entity["entity_id"])
    members = store.rows("entity_members", f"entity_id = {quoted(entity_id)}")
    tracklets = sorted({m["tracklet_id"] for m in members})
    daily = sorted({m["daily_entity_id"] for m in members})
    sides = _listed(tracklets + daily)
    lancedb = {
        "appearances": f"tracklet_id IN ({_listed(tracklets)})",
        "daily_entities": f"daily_entity_id IN ({_listed(daily)})",
        "entities": f"entity_id = {quoted(entity_id)}",
        "entity_members": f"entity_id = {quoted(entity_id)}",
        "entity_timelines": f"entity_id = {quoted(entity_id)}",
        "watch_sightings": f"entity_id = {quoted(entity_id)}",
        "review_queue": f"a IN ({sides}) OR b IN ({sides})",
    }
    erasure = Erasure(entity_id, tracklets, daily, sorted({m["date"] for m in members}), lancedb)
    for name, where in lancedb.items():
        if store.has(name):
            erasure.counts[f"lancedb.{name}"] = store.table(name).count_rows(where)
    named = _corrections_naming(store, set(tracklets))
    erasure.counts["lancedb.corrections"] = len(named)
    review_days = {r["date"] for r in store.rows("review_queue", lancedb["review_queue"], ["date"])}
    erasure.report_days = sorted((set(erasure.days) | review_days) & set(report_dates(parquet.data_root)))
    _count_parquet(erasure, parquet)
    return erasure


def _corrections_naming(store: IdentityStore, tracklets: set[str]) -> list[str]:
    """Ids of corrections that name one of ``tracklets`` (either side, or among a split's tracklets)."""
    return [
        r["correction_id"]
        for r in store.corrections()
        if r["tracklet_a"] in tracklets or r["tracklet_b"] in tracklets or tracklets & set(r["tracklets"] or [])
    ]


def _count_parquet(erasure: Erasure, parquet: ParquetStore) -> None:
    by_camera_day = defaultdict(list)
    for tracklet in erasure.tracklets:
        by_camera_day[_camera_day(tracklet)].append(tracklet)
    hits: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for asset in _parquet_assets(parquet):
        for (day, camera), tracklets in sorted(by_camera_day.items()):
            part = {"date": day, "camera": camera}
            if not parquet.exists(asset, part) or "tracklet_id" not in parquet.schema(asset, part).names:
                continue
            table = parquet.read(asset, part)
            mine = table.filter(_matching(table, tracklets))
            erasure.counts[f"parquet.{asset}"] = erasure.counts.get(f"parquet.{asset}", 0) + mine.num_rows
            if asset == "detections":
                for row in mine.select(["path", "camera_id", "timestamp"]).to_pylist():
                    hits[(row["path"], row["camera_id"])].append(row["timestamp"])
    erasure.footage = [FootageHit(path, cam, min(times), max(times)) for (path, cam), times in sorted(hits.items())]


def erase(
    erasure: Erasure, store: IdentityStore, parquet: ParquetStore, raw_root: Path | None = None
) -> dict[str, int]:
    """Carry out ``erasure``; returns rows removed per table (and ``footage_files`` deleted, if any).

    The tombstone is written first: a run that starts meanwhile already leaves the entity out. LanceDB
    tables are compacted with no grace, and every older version is removed, so no version still holds it.
    ``raw_root`` given: the raw files listed are deleted too.
    """
    vectors = [r["vector"] for r in store.rows("appearances", erasure.lancedb["appearances"], ["vector"])]
    for day, camera in {_camera_day(t) for t in erasure.tracklets}:
        part = {"date": day, "camera": camera}
        if parquet.exists("embeddings", part):
            table = parquet.read("embeddings", part)
            vectors += table.filter(_matching(table, erasure.tracklets)).column("vector").to_pylist()
    tombstones.add(store, tombstones.tombstone(erasure.entity_id, erasure.tracklets, vectors))
    removed = _erase_parquet(erasure, parquet)
    named = _corrections_naming(store, set(erasure.tracklets))
    where = dict(erasure.lancedb)
    if named:
        where["corrections"] = f"correction_id IN ({_listed(named)})"
    for name, condition in where.items():
        if store.has(name):
            before = store.table(name).count_rows()
            store.table(name).delete(condition)
            removed[f"lancedb.{name}"] = before - store.table(name).count_rows()
            store.compact(name, version_grace_s=0)
    for day in erasure.report_days:
        write_report(store, parquet.data_root, day)
    if raw_root is not None:
        for hit in erasure.footage:
            (raw_root / hit.path).unlink(missing_ok=True)
        removed["footage_files"] = len(erasure.footage)
    return removed


def _erase_parquet(erasure: Erasure, parquet: ParquetStore) -> dict[str, int]:
    """Rewrite each camera-day file holding the entity's tracklets without them (the old file is replaced)."""
    removed: dict[str, int] = {}
    camera_days = sorted({_camera_day(t) for t in erasure.tracklets})
    for asset in _parquet_assets(parquet):
        for day, camera in camera_days:
            part = {"date": day, "camera": camera}
            if not parquet.exists(asset, part) or "tracklet_id" not in parquet.schema(asset, part).names:
                continue
            table = parquet.read(asset, part)
            mine = _matching(table, erasure.tracklets)
            count = pc.sum(mine).as_py() or 0
            if count:
                parquet.write(asset, part, table.filter(pc.invert(mine)))
                removed[f"parquet.{asset}"] = removed.get(f"parquet.{asset}", 0) + count
    return removed


__all__ = ["Erasure", "FootageHit", "erase", "find_erasure"]
