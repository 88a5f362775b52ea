"""Hooks that hand a finished step's freed memory back to the system (``release_memory_if_grown``), whether
the step succeeded or failed: in a run executed in one process the next step starts from what is really in
use. Steps that left the process no larger (asset checks) skip it."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.lib.runtime.memory import release_memory_if_grown


@dg.success_hook(name="release_memory_after_step")
def release_after_success(_context: dg.HookContext) -> None:
    release_memory_if_grown()


@dg.failure_hook(name="release_memory_after_failed_step")
def release_after_failure(_context: dg.HookContext) -> None:
    release_memory_if_grown()


RELEASE_MEMORY_HOOKS = {release_after_success, release_after_failure}
