"""Test helper: ``camera_day_job`` built from the environment's settings, importable by Dagster's child processes."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.definitions import build_definitions
from reid_pipeline.settings import load_settings


def camera_day_job() -> dg.JobDefinition:
    return build_definitions(load_settings()).resolve_job_def("camera_day_job")
