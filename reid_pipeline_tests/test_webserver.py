"""The code location loads in the real Dagster webserver, bound to loopback only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUERY = '{"query": "{ assetNodes { assetKey { path } } }"}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_webserver_serves_the_assets(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        body = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=QUERY.encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.load(response)
                if body.get("data", {}).get("assetNodes"):
                    break
            except OSError:
                pass
            time.sleep(1)
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else "webserver exited"
        assert body is not None
        keys = {"/".join(node["assetKey"]["path"]) for node in body["data"]["assetNodes"]}
        assert {"footage_manifest", "detections", "crops", "tracklets"} <= keys
    finally:
        server.terminate()
        server.wait(timeout=30)
