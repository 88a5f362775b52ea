"""Figures of ``reid-pipeline bench pipeline``: per stage wall time, real-time factor, peak RSS and rows out.

The real-time factor is hours of footage per hour of compute (``footage_s / seconds``): 10 means an hour of
one camera is processed in 6 minutes. Stage rows come from the Dagster event log (step start to step end);
job rows add what lies between steps (run start, input loading, checks' bookkeeping), and the end-to-end
row is the sum of the jobs. Peak RSS is the whole process tree's, worker processes included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from reid_pipeline.lib.bench.memory import RssSampler

MB = 1024 * 1024


@dataclass
class StepSpan:
    """One step of a run: when it ran, whether it succeeded, and the rows out per asset it materialized."""

    step_key: str
    start: float
    end: float
    success: bool
    rows: dict[str, int] = field(default_factory=dict)
    check: bool = False  # an asset check's step, not an asset's

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class JobSpan:
    """One job run, timed around its launch, with its steps."""

    job: str
    start: float
    end: float
    success: bool
    steps: list[StepSpan]
    error: str | None = None


def _factor(footage_s: float, seconds: float) -> float:
    return round(footage_s / seconds, 2) if seconds > 0 else 0.0


def _figures(footage_s: float, start: float, end: float, memory: RssSampler) -> dict[str, float]:
    return {
        "seconds": round(end - start, 2),
        "realtime_factor": _factor(footage_s, end - start),
        "cpu_s": round(memory.cpu_between(start, end), 2),
        "peak_rss_mb": round(memory.peak_between(start, end) / MB, 1),
    }


def _stage_rows(footage_s: float, job: JobSpan, memory: RssSampler) -> list[dict[str, object]]:
    """One row per asset step, in the order they ran, then one for all the job's asset checks together."""
    rows: list[dict[str, object]] = [
        {"job": job.job, "stage": step.step_key, **_figures(footage_s, step.start, step.end, memory), "rows": step.rows}
        for step in job.steps
        if not step.check
    ]
    checks = [step for step in job.steps if step.check]
    if checks:
        seconds = sum(step.seconds for step in checks)
        rows.append(
            {
                "job": job.job,
                "stage": f"asset checks ({len(checks)})",
                "seconds": round(seconds, 2),
                "realtime_factor": _factor(footage_s, seconds),
                "cpu_s": round(sum(memory.cpu_between(s.start, s.end) for s in checks), 2),
                "peak_rss_mb": round(max(memory.peak_between(s.start, s.end) for s in checks) / MB, 1),
                "rows": {},
            }
        )
    return rows


def pipeline_report(
    footage_s: float, jobs: list[JobSpan], memory: RssSampler, context: dict[str, object]
) -> dict[str, object]:
    """The benchmark's figures as plain data (what ``--json`` prints)."""
    stages = [row for job in jobs for row in _stage_rows(footage_s, job, memory)]
    job_rows = [
        {"job": job.job, "success": job.success, "error": job.error, **_figures(footage_s, job.start, job.end, memory)}
        for job in jobs
    ]
    total_s = sum(job.end - job.start for job in jobs)
    cpu_s = sum(memory.cpu_between(job.start, job.end) for job in jobs)
    return {
        **context,
        "footage_hours": round(footage_s / 3600, 3),
        "cpus": os.cpu_count(),
        "stages": stages,
        "jobs": job_rows,
        "end_to_end": {
            "seconds": round(total_s, 2),
            "realtime_factor": _factor(footage_s, total_s),
            "cpu_s": round(cpu_s, 2),
            # What the footage would take with every core of this machine to itself: CPU time over the cores.
            "realtime_factor_cpu_bound": _factor(footage_s, cpu_s / (os.cpu_count() or 1)),
            "peak_rss_mb": round(memory.peak / MB, 1),
            "success": all(job.success for job in jobs),
        },
    }


def format_report(report: dict[str, object]) -> str:
    """The report as the table the command prints."""
    lines = [
        f"pipeline benchmark: {report['footage_hours']} h of footage ({report['source']}), profile {report['profile']}, "
        f"{report['cpus']} CPUs, load average {report['load_before']} before / {report['load_after']} after",
        f"{'job':<15} {'stage':<26} {'seconds':>8} {'x real time':>11} {'CPU s':>8} {'peak RSS MB':>11}  rows out",
    ]
    for stage in report["stages"]:  # type: ignore[attr-defined]
        rows = ", ".join(f"{name} {count}" for name, count in stage["rows"].items())
        lines.append(
            f"{stage['job']:<15} {stage['stage']:<26} {stage['seconds']:>8.1f} {stage['realtime_factor']:>11.1f}"
            f" {stage['cpu_s']:>8.1f} {stage['peak_rss_mb']:>11.0f}  {rows}"
        )
    for job in report["jobs"]:  # type: ignore[attr-defined]
        failed = "" if job["success"] else f"  FAILED: {job['error']}"
        lines.append(
            f"{job['job']:<15} {'(whole job)':<26} {job['seconds']:>8.1f} {job['realtime_factor']:>11.1f}"
            f" {job['cpu_s']:>8.1f} {job['peak_rss_mb']:>11.0f}{failed}"
        )
    end = report["end_to_end"]
    lines.append(
        f"{'end to end':<42} {end['seconds']:>8.1f} {end['realtime_factor']:>11.1f} {end['cpu_s']:>8.1f}"  # type: ignore[index]
        f" {end['peak_rss_mb']:>11.0f}"  # type: ignore[index]
    )
    lines.append(
        f"CPU-bound estimate (CPU seconds over {report['cpus']} cores, as on an idle machine): "
        f"{end['realtime_factor_cpu_bound']}x real time"  # type: ignore[index]
    )
    lines.append(
        f"footage written in {report['build_footage_s']} s (not counted). Wall times on a shared machine vary with "
        "its load: compare runs made under similar load."
    )
    return "\n".join(lines)
