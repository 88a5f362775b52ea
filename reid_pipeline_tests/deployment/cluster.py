"""A whole deployment as the README's recipe runs it: Postgres-backed instance written by ``reid-pipeline deploy
instance``, Redis, Celery workers, ``dagster-daemon`` and ``dagster-webserver``, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import dagster as dg

from reid_pipeline_tests.deployment.services import (
    Postgres,
    Service,
    free_port,
    postgres_bin,
    start_redis,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REPOSITORY_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"


class Deployment:
    """Start with ``start()``, stop with ``stop()`` (everything it started, in reverse order)."""

    def __init__(self, folder: Path, settings_env: dict[str, str], workers: int = 2) -> None:
        self.folder, self.home = folder, folder / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.n_workers = workers
        self.redis_port, self.web_port = free_port(), free_port()
        pg = postgres_bin()
        assert pg is not None
        self.postgres = Postgres(pg, free_port())
        broker = f"redis://127.0.0.1:{self.redis_port}"
        self.broker, self.backend = f"{broker}/0", f"{broker}/1"
        self.env = {
            **os.environ,
            **settings_env,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "PYTHONPATH": str(REPO),
            "REID_OPERATIONS__EXECUTOR": "celery",
            "REID_OPERATIONS__CELERY_BROKER": self.broker,
            "REID_OPERATIONS__CELERY_BACKEND": self.backend,
        }
        self.services: list[Service] = []
        self.workers: list[Service] = []
        self._instance: dg.DagsterInstance | None = None
        self.location = self.repository = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        from reid_pipeline.cli import main

        self.postgres.start()
        # The recipe's first step: the production dagster.yaml, written by the product's own command.
        assert main(["deploy", "instance", "--postgres-url", self.postgres.url, "--dagster-home", str(self.home)]) == 0
        self.instance()  # creates the schema once, before several processes race to
        self.services.append(start_redis(self.redis_port, self.folder, self.env, REPO))
        for index in range(self.n_workers):
            self.start_worker(index)
        self.services.append(self._service("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]))
        web = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.web_port)]
        self.services.append(self._service("webserver", web))
        wait_until(self._location_loaded, 240, "the webserver to load the code location", interval_s=2)
        for worker in self.workers:
            wait_until(lambda w=worker: " ready." in w.output(), 120, f"{worker.name} to be ready")  # type: ignore[misc]

    def _service(self, name: str, command: list[str]) -> Service:
        return Service(name, command, self.folder / f"{name}.log", self.env, REPO)

    def start_worker(self, index: int) -> Service:
        """A Celery worker with one process, listening on Dagster's queue (as `dagster-celery worker start`)."""
        command = [str(BIN / "celery"), "-A", "dagster_celery.app", "-b", self.broker, "--result-backend"]
        command += [self.backend, "worker", "-Q", "dagster", "-c", "1", "--prefetch-multiplier=1"]
        command += ["-n", f"worker{index}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
        worker = self._service(f"worker{index}", command)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for service in reversed([*self.workers, *self.services]):
            service.stop()
        if self._instance is not None:
            self._instance.dispose()
        self.postgres.stop()

    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def check_alive(self) -> None:
        for service in self.services:
            service.check_alive()

    # GraphQL: what the UI sends.
    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:  # GraphQL errors come back with status 4xx/5xx and a JSON body
            raise RuntimeError(f"GraphQL answered {exc.code}: {exc.read().decode(errors='replace')[:2000]}") from exc
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return dict(answer["data"])

    def _location_loaded(self) -> bool:
        self.check_alive()
        try:
            nodes = self.graphql(REPOSITORY_QUERY)["repositoriesOrError"].get("nodes") or []
        except OSError:
            return False
        if nodes:
            self.repository, self.location = nodes[0]["name"], nodes[0]["location"]["name"]
        return bool(nodes)

    def selector(self, **named: str) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository, **named}

    def wait_for_runs(self, run_ids: list[str], timeout_s: float) -> list[dg.DagsterRun]:
        """The runs once every one of them has finished (success, failure or cancellation)."""
        done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

        def finished() -> bool:
            self.check_alive()
            runs = self.instance().get_runs(dg.RunsFilter(run_ids=run_ids))
            return len(runs) == len(run_ids) and all(r.status in done for r in runs)

        wait_until(finished, timeout_s, f"runs {run_ids}", interval_s=2)
        return list(self.instance().get_runs(dg.RunsFilter(run_ids=run_ids)))
