"""Parquet and LanceDB on an S3-compatible server (moto, 127.0.0.1), written by two processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reid_pipeline_tests.conftest import place

DAYS = ("2024-05-01", "2024-05-02")


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ALLOW_HTTP": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import boto3

    boto3.client("s3").create_bucket(Bucket="reid")
    yield env
    server.stop()


@pytest.mark.slow
def test_two_days_written_in_parallel_to_object_storage(
    s3_endpoint: dict[str, str], vtest_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.launch import run_identity_day
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline.lib.storage.parquet import ParquetStore
    from reid_pipeline.settings import load_settings

    raw = tmp_path / "raw"
    for day in DAYS:
        place(raw, day, "gate", vtest_clip)
    settings_env = {
        "REID_STORAGE__DATA_ROOT": "s3://reid/pipeline",
        "REID_STORAGE__RAW_ROOT": str(raw),
        "REID_STORAGE__LOCAL_DIR": str(tmp_path / "local"),
        "REID_DETECTION__PROFILE": "offline",
        "REID_DETECTION__OFFLINE": "true",
        "REID_EMBEDDING__PROFILE": "offline",
        "REID_EMBEDDING__OFFLINE": "true",
    }
    workers = []
    for day in DAYS:  # each process has its own Dagster home; both write the same bucket and LanceDB tables
        env = {**os.environ, **s3_endpoint, **settings_env, "DAGSTER_HOME": str(tmp_path / f"home-{day}")}
        Path(env["DAGSTER_HOME"]).mkdir()
        command = [sys.executable, "-m", "reid_pipeline_tests.parallel_day_worker", day]
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [w.communicate(timeout=400)[0].decode(errors="replace") for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]

    for key, value in settings_env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    parquet = ParquetStore(settings.storage.data_root)
    store = IdentityStore("s3://reid/pipeline/lancedb", ann_min_rows=100_000)
    for day in DAYS:  # nothing lost, nothing twice: one appearance per pooled tracklet vector, per day
        vectors = parquet.read("embeddings", {"date": day, "camera": "gate"}, columns=["embedding_id", "kind"])
        pooled = sorted(r["embedding_id"] for r in vectors.to_pylist() if r["kind"] == "tracklet")
        appearances = sorted(r["tracklet_id"] for r in store.rows("appearances", f"date = '{day}'", ["tracklet_id"]))
        assert pooled and appearances == pooled
        members = [
            t for r in store.rows("daily_entities", f"date = '{day}'", ["tracklet_ids"]) for t in r["tracklet_ids"]
        ]
        assert sorted(members) == pooled

    # The global relink runs one at a time (its pool), then timelines and reports land in the bucket too.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home-final"))
    (tmp_path / "home-final").mkdir()
    defs = build_definitions(settings)
    for day in DAYS:
        assert run_identity_day(defs, settings, day, log=lambda _line: None).success
    timelines = store.rows("entity_timelines", columns=["entity_id", "date"])
    assert {r["date"] for r in timelines} == set(DAYS)
    assert len(store.rows("entity_members")) == sum(len(store.rows("appearances", f"date = '{d}'")) for d in DAYS)
    assert parquet.fs.get_file_info(f"{parquet.base}/reports/{DAYS[1]}.html").size > 1000
