"""Benchmark: a naive per-crop embedding loop vs the pipeline's batched, overlapped embedding.

Both arms run the same model on the same crops (tracked people from a video). The naive arm decodes,
preprocesses and embeds one crop at a time on one thread; the pipeline decodes and preprocesses on
worker threads while the model runs batches. On a GPU a third arm runs fp16 at the largest batch that
fits the memory budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from reid_pipeline.lib.embedding.batching import is_out_of_memory
from reid_pipeline.lib.embedding.images import decode_jpeg
from reid_pipeline.lib.embedding.pipelined import embed_jpegs
from reid_pipeline.lib.embedding.types import Embedder

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")


@dataclass(frozen=True)
class EmbedArm:
    name: str
    crops: int
    seconds: float
    batch_size: int

    @property
    def crops_per_s(self) -> float:
        return self.crops / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "crops_per_s": round(self.crops_per_s, 2)}


def naive_embed(embedder: Embedder, jpegs: Sequence[bytes]) -> np.ndarray:
    import torch

    rows = []
    for index, data in enumerate(jpegs):
        tensor = embedder.preprocess(decode_jpeg(data, str(index)))
        rows.append(embedder.forward(torch.stack([tensor]))[0])
    return np.stack(rows)


def timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def largest_batch(embedder: Embedder, start: int, limit: int = 4096) -> int:
    """Doubles the batch until the model runs out of memory (within its budget); the last size that ran."""
    import torch

    sample = torch.zeros((1, *embedder.preprocess(_grey()).shape))
    fits, size = 0, start
    while size <= limit:
        try:
            embedder.forward(sample.expand(size, *sample.shape[1:]).contiguous())
            fits, size = size, size * 2
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            break
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return fits


def _grey() -> Image.Image:
    from PIL import Image

    return Image.new("RGB", (64, 160), (128, 128, 128))


def bench_embed(
    embedder: Embedder, jpegs: Sequence[bytes], batch_size: int, workers: int, gpu_embedder: Embedder | None = None
) -> dict[str, object]:
    """Naive vs pipeline (and, given ``gpu_embedder``, fp16 at the largest batch) on the same crops."""
    names = [str(i) for i in range(len(jpegs))]
    embed_jpegs(embedder, jpegs[: min(len(jpegs), batch_size)], names, batch_size, workers)  # load + warm up
    naive_vectors, naive_s = timed(naive_embed, embedder, jpegs)
    result, fast_s = timed(embed_jpegs, embedder, jpegs, names, batch_size, workers)
    arms = [
        EmbedArm("naive: one crop at a time, one thread", len(jpegs), naive_s, 1),
        EmbedArm(f"pipeline: batch {batch_size}, {workers} decode workers", len(jpegs), fast_s, result.batch_size),
    ]
    if gpu_embedder is not None:
        biggest = largest_batch(gpu_embedder, batch_size)
        embed_jpegs(gpu_embedder, jpegs[:biggest], names, biggest, workers)
        _, gpu_s = timed(embed_jpegs, gpu_embedder, jpegs, names, biggest, workers)
        arms.append(EmbedArm(f"pipeline fp16: largest batch that fits ({biggest})", len(jpegs), gpu_s, biggest))
    agreement = float(np.max(np.abs(naive_vectors - result.vectors))) if len(jpegs) else 0.0
    return {
        "model": f"{embedder.backend}:{embedder.model_name}",
        "device": embedder.device,
        "dims": embedder.dims,
        "arms": [arm.as_dict() for arm in arms],
        "speedup": round(arms[1].crops_per_s / arms[0].crops_per_s, 2) if arms[0].crops_per_s else None,
        "max_abs_difference_naive_vs_pipeline": round(agreement, 6),
    }
