"""The production ``dagster.yaml``: runs, events and schedules in Postgres, runs queued, pools limited, retries on.

Plain data, no Dagster import: the file is written before any Dagster process starts, and the test that runs
a deployment reads the same profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Pools the assets declare (``pool=`` on the asset) and the limit each must have in a deployment:
# one model on a GPU at a time, one global relink at a time.
POOLS = {"gpu": 1, "identity_link": 1}
# Runs the identity sensor requests for one day must not overlap: each rewrites the day, and the last one
# requested (the one that saw every camera) has to finish last.
IDENTITY_TRIGGER = ("reid/trigger", "identity_after_camera_day")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InstanceProfile:
    """What differs between deployments.

    ``postgres_url`` is ``postgresql://user:password@host:port/database``, or ``env:NAME`` to have Dagster read
    it from the environment variable ``NAME`` at start (the password then stays out of the file; that URL must
    name the driver: ``postgresql+psycopg2://...``).
    """

    postgres_url: str
    max_concurrent_runs: int = 4
    max_retries: int = 2

    def __post_init__(self) -> None:
        url = self.postgres_url
        if url.startswith("env:"):
            if not _ENV_NAME.match(url[4:]):
                raise ValueError(f"--postgres-url {url!r}: after 'env:' comes an environment variable name")
        elif not url.startswith(("postgresql://", "postgres://", "postgresql+")):
            raise ValueError(
                f"--postgres-url {url!r}: expected postgresql://user:password@host:port/database or env:NAME"
            )
        if self.max_concurrent_runs < 1:
            raise ValueError(f"--max-concurrent-runs {self.max_concurrent_runs}: at least 1 run must be able to run")
        if self.max_retries < 0:
            raise ValueError(f"--max-retries {self.max_retries}: 0 (never) or more")

    def url_value(self) -> str | dict[str, str]:
        """The URL as ``dagster.yaml`` names it. SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, while
        dagster-postgres installs psycopg2, so a URL without a driver gets ``+psycopg2``; one read from the
        environment must name it itself."""
        url = self.postgres_url
        if url.startswith("env:"):
            return {"env": url[4:]}
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", url)


def instance_config(profile: InstanceProfile) -> dict[str, Any]:
    """The instance configuration as a mapping (what ``dagster.yaml`` holds)."""
    key, value = IDENTITY_TRIGGER
    return {
        # Run, event-log and schedule storage in one Postgres database (dagster-postgres).
        "storage": {"postgres": {"postgres_url": profile.url_value()}},
        # The daemon dequeues runs (schedules, sensors, backfills, the UI) within the limits below.
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": profile.max_concurrent_runs,
                "tag_concurrency_limits": [{"key": key, "value": value, "limit": 1}],
            },
            # Every pool the assets use is limited to 1 (POOLS); a step waits for its pool's slot, op by op.
            "pools": {"granularity": "op", "default_limit": max(POOLS.values())},
        },
        # Asset backfill runs carry no job tags, so the instance sets the retry count for them too.
        "run_retries": {"enabled": True, "max_retries": profile.max_retries},
        # Runs whose worker died while starting or cancelling are marked failed (and then retried). A step
        # whose Celery worker died never reports its end, so its pool slot is given back once its run has ended.
        "run_monitoring": {
            "enabled": True,
            "poll_interval_seconds": 30,
            "start_timeout_seconds": 180,
            "cancel_timeout_seconds": 180,
            "free_slots_after_run_end_seconds": 30,
        },
        "telemetry": {"enabled": False},
    }


def instance_yaml(profile: InstanceProfile) -> str:
    """``dagster.yaml`` text with a header saying how it was made."""
    header = (
        "# Production Dagster instance of reid_pipeline (written by `reid-pipeline deploy instance`).\n"
        "# Run the daemon, the webserver and Celery workers with DAGSTER_HOME set to this folder.\n"
    )
    return header + yaml.safe_dump(instance_config(profile), sort_keys=False)


def write_instance(dagster_home: Path, profile: InstanceProfile, overwrite: bool = False) -> Path:
    """Write ``dagster_home/dagster.yaml``; an existing file is kept unless ``overwrite``."""
    path = dagster_home / "dagster.yaml"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass --overwrite to replace it")
    dagster_home.mkdir(parents=True, exist_ok=True)
    path.write_text(instance_yaml(profile))
    return path
