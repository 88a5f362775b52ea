"""The camera-day job under Dagster's multiprocess executor (every step in its own process) equals in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from reid_pipeline.defs.partitions import camera_day_key, cameras
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline.settings import Settings
from reid_pipeline_tests.conftest import place
from reid_pipeline_tests.multiprocess_job import camera_day_job

DAY = "2024-05-01"


@pytest.mark.slow
def test_multiprocess_executor_gives_the_same_tables(
    make_settings: Callable[..., Settings], vtest_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(detection={"profile": "offline", "offline": True})
    root = settings.storage.data_root
    place(Path(root) / "raw", DAY, "gate", vtest_clip)
    for key, value in {
        "REID_STORAGE__DATA_ROOT": root,
        "REID_DETECTION__PROFILE": "offline",
        "REID_DETECTION__OFFLINE": "true",
        "REID_EMBEDDING__PROFILE": "offline",
        "REID_EMBEDDING__OFFLINE": "true",
    }.items():
        monkeypatch.setenv(key, value)
    partition = camera_day_key(DAY, "gate")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(cameras.name, ["gate"])  # type: ignore[arg-type]
        in_process = camera_day_job().execute_in_process(partition_key=partition, instance=instance)
        assert in_process.success
        store = ParquetStore(root)
        expected = {
            a: store.read(a, {"date": DAY, "camera": "gate"}) for a in ("detections", "tracklets", "embeddings")
        }
        tags = {"dagster/partition": str(partition), "dagster/partition/date": DAY, "dagster/partition/camera": "gate"}
        result = dg.execute_job(
            dg.reconstructable(camera_day_job),
            instance=instance,
            tags=tags,
            run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
        )
        assert result.success
        steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
        processes = {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
        assert "embeddings" in steps and len(processes) == len(steps)  # one process per step
        for asset, table in expected.items():
            assert_same_table(store.read(asset, {"date": DAY, "camera": "gate"}), table, asset)


def assert_same_table(got: pa.Table, expected: pa.Table, asset: str) -> None:
    """Equal row for row; vectors to float tolerance. A busy CPU lets BLAS use fewer threads, which sums in
    another order: the last bits of a vector may differ between two processes, never anything else."""
    vectors = [name for name in ("vector",) if name in expected.column_names]
    assert got.drop_columns(vectors).equals(expected.drop_columns(vectors)), asset
    for name in vectors:
        np.testing.assert_allclose(
            np.asarray(got.column(name).to_pylist()), np.asarray(expected.column(name).to_pylist()), atol=1e-5
        )
