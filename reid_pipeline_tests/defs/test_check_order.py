"""Checks that read a table run after the step that writes it, whatever executor runs the steps in parallel."""

from __future__ import annotations

import pytest
from dagster._core.execution.api import create_execution_plan

from reid_pipeline.definitions import build_definitions
from reid_pipeline.settings import load_settings

# check step -> the asset steps whose Parquet tables it reads
READS = {
    "crops_crops_match_detections": {"crops", "detections"},
    "tracklets_tracklets_cover_detections": {"tracklets", "detections"},
    "embeddings_embeddings_have_owners": {"embeddings", "crops", "tracklets"},
    "attributes_attributes_have_tracklets": {"attributes", "tracklets"},
}


@pytest.mark.parametrize(("check", "tables"), sorted(READS.items()))
def test_check_runs_after_the_tables_it_reads(check: str, tables: set[str]) -> None:
    plan = create_execution_plan(build_definitions(load_settings()).resolve_job_def("camera_day_job"))

    def upstream(key: str) -> set[str]:
        step = plan.get_step_by_key(key)
        direct = {h.step_key for i in step.step_inputs for h in i.get_step_output_handle_dependencies()}
        return direct.union(*(upstream(k) for k in direct))

    assert tables <= upstream(check)
