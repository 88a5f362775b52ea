"""What the event log says about steps: when each ran, in which process, and whether a pool ever held two."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import dagster as dg

ENDS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
RUN_ENDS = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED}


@dataclass(frozen=True)
class StepSpan:
    run_id: str
    step_key: str
    start: float
    end: float  # the step's end event, or the run's end when the step's process died without one
    pid: int | None


def step_spans(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> list[StepSpan]:
    spans = []
    for run_id in run_ids:
        records = instance.all_logs(run_id)
        starts = {r.step_key: r for r in records if r.dagster_event_type == dg.DagsterEventType.STEP_START}
        ends = {r.step_key: r.timestamp for r in records if r.dagster_event_type in ENDS}
        run_end = max((r.timestamp for r in records if r.dagster_event_type in RUN_ENDS), default=float("inf"))
        for key, start in starts.items():
            spans.append(
                StepSpan(
                    run_id,
                    str(key),
                    start.timestamp,
                    ends.get(key, run_end),
                    start.dagster_event.pid if start.dagster_event else None,
                )
            )
    return spans


def overlaps(spans: Iterable[StepSpan]) -> list[tuple[StepSpan, StepSpan]]:
    """Pairs of spans that ran at the same time."""
    ordered = sorted(spans, key=lambda s: s.start)
    return [(a, b) for a, b in pairwise(ordered) if b.start < a.end]


def run_overlaps(runs: Iterable[dg.DagsterRun], instance: dg.DagsterInstance) -> int:
    """How many pairs of these runs were in progress at the same moment."""
    records = {
        r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=[r.run_id for r in runs]))
    }
    windows = [(_ts(rec.start_time), _ts(rec.end_time)) for rec in records.values() if rec.start_time and rec.end_time]
    return sum(1 for i, a in enumerate(windows) for b in windows[i + 1 :] if a[0] < b[1] and b[0] < a[1])


def _ts(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def partition_of(run: dg.DagsterRun) -> str:
    """A run's one partition: its partition tag, or the one-partition range a backfill run carries."""
    if "dagster/partition" in run.tags:
        return run.tags["dagster/partition"]
    start, end = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
    assert start == end, (start, end)
    return start
