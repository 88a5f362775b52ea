"""Run risky per-file work in a worker process, so a native crash ends that file, not the run.

Decoders (FFmpeg, libjpeg, libtiff ...) and detectors (OpenCV, torch) are native code: a bad input
can make them segfault or abort, which no ``try`` catches. A :class:`Session` runs each job (one
file) in a child process and streams its results back. When the child dies mid-job, the job raises
:class:`WorkerDied` naming the signal; the next job starts a fresh child. A Python exception in
the child is re-raised in the parent as it was, so a bug still fails loudly.

Workers are plain ``python -m reid_pipeline.lib.footage.isolation`` processes talking over a socket pair.
That avoids both ``fork`` (unsafe once torch or OpenMP threads exist in the parent) and the
re-import of the parent's ``__main__`` that ``spawn`` and ``forkserver`` do. A worker outlives its
session: idle workers are kept (with their imports, not their models) for the next session, so a
run of many camera-days pays the interpreter start and the library imports once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from reid_pipeline.lib.runtime.memory import release_memory

S = TypeVar("S")
J = TypeVar("J")
R = TypeVar("R")

MAX_IDLE_WORKERS = 2
IDLE_TIMEOUT_S = 10.0  # how long an idle worker waits for the next session before it exits


class WorkerDied(Exception):
    """The worker process ended (crashed, was killed) while it worked on a job."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def death_reason(returncode: int | None) -> str:
    """A person's words for how a process ended: ``killed by SIGSEGV (segmentation fault)``."""
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"killed by signal {-returncode}"
        described = signal.strsignal(sig) or ""
        return f"killed by {sig.name} ({described.lower()})" if described else f"killed by {sig.name}"
    return f"exited with status {returncode}"


class _Worker:
    """One child process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        # The child must import what the parent imports (tests put the checkout first on sys.path).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reid_pipeline.lib.footage.isolation", str(child_end.fileno())],
            pass_fds=[child_end.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        child_end.close()
        self.conn = Connection(parent_end.detach())
        self.opened: object = None  # the setup the child holds state for
        self.idle_spells = 0  # times it was handed back to the pool

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError as exc:  # broken pipe: the child is gone
            raise WorkerDied(self.reason()) from exc

    def recv(self) -> tuple[Any, ...]:
        try:
            message: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(self.reason()) from exc
        return message

    def reason(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        return death_reason(code)

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        """Ask the child to exit (it also exits when the socket closes), then make sure it did."""
        try:
            self.conn.send(("exit",))
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class _Pool:
    """Idle workers kept between sessions, each for ``IDLE_TIMEOUT_S`` at most; each session takes one for
    itself (thread-safe).

    The timeout keeps the saving where it pays, a session that follows at once (the manifest's probing, then
    detection; the files of several camera-days in a row), without a worker of a gigabyte sitting idle through
    the crops, embeddings and identity steps that follow detection in the same process.
    """

    def __init__(self, idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.idle_timeout_s = idle_timeout_s

    def take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < MAX_IDLE_WORKERS:
                self._idle.append(worker)
                worker.idle_spells += 1  # a timer of an earlier idle spell must not end this one early
                timer = threading.Timer(self.idle_timeout_s, self._expire, [worker, worker.idle_spells])
                timer.daemon = True
                timer.start()
                return
        worker.stop()

    def _expire(self, worker: _Worker, spell: int) -> None:
        """Stop ``worker`` if it is still in the same idle spell (a session that took it meanwhile keeps it)."""
        with self._lock:
            if worker not in self._idle or worker.idle_spells != spell:
                return
            self._idle.remove(worker)
        worker.stop()

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


_POOL = _Pool()
atexit.register(_POOL.shutdown)


class Session(Generic[S, J, R]):
    """Jobs run one at a time in a worker process that holds ``setup()``'s result as its state.

    ``setup`` and ``work`` must be picklable (module-level functions or ``functools.partial`` of
    them): they are sent to the child. ``work(state, job)`` yields the results of one job.
    ``isolated=False`` runs the same calls in this process (no protection, no overhead).
    """

    def __init__(self, setup: Callable[[], S], work: Callable[[S, J], Iterable[R]], isolated: bool = True) -> None:
        self.setup = setup
        self.work = work
        self.isolated = isolated
        self._worker: _Worker | None = None
        self._local: tuple[S] | None = None

    def __enter__(self) -> Session[S, J, R]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, job: J) -> Iterator[R]:
        """Results of ``job`` as the worker produces them; :class:`WorkerDied` if the worker dies."""
        if not self.isolated:
            if self._local is None:
                self._local = (self.setup(),)
            yield from self.work(self._local[0], job)
            return
        worker = self._ready_worker()
        worker.send(("job", job))
        finished = False
        try:
            while True:
                message = worker.recv()
                if message[0] == "item":
                    yield message[1]
                elif message[0] == "done":
                    finished = True
                    return
                else:
                    finished = True  # the child is idle again after reporting the exception
                    _reraise(message[1])
        except WorkerDied:
            finished = True
            self._discard()
            raise
        finally:
            if not finished:
                # The caller stopped reading mid-job: the child is still sending; start afresh next time.
                self._discard()

    def close(self) -> None:
        """Drop the worker's state (models) and hand the process back for the next session."""
        self._local = None
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            worker.send(("close",))
            worker.recv()
        except WorkerDied:
            worker.kill()
            return
        worker.opened = None
        _POOL.give_back(worker)

    def _ready_worker(self) -> _Worker:
        if self._worker is None or not self._worker.alive():
            self._discard()
            self._worker = _POOL.take()
        worker = self._worker
        if worker.opened is not self.setup:
            worker.send(("open", self.setup, self.work))
            message = worker.recv()
            if message[0] == "raise":
                self._worker = None
                _POOL.give_back(worker)
                _reraise(message[1])
            worker.opened = self.setup
        return worker

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None


def _reraise(payload: tuple[bytes | None, str]) -> None:
    """Raise the child's exception here: the same type when it survives pickling, else a RuntimeError."""
    pickled, text = payload
    try:
        exc = pickle.loads(pickled) if pickled is not None else None
    except Exception:
        exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"in the worker process:\n{text}")
    raise exc


def _portable(exc: BaseException) -> tuple[bytes | None, str]:
    """The exception pickled (None if it will not pickle), and its traceback as text."""
    text = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"raised in the worker process:\n{text}")
        return pickle.dumps(exc), text
    except Exception:
        return None, text


def serve(conn: Connection) -> None:
    """The worker's loop: open (build state), run jobs (stream results), close (drop state), exit."""
    state: Any = None
    work: Callable[[Any, Any], Iterable[Any]] | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        kind = message[0]
        if kind == "open":
            try:
                state, work = message[1](), message[2]
                conn.send(("ready",))
            except Exception as exc:
                conn.send(("raise", _portable(exc)))
        elif kind == "job":
            try:
                assert work is not None, "a job before open"
                for item in work(state, message[1]):
                    conn.send(("item", item))
                conn.send(("done",))
            except Exception as exc:
                conn.send(("raise", _portable(exc)))
        elif kind == "close":
            state = work = None
            # An idle worker keeps its imports, not what the session freed: a detection worker held 1.1 GB
            # while the rest of the camera-day ran, most of it the freed model and frames.
            release_memory()
            _release_gpu_memory()
            conn.send(("closed",))
        else:
            return


def _release_gpu_memory() -> None:
    """Give cached GPU memory back after a session, so an idle worker holds none."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
