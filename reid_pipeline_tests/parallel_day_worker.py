"""Test helper run as a separate process: one day's camera-day runs, then that day's LanceDB per-day assets.

Settings come from the environment (``REID_*``), so several of these can write the same stores at once.
Usage: ``python -m reid_pipeline_tests.parallel_day_worker YYYY-MM-DD``.
"""

from __future__ import annotations

import sys

import dagster as dg

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.launch import dagster_instance, run_camera_days
from reid_pipeline.settings import load_settings


def main(day: str) -> int:
    settings = load_settings()
    defs = build_definitions(settings)
    runs = run_camera_days(defs, settings, day, log=lambda _line: None)
    per_day = dg.define_asset_job("per_day", selection=dg.AssetSelection.assets("appearances", "daily_entities"))
    job = dg.Definitions(
        assets=list(defs.assets or []),  # type: ignore[arg-type]
        asset_checks=list(defs.asset_checks or []),  # type: ignore[arg-type]
        jobs=[per_day],
        resources=defs.resources,
    ).resolve_job_def("per_day")
    result = job.execute_in_process(partition_key=day, instance=dagster_instance(settings.storage.data_root))
    return 0 if all(r.success for r in runs) and result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
