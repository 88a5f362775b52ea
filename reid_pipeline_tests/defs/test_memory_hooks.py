"""Every job hands each finished step's freed memory back to the system, after a failure too."""

from __future__ import annotations

import dagster as dg
import pytest

from reid_pipeline.definitions import build_definitions
from reid_pipeline.defs.memory_hooks import RELEASE_MEMORY_HOOKS
from reid_pipeline.settings import load_settings


@pytest.mark.parametrize("job", ["camera_day_job", "identity_job", "relink_job"])
def test_jobs_release_memory_after_every_step(job: str) -> None:
    hooks = build_definitions(load_settings()).resolve_job_def(job).hook_defs
    assert {hook.name for hook in RELEASE_MEMORY_HOOKS} <= {hook.name for hook in hooks}


def test_the_hooks_run_after_a_step_that_fails_and_one_that_succeeds() -> None:
    @dg.asset
    def fine() -> int:
        return 1

    @dg.asset(deps=[fine])
    def broken() -> None:
        raise RuntimeError("boom")

    job = dg.define_asset_job("two_steps", hooks=RELEASE_MEMORY_HOOKS)
    defs = dg.Definitions(assets=[fine, broken], jobs=[job])
    result = defs.resolve_job_def("two_steps").execute_in_process(raise_on_error=False)
    completed = [e.step_key for e in result.all_events if e.event_type_value == "HOOK_COMPLETED"]
    assert sorted(completed) == ["broken", "fine"]


def test_memory_is_released_only_after_the_process_grew(monkeypatch: pytest.MonkeyPatch) -> None:
    from reid_pipeline.lib.runtime import memory

    sizes = iter([1000 << 20, 900 << 20, 920 << 20, 1000 << 20, 950 << 20])
    monkeypatch.setattr(memory, "resident_bytes", lambda: next(sizes))
    monkeypatch.setattr(memory, "_resident_after_release", [0])
    released: list[bool] = []
    monkeypatch.setattr(memory, "release_memory", lambda: released.append(True))
    assert memory.release_memory_if_grown()  # 1000 MB, nothing released yet: released, down to 900
    assert not memory.release_memory_if_grown()  # 920: only 20 MB more
    assert memory.release_memory_if_grown()  # 1000: 100 MB more
    assert released == [True, True]
