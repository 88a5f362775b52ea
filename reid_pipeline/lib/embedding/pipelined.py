"""Embed many crops: JPEG decoding and preprocessing on CPU threads, overlapped with the model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reid_pipeline.lib.embedding.batching import AdaptiveBatcher
from reid_pipeline.lib.embedding.images import decode_jpeg
from reid_pipeline.lib.embedding.types import Embedder
from reid_pipeline.lib.footage.sampling import batched, prefetch
from reid_pipeline.lib.runtime.cpu import usable_cores


@dataclass
class EmbedResult:
    """Vectors for the crops that decoded (``kept`` indexes into the input), and errors for the rest."""

    vectors: np.ndarray
    kept: list[int]
    errors: list[str] = field(default_factory=list)
    batch_size: int = 0
    shrinks: int = 0


def release_cached_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# From this many crops a forward pass, the model's layers are big enough to split over every core.
BATCH_FOR_ALL_CORES = 8


@contextmanager
def model_threads(device: str, workers: int, batch_size: int) -> Iterator[None]:
    """On a CPU, choose the model's intra-op threads by how much work one forward pass has.

    A batch of one crop is too small to split: torch's default thread per core, on top of the ``workers``
    decoding crops, made MobileNetV2 spend 32-39 ms of CPU per crop instead of 24 on 2 cores with 2 workers,
    and take longer too, so the model gets the cores the workers leave (at least 1). From
    ``BATCH_FOR_ALL_CORES`` crops on it gets every core: decoding is light next to the model and overlaps it.
    On 2 cores, batches of 16 with 2 model threads embedded a crop in 15 ms (MobileNetV2) and 21-25 ms
    (EfficientNet-lite0) against 21-26 and 32-37 ms at batch 1 on 1 thread (1 200 crops of the 1-hour
    ``bench pipeline`` day, 2 decode workers, alternated three times).
    """
    import torch

    if not device.startswith("cpu"):
        yield
        return
    before = torch.get_num_threads()
    cores = usable_cores()
    torch.set_num_threads(cores if batch_size >= BATCH_FOR_ALL_CORES else max(1, cores - workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def embed_jpegs(
    embedder: Embedder,
    jpegs: Sequence[bytes],
    names: Sequence[str],
    batch_size: int,
    workers: int,
    on_shrink: Callable[[int, int], None] | None = None,
) -> EmbedResult:
    """Unit vectors for ``jpegs`` (named by ``names`` in errors), in input order.

    Worker threads decode and preprocess the next window of crops while the model runs on the current
    one (PIL and torch release the GIL for the heavy parts). An unreadable crop is reported, not fatal.
    """
    import torch

    dims = embedder.dims  # loads the model here, before worker threads want its preprocessing
    batcher = AdaptiveBatcher(batch_size, on_shrink, release_cached_memory)
    window = max(batch_size, 32)
    errors: list[str] = []
    kept: list[int] = []
    chunks: list[np.ndarray] = []

    def prepare(index: int) -> tuple[int, torch.Tensor | None]:
        try:
            return index, embedder.preprocess(decode_jpeg(jpegs[index], names[index]))
        except ValueError as exc:
            errors.append(str(exc))
            return index, None

    def forward(tensors: Sequence[torch.Tensor]) -> list[Any]:
        return list(embedder.forward(torch.stack(list(tensors))))

    with (
        model_threads(embedder.device, workers, batch_size),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crop-decode") as pool,
    ):

        def windows() -> Iterator[list[tuple[int, torch.Tensor | None]]]:
            for indexes in batched(range(len(jpegs)), window):
                yield list(pool.map(prepare, indexes))

        for prepared in prefetch(windows(), depth=1):
            good = [(index, tensor) for index, tensor in prepared if tensor is not None]
            if not good:
                continue
            kept.extend(index for index, _ in good)
            chunks.append(np.stack(batcher.run([tensor for _, tensor in good], forward)))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dims), dtype=np.float32)
    return EmbedResult(vectors.astype(np.float32), kept, errors, batcher.batch_size, batcher.shrinks)
