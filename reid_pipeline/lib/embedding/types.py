"""The ``Embedder`` protocol every backend implements, and vector helpers shared by them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image


class TextEncoder(Protocol):
    """The text side of a joint image-text model: prompts into the image vectors' space (CLIP)."""

    model_name: str

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Texts to unit vectors (N, dims), comparable with the image vectors by cosine similarity."""
        ...

    def logit_scale(self) -> float:
        """The model's learned temperature: cosine similarities times this are its logits."""
        ...


class Embedder(Protocol):
    """Turns RGB crops into L2-normalised float32 vectors of a fixed size."""

    backend: str
    model_name: str
    device: str
    cpu_batch_size: int  # fastest batch on a CPU for this model family (measured, see resolve_batch_size)
    # Text search and zero-shot attributes ask for this capability rather than for a class: None when the
    # model has no text side (ImageNet CNNs, re-id backbones).
    text_encoder: TextEncoder | None

    @property
    def dims(self) -> int: ...

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One crop to the model's input tensor (C, H, W); runs on CPU worker threads."""
        ...

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """A stacked batch (N, C, H, W) to unit vectors (N, dims), float32, on the host."""
        ...


GPU_BATCH_SIZE = 64


def resolve_batch_size(setting: int, embedder: Embedder) -> int:
    """``0`` (auto) becomes 64 on an accelerator and the model family's best CPU batch otherwise.

    On a 2-core CPU with the model on one thread, batching slowed the ImageNet CNNs down (EfficientNet-lite0:
    28 crops/s at batch 1, 17 at 64) and sped ViT-B-32 up to batch 16 (5.7 -> 9.1 crops/s). Since a batch of
    8 or more runs on every core (``pipelined.model_threads``), batch 16 is fastest for the CNNs too; OSNet,
    measured on one thread only, keeps batch 1.
    """
    if setting > 0:
        return setting
    return embedder.cpu_batch_size if embedder.device == "cpu" else GPU_BATCH_SIZE


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero rather than becoming NaN)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def pool_vectors(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of unit vectors, re-normalised: one vector for a tracklet from its best crops.

    Weights are crop qualities; when all are zero the crops count equally.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    pooled = (np.asarray(vectors, dtype=np.float64) * weights[:, None]).sum(axis=0) / weights.sum()
    return l2_normalise(pooled[None, :])[0]
