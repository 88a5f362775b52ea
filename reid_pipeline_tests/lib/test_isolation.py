from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator

import pytest

from reid_pipeline.lib.footage.isolation import Session, WorkerDied, death_reason


def _setup() -> dict[str, int]:
    return {"pid": os.getpid()}


def _work(state: dict[str, int], job: str) -> Iterator[object]:
    """Jobs named after what they do: count to three, crash natively, abort, raise."""
    if job == "count":
        yield from (1, 2, 3)
    elif job == "pid":
        yield state["pid"]
    elif job == "segfault":
        yield "before"
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    elif job == "abort":
        os.abort()
    elif job == "raise":
        raise KeyError("no such thing")


def _bad_setup() -> None:
    raise ValueError("model file missing")


def test_results_stream_back_from_a_worker_process() -> None:
    with Session(_setup, _work) as session:
        assert list(session.run("count")) == [1, 2, 3]
        (pid,) = session.run("pid")
        assert pid != os.getpid()


def test_a_native_crash_fails_that_job_and_the_next_job_gets_a_fresh_worker() -> None:
    with Session(_setup, _work) as session:
        (first_pid,) = session.run("pid")
        seen = []
        with pytest.raises(WorkerDied, match="SIGSEGV"):
            for item in session.run("segfault"):
                seen.append(item)
        assert seen == ["before"]
        with pytest.raises(WorkerDied, match="SIGABRT"):
            list(session.run("abort"))
        (second_pid,) = session.run("pid")
        assert second_pid != first_pid
        assert list(session.run("count")) == [1, 2, 3]


def test_python_exceptions_keep_their_type_and_the_worker_lives_on() -> None:
    with Session(_setup, _work) as session:
        (pid,) = session.run("pid")
        with pytest.raises(KeyError, match="no such thing") as raised:
            list(session.run("raise"))
        assert "worker process" in "".join(getattr(raised.value, "__notes__", []))
        assert list(session.run("pid")) == [pid]


def test_a_failing_setup_raises_in_the_parent() -> None:
    with Session(_bad_setup, _work) as session, pytest.raises(ValueError, match="model file missing"):
        list(session.run("count"))


def test_workers_are_reused_across_sessions() -> None:
    with Session(_setup, _work) as session:
        (first,) = session.run("pid")
    with Session(_setup, _work) as session:
        (second,) = session.run("pid")
    assert first == second


def test_a_reader_that_stops_early_does_not_confuse_the_next_job() -> None:
    with Session(_setup, _work) as session:
        for _item in session.run("count"):
            break
        assert list(session.run("count")) == [1, 2, 3]


def test_in_process_mode_runs_the_same_calls_here() -> None:
    with Session(_setup, _work, isolated=False) as session:
        assert list(session.run("pid")) == [os.getpid()]


def test_death_reasons_read_well() -> None:
    assert death_reason(-11) == "killed by SIGSEGV (segmentation fault)"
    assert death_reason(-9).startswith("killed by SIGKILL")
    assert death_reason(3) == "exited with status 3"


def test_an_idle_worker_exits_after_the_idle_timeout_and_a_later_session_gets_a_fresh_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reuse pays only when the next session comes soon; a worker left idle longer exits, so a gigabyte of
    detection libraries does not sit through the rest of a camera-day."""
    import time

    from reid_pipeline.lib.footage import isolation

    monkeypatch.setattr(isolation, "_POOL", isolation._Pool(idle_timeout_s=0.5))
    with Session(_setup, _work) as session:
        (first,) = session.run("pid")
    with Session(_setup, _work) as session:  # at once: the same worker
        (again,) = session.run("pid")
    assert again == first and isolation._POOL.idle == 1

    def gone() -> bool:
        try:
            os.kill(first, 0)
        except ProcessLookupError:
            return True
        return False

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the idle worker's process exited"
    assert isolation._POOL.idle == 0
    with Session(_setup, _work) as session:
        (later,) = session.run("pid")
    assert later != first
    isolation._POOL.shutdown()
