"""A projection head trained on the site's own tracklets, on the CPU, deterministically from a seed.

The head is ``normalise((x - mean) @ W)``: ``mean`` is the training crops' mean (it removes what every crop
of the site shares), and ``W`` starts as their top principal directions, so before training the head is a
PCA projection and training only moves it as far as the tracklets ask. The loss is a multi-positive
InfoNCE per crop: crops of its own tracklet against crops of the tracklets seen at the same moment on
the same camera.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from reid_pipeline.lib.adaptation.samples import TrainingCrops
from reid_pipeline.lib.embedding.types import l2_normalise

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class HeadSpec:
    """How the head is trained; part of the adapter's identity."""

    out_dims: int = 128
    epochs: int = 30
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    batch_tracklets: int = 64
    seed: int = 0

    def describe(self) -> str:
        return (
            f"out{self.out_dims}-ep{self.epochs}-lr{self.learning_rate:g}-wd{self.weight_decay:g}"
            f"-t{self.temperature:g}-b{self.batch_tracklets}-seed{self.seed}"
        )


@dataclass(frozen=True)
class SiteAdapter:
    """A trained head, applied to backbone vectors of one model."""

    backbone: str  # the embedding model ("backend:model") whose vectors it takes
    mean: np.ndarray  # (dims,)
    weights: np.ndarray  # (dims, out_dims)
    spec: HeadSpec
    losses: tuple[float, ...] = ()  # mean loss before training, then after each epoch
    trained_on: tuple[str, ...] = ()  # the days (or other partitions) whose tracklets trained it
    crops: int = 0
    tracklets: int = 0
    negative_pairs: int = 0
    adapter_id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.weights.ndim != 2 or self.mean.shape != (self.weights.shape[0],):
            raise ValueError(
                f"weights must be (dims, out) and mean (dims,), got {self.weights.shape}, {self.mean.shape}"
            )
        if not self.adapter_id:
            object.__setattr__(self, "adapter_id", adapter_id_of(self.backbone, self.mean, self.weights))

    @property
    def in_dims(self) -> int:
        return int(self.weights.shape[0])

    @property
    def out_dims(self) -> int:
        return int(self.weights.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Unit-length adapted vectors of (N, in_dims) backbone vectors."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.in_dims:
            raise ValueError(
                f"adapter {self.adapter_id} takes {self.in_dims}-d vectors of {self.backbone}, got {vectors.shape}"
            )
        return l2_normalise((vectors - self.mean) @ self.weights)


def adapter_id_of(backbone: str, mean: np.ndarray, weights: np.ndarray) -> str:
    """A content hash: the same head always has the same id, any change in it gives a new one.

    Rounded to 5 decimals so that bit-level noise of a CPU's arithmetic does not make a new id.
    """
    digest = hashlib.sha1(backbone.encode())
    for array in (mean, weights):
        digest.update(np.round(np.asarray(array, dtype=np.float64), 5).tobytes())
    return "ad-" + digest.hexdigest()[:12]


def principal_directions(vectors: np.ndarray, out_dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the top ``out_dims`` principal directions (dims, k), signs fixed so they are deterministic."""
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd((vectors - mean).astype(np.float64), full_matrices=False)
    k = min(out_dims, vt.shape[0])
    directions = vt[:k].T
    # SVD may return either sign of a direction; make the largest entry positive so reruns agree.
    signs = np.sign(directions[np.abs(directions).argmax(axis=0), np.arange(k)])
    return mean.astype(np.float32), (directions * np.where(signs == 0, 1, signs)).astype(np.float32)


def _batches(data: TrainingCrops, size: int, epoch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Crop indices per batch: tracklets in time order chunked (so co-occurring ones share a batch), the
    chunk edges shifted by half a chunk on odd epochs, the chunk order shuffled."""
    order = np.arange(len(data.tracklet_ids))
    offset = (size // 2) * (epoch % 2)
    edges = [0, *range(offset or size, len(order), size), len(order)]
    chunks = [order[a:b] for a, b in itertools.pairwise(edges) if b > a]
    rng.shuffle(chunks)
    crops_of = [np.flatnonzero(data.tracklet == t) for t in range(len(data.tracklet_ids))]
    return [np.concatenate([crops_of[t] for t in chunk]) for chunk in chunks]


def train_head(data: TrainingCrops, backbone: str, spec: HeadSpec, trained_on: tuple[str, ...] = ()) -> SiteAdapter:
    """Train the head on ``data``; the same data and spec give the same adapter (and adapter id).

    ``data``'s tracklets should be ordered by camera and start time (``training_crops`` keeps the order of
    the spans it is given) so that batches hold tracklets seen together.
    """
    import torch

    if len(data.vectors) < 2:
        raise ValueError("the adapter needs crops of at least two tracklets to train on; run more footage first")
    mean, directions = principal_directions(data.vectors, spec.out_dims)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same summation order on every machine: the same adapter from a seed
    try:
        torch.manual_seed(spec.seed)
        rng = np.random.default_rng(spec.seed)
        weights = torch.nn.Parameter(torch.from_numpy(directions.copy()))
        optimiser = torch.optim.AdamW([weights], lr=spec.learning_rate, weight_decay=spec.weight_decay)
        x = torch.from_numpy(data.vectors - mean)
        tracklet = torch.from_numpy(data.tracklet)
        losses = [_epoch_loss(x, tracklet, weights, spec, None, rng, data)]
        for epoch in range(spec.epochs):
            losses.append(_epoch_loss(x, tracklet, weights, spec, optimiser, rng, data, epoch))
    finally:
        torch.set_num_threads(threads)
    return SiteAdapter(
        backbone=backbone,
        mean=mean,
        weights=weights.detach().numpy().copy(),
        spec=spec,
        losses=tuple(round(v, 6) for v in losses),
        trained_on=trained_on,
        crops=len(data.vectors),
        tracklets=len(data.tracklet_ids),
        negative_pairs=data.negative_pairs,
    )


def _epoch_loss(
    x: torch.Tensor,
    tracklet: torch.Tensor,
    weights: torch.Tensor,
    spec: HeadSpec,
    optimiser: torch.optim.Optimizer | None,
    rng: np.random.Generator,
    data: TrainingCrops,
    epoch: int = 0,
) -> float:
    """One pass over the batches (training when ``optimiser`` is given); the mean loss over anchors."""
    import torch

    total, anchors = 0.0, 0
    for batch in _batches(data, spec.batch_tracklets, epoch, rng):
        index = torch.from_numpy(batch)
        mine = data.tracklet[batch]
        # Only the batch's block of the sparse (T, T) matrix is made dense: B x B, not T x T.
        negative = torch.from_numpy(data.different[mine][:, mine].toarray())
        with torch.set_grad_enabled(optimiser is not None):
            loss, count = contrastive_loss(x[index], tracklet[index], negative, weights, spec.temperature)
            if optimiser is not None and count:
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        total += float(loss.detach()) * count
        anchors += count
    return total / anchors if anchors else 0.0


def contrastive_loss(
    x: torch.Tensor, tracklet: torch.Tensor, negative: torch.Tensor, weights: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, int]:
    """Mean multi-positive InfoNCE over crops that have both a positive and a negative in the batch;
    ``negative`` (B, B) says which crops of the batch are known to be different entities."""
    import torch

    z = torch.nn.functional.normalize(x @ weights, dim=1)
    logits = z @ z.T / temperature
    same = tracklet[:, None] == tracklet[None, :]
    positive = same & ~torch.eye(len(tracklet), dtype=torch.bool)
    usable = positive.any(dim=1) & negative.any(dim=1)
    count = int(usable.sum())
    if count == 0:
        return torch.zeros(()), 0
    masked = logits.masked_fill(~(positive | negative), float("-inf"))
    pos_only = logits.masked_fill(~positive, float("-inf"))
    loss = torch.logsumexp(masked, dim=1) - torch.logsumexp(pos_only, dim=1)
    return loss[usable].mean(), count
