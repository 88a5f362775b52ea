"""The executor that runs a run's steps: Dagster's default, or Celery workers for a deployment of several machines."""

from __future__ import annotations

import dagster as dg

from reid_pipeline.settings import OperationsSettings


def build_executor(ops: OperationsSettings) -> dg.ExecutorDefinition | None:
    """``None`` keeps Dagster's default (multiprocess when launched, in-process in tests); ``celery`` hands every
    step to a Celery worker listening on ``ops.celery_broker``.

    Steps only exchange data through storage (Parquet, LanceDB), so a step may run on any worker that sees the
    same ``data_root`` and settings. Pool limits still hold: the run claims a pool slot before it submits a step.
    """
    if ops.executor == "default":
        return None
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise ImportError(
            "operations.executor = 'celery' needs dagster-celery: pip install 'reid_pipeline[deploy]' "
            "(or set REID_OPERATIONS__EXECUTOR=default)"
        ) from exc
    return celery_executor.configured(
        {"broker": ops.celery_broker, "backend": ops.celery_backend}, name="celery_executor"
    )
