"""Benchmark: the identity stage night after night, to show a night's cost does not grow with history.

Synthetic days: a population of identities (each with a random look) of which a random fifth shows
up on any one day, each seen five times on four cameras; so identities recur across days and the
global entities keep gaining days. Every day runs what the nightly identity job runs after the
cameras: appearances written, the day clustered and written, and the global step (``relink``), which
links the new day incrementally and refreshes its timelines. Each step is timed; the report gives the
time of the chosen days, with the median of the five days around each (the machine may be shared).

With ``upkeep=False`` tables are never optimized after writes, to measure what the upkeep policy buys:
the latency of filtered queries (a day of appearances, one entity's members) once the history is long.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import date as Date
from typing import Any

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.bench.identities import CAMERAS, appearances_table, median_query_ms, pairwise_f1
from reid_pipeline.lib.identity.corrections import CorrectionSet
from reid_pipeline.lib.identity.daily import cluster_day
from reid_pipeline.lib.identity.params import MatchParams
from reid_pipeline.lib.identity.relink import relink
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.lance import UpkeepPolicy

FIRST_DAY = Date(2024, 1, 1)
PER_IDENTITY = 5
PRESENT_SHARE = 0.2


def synthetic_day(day: int, per_day: int, looks: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, list[int]]:
    """One day's appearances: ``per_day // 5`` identities of the population, five sightings each."""
    date = (FIRST_DAY + timedelta(days=day)).isoformat()
    dims = looks.shape[1]
    present = np.sort(rng.choice(len(looks), size=max(1, per_day // PER_IDENTITY), replace=False))
    owner = np.repeat(present, PER_IDENTITY)
    n = owner.size
    noise = rng.normal(size=(n, dims)).astype(np.float32) * np.float32(0.35 / np.sqrt(dims))
    vectors = looks[owner] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    midnight = int(datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC).timestamp()) * 10**6
    # Each identity's five sightings an hour apart, at its own time of day, so none overlap on a camera.
    base = rng.uniform(0, 18 * 3600, size=present.size)
    seconds = np.repeat(base, PER_IDENTITY) + np.tile(np.arange(PER_IDENTITY) * 3600.0, present.size)
    starts = (seconds * 1e6).astype(np.int64) + midnight
    tracklets = [f"{date}/{CAMERAS[i % len(CAMERAS)]}/{i:06d}" for i in range(n)]
    return appearances_table(tracklets, date, starts, vectors), owner.tolist()


def bench_identity_days(
    days: int,
    per_day: int,
    dims: int = 512,
    report_days: tuple[int, ...] = (1, 30, 180, 365),
    upkeep: bool = True,
    ann_min_rows: int = 100_000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    params = MatchParams(k=10, match_threshold=0.8, link_threshold=0.8, review_band=0.05, attribute_weight=0.0)
    rng = np.random.default_rng(seed)
    population = max(1, round(per_day / PER_IDENTITY / PRESENT_SHARE))
    looks = rng.normal(size=(population, dims)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    timings: list[dict[str, Any]] = []
    truth: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        # Versions are kept a minute, not the pipeline's hour: a year of nights inside an hour would
        # otherwise keep every compacted copy on disk until the end.
        store = IdentityStore(folder, ann_min_rows, UpkeepPolicy(enabled=upkeep, version_grace_s=60))
        for day in range(days):
            table, owner = synthetic_day(day, per_day, looks, rng)
            truth.update(zip(table.column("tracklet_id").to_pylist(), owner, strict=True))
            timings.append({"day": day + 1, **_night(store, table, params, dims)})
            if progress:
                t = timings[-1]
                progress(
                    f"day {day + 1}: {t['total_s']:.2f} s (daily {t['daily_s']:.2f}, link {t['link_s']:.2f}, {t['mode']})"
                )
        latency = filtered_query_latency(store, (FIRST_DAY + timedelta(days=days // 2)).isoformat())
        members = store.rows("entity_members", columns=["tracklet_id", "entity_id"])
        entities = store.table("entities").count_rows()
    groups: dict[str, list[str]] = {}
    for member in members:
        groups.setdefault(member["entity_id"], []).append(member["tracklet_id"])
    chosen = [d for d in report_days if d <= days]
    picked = {d: {**timings[d - 1], "median_5_days_s": _median_around(timings, d)} for d in chosen}
    first = picked[chosen[0]] if chosen else None
    last = picked[chosen[-1]] if chosen else None
    return {
        "days": days,
        "per_day": per_day,
        "population": population,
        "upkeep": upkeep,
        "report": picked,
        "last_over_first": round(last["total_s"] / first["total_s"], 2) if first and last else None,
        "last_over_first_median": (
            round(last["median_5_days_s"] / first["median_5_days_s"], 2) if first and last else None
        ),
        "entities": entities,
        "identities_seen": len(set(truth.values())),
        "pairwise_f1": round(pairwise_f1(list(groups.values()), truth), 4),
        "filtered_query_ms": latency,
        "all_days": timings,
    }


def _night(store: IdentityStore, table: pa.Table, params: MatchParams, dims: int) -> dict[str, Any]:
    """One night of the identity job on ``table`` (a day of appearances), timed: the day's own clustering, then
    the global link."""
    date = table.column("date")[0].as_py()
    started = time.perf_counter()
    store.write_day("appearances", table.schema, "tracklet_id", date, table)
    rows = store.arrow("appearances", f"date = {quoted(date)}")
    assert rows is not None
    result = cluster_day(date, rows, params, CorrectionSet())
    store.write_daily_entities(date, result.table, dims)
    store.write_review("tracklet", date, result.review)
    daily = time.perf_counter() - started
    report = relink(store, params, CorrectionSet())
    total = time.perf_counter() - started
    return {
        "daily_s": round(daily, 3),
        "link_s": round(total - daily, 3),
        "total_s": round(total, 3),
        "mode": report.mode,
    }


def _median_around(timings: list[dict[str, Any]], day: int, width: int = 2) -> float:
    lo, hi = max(0, day - 1 - width), min(len(timings), day + width)
    return round(statistics.median(t["total_s"] for t in timings[lo:hi]), 3)


def filtered_query_latency(store: IdentityStore, date: str, repeats: int = 20) -> dict[str, float]:
    """Median milliseconds of the filtered reads the pipeline makes: one day of appearances (ids only),
    and the members of one entity."""
    entity = store.rows("entity_members", f"date = {quoted(date)}", ["entity_id"])[0]["entity_id"]
    queries = {
        "appearances by date": ("appearances", f"date = {quoted(date)}"),
        "members by entity": ("entity_members", f"entity_id = {quoted(entity)}"),
    }
    return {label: median_query_ms(store.table(name), where, repeats) for label, (name, where) in queries.items()}
