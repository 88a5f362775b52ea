"""Batches that shrink by themselves when the accelerator runs out of memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA / MPS / CPU allocator failures, whichever class the torch build raises them as."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, (RuntimeError, MemoryError)) and "out of memory" in str(exc).lower()


class AdaptiveBatcher:
    """Runs a function over items in batches of at most ``batch_size``.

    On an out-of-memory error the batch is split in half and retried, down to single items; the
    smaller size is then kept for the rest of the run, so one failure costs one retry, not one per batch.
    ``on_shrink`` hears about each reduction (the asset logs it).
    """

    def __init__(
        self,
        batch_size: int,
        on_shrink: Callable[[int, int], None] | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.shrinks = 0
        self._on_shrink = on_shrink
        self._release = release

    def run(self, items: Sequence[T], fn: Callable[[Sequence[T]], list[R]]) -> list[R]:
        """``fn`` applied to consecutive slices of ``items``; results concatenated in order."""
        out: list[R] = []
        start = 0
        while start < len(items):
            chunk = items[start : start + self.batch_size]
            try:
                out.extend(fn(chunk))
            except Exception as exc:
                if not is_out_of_memory(exc) or len(chunk) == 1:
                    raise
                self._shrink(len(chunk))
                continue
            start += len(chunk)
        return out

    def _shrink(self, failed: int) -> None:
        new = max(1, failed // 2)
        if self._release is not None:
            self._release()  # hand cached blocks back before the retry
        if self._on_shrink is not None:
            self._on_shrink(failed, new)
        self.batch_size = new
        self.shrinks += 1
