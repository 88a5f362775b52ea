"""Hooks that hand a finished step's freed memory back to the system (``release_memory``), whether the step
succeeded or failed: in a run executed in one process the next step starts from what is really in use."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.lib.runtime.memory import release_memory


@dg.success_hook(name="release_memory_after_step")
def release_after_success(_context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_after_failed_step")
def release_after_failure(_context: dg.HookContext) -> None:
    release_memory()


RELEASE_MEMORY_HOOKS = {release_after_success, release_after_failure}
