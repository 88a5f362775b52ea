"""The production dagster.yaml: what it holds, that Dagster accepts it, and the command that writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reid_pipeline.lib.deployment import POOLS, InstanceProfile, instance_config, write_instance


def test_instance_holds_the_production_profile() -> None:
    config = instance_config(InstanceProfile("postgresql://dagster:pw@db:5432/dagster", max_concurrent_runs=6))
    assert config["storage"] == {"postgres": {"postgres_url": "postgresql+psycopg2://dagster:pw@db:5432/dagster"}}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 6
    assert config["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}
    assert POOLS == {"gpu": 1, "identity_link": 1}
    assert config["run_retries"] == {"enabled": True, "max_retries": 2}


def test_dagster_accepts_the_written_file(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    write_instance(tmp_path, InstanceProfile("env:DAGSTER_PG_URL"))
    config, _custom_class = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert config["concurrency"]["pools"]["default_limit"] == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/dagster", "expected postgresql://"),
        ("env:not a name", "environment variable name"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstanceProfile(url)


def test_command_writes_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reid_pipeline.cli import main

    args = ["deploy", "instance", "--postgres-url", "postgresql://u@127.0.0.1:5432/d", "--dagster-home", str(tmp_path)]
    assert main([*args, "--max-concurrent-runs", "3"]) == 0
    written = yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    assert written["concurrency"]["runs"]["max_concurrent_runs"] == 3
    assert main(args) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
