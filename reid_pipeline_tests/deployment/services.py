"""Services of a deployment, each a real process bound to 127.0.0.1: Postgres, Redis, Celery workers, the Dagster
daemon and webserver. Tools that are not installed are reported by ``missing_tools``, so the tests can skip.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from glob import glob
from pathlib import Path

from reid_pipeline_tests.browser import CHROMIUM

PYTHON_PACKAGES = {
    "dagster_postgres": "dagster-postgres",
    "dagster_celery": "dagster-celery",
    "redis": "redis",
    "playwright": "playwright",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (``/usr/lib/postgresql/<version>/bin``)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0]))
    return Path(found[-1]).parent if found else None


def missing_tools() -> list[str]:
    """What a deployment test needs and this machine lacks, each with how to install it."""
    missing = []
    if postgres_bin() is None:
        missing.append("PostgreSQL server (apt-get install -y postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install -y redis-server)")
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    for module, package in PYTHON_PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            missing.append(f"Python package {package} (pip install -e '.[dev]')")
    return missing


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"gave up after {timeout_s:.0f} s waiting for {what}")


class Service:
    """One long-running process in its own process group, its output in a log file."""

    def __init__(self, name: str, command: Sequence[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.name, self.command, self.log = name, list(command), log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=cwd, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if not self.alive():
            tail = "\n".join(self.output().splitlines()[-40:])
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; end of {self.log}:\n{tail}")

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to the whole group (children included), SIGKILL after ``timeout_s``."""
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log_file.close()


class Postgres:
    """A throwaway cluster in a temporary folder (``initdb`` + ``pg_ctl``), trust auth on 127.0.0.1 only.

    PostgreSQL refuses to run as root, so under root the cluster belongs to Debian's ``postgres`` user (or
    ``nobody``); the folder lives directly under the system temp dir, which that user can reach.
    """

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir, self.port = bin_dir, port
        self.root = Path(tempfile.mkdtemp(prefix="reid-postgres-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = next(u for u in ("postgres", "nobody") if _user_exists(u))
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://dagster@127.0.0.1:{self.port}/dagster"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]], user=self.user, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "dagster", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "dagster", "dagster")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def start_redis(port: int, folder: Path, env: dict[str, str], cwd: Path) -> Service:
    """Redis without persistence: the Celery broker and result backend."""
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder)]
    service = Service("redis", command, folder / "redis.log", env, cwd)
    wait_until(lambda: _answers(port), 30, "redis-server")
    return service


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found
