"""The ``Embedder`` protocol every backend implements, and vector helpers shared by them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image


class Embedder(Protocol):
    """Turns RGB crops into L2-normalised float32 vectors of a fixed size."""

    backend: str
    model_name: str
    device: str

    @property
    def dims(self) -> int: ...

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One crop to the model's input tensor (C, H, W); runs on CPU worker threads."""
        ...

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """A stacked batch (N, C, H, W) to unit vectors (N, dims), float32, on the host."""
        ...


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
