"""Day partitions start on the settings' ``footage.start_date``, whichever settings build the definitions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.partitions import DATE_DIMENSION, split_camera_day
from reid_pipeline.defs.resources import StorageResource
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place


def _first_day(partitions: dg.PartitionsDefinition | None) -> str:
    if isinstance(partitions, dg.MultiPartitionsDefinition):
        partitions = partitions.get_partitions_def_for_dimension(DATE_DIMENSION)
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    return str(partitions.get_first_partition_key())


def test_build_definitions_takes_the_start_date_from_its_settings(
    make_settings: Callable[..., Settings], synthetic_clip: Path
) -> None:
    settings = make_settings(footage={"start_date": "2023-06-01"})
    defs = build_definitions(settings)

    graph = defs.resolve_asset_graph()
    partitioned = {str(key): graph.get(key).partitions_def for key in graph.get_all_asset_keys()}
    checks = {str(key): graph.get(key).partitions_def for key in graph.asset_check_keys}
    assert {_first_day(p) for p in [*partitioned.values(), *checks.values()] if p is not None} == {"2023-06-01"}
    assert sum(p is not None for p in checks.values()) >= 10, "the partitioned checks moved with their assets"

    # A day before the default start is a valid partition: the sensor asks for it, the jobs run it.
    place(Path(settings.storage.data_root) / "raw", "2023-06-02", "gate", synthetic_clip)
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(
        instance=instance, resources={"storage": StorageResource(data_root=settings.storage.data_root)}
    )
    result = defs.resolve_sensor_def("footage_sensor")(context)
    assert isinstance(result, dg.SensorResult)
    assert [split_camera_day(r.partition_key) for r in result.run_requests] == [("2023-06-02", "gate")]  # type: ignore[arg-type]
    assert (
        defs.resolve_job_def("identity_job").execute_in_process(partition_key="2023-06-02", instance=instance).success
    )


def test_the_partitions_module_reads_no_settings_at_import(tmp_path: Path) -> None:
    env = {**os.environ, "REID_SETTINGS": str(tmp_path / "missing.toml")}  # loading settings would raise
    code = "import reid_pipeline.defs.partitions"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
