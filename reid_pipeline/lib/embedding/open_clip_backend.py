"""Standard embedder: an open_clip image tower (and its text tower, for prompts and text search)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reid_pipeline.lib.embedding.images import pad_to_square
from reid_pipeline.lib.embedding.types import TextEncoder, l2_normalise
from reid_pipeline.lib.runtime.devices import cap_gpu_memory, resolve_device, resolve_dtype

if TYPE_CHECKING:
    import torch
    from PIL import Image

RANDOM_WEIGHTS = "random"  # pretrained value that builds the architecture with random weights (tests, benchmarks)


def is_checkpoint_path(pretrained: str) -> bool:
    return pretrained.endswith((".pt", ".pth", ".bin", ".safetensors")) or "/" in pretrained


def open_clip_weights_cached(model: str, pretrained: str) -> bool:
    """Whether the weights are on this machine already: a local file, or the hub copy in the HF cache."""
    if pretrained == RANDOM_WEIGHTS:
        return True
    if is_checkpoint_path(pretrained):
        return Path(pretrained).is_file()
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    config = open_clip.get_pretrained_cfg(model, pretrained)
    repo = str(config.get("hf_hub", "")).strip("/")
    if not repo:
        return False
    names = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    return any(isinstance(try_to_load_from_cache(repo, name), str) for name in names)


def missing_open_clip_weights(model: str, pretrained: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"open_clip weights {model}/{pretrained} are not on this machine and downloads are off. Run once online "
        f"(open_clip caches them under ~/.cache/huggingface), set REID_EMBEDDING__PRETRAINED to a local checkpoint "
        f"file, or use the offline profile (REID_EMBEDDING__PROFILE=offline)."
    )


class OpenClipEmbedder:
    """open_clip model + its own normalisation; loads on first use, at the configured precision."""

    backend = "open_clip"
    match_threshold = 0.85  # default cosine for "same identity" (calibrated with eval clustering --sweep)
    cpu_batch_size = 16

    def __init__(
        self,
        model: str,
        pretrained: str,
        device: str = "auto",
        precision: str = "auto",
        gpu_memory_fraction: float = 0.9,
        offline: bool = False,
    ) -> None:
        if offline and not open_clip_weights_cached(model, pretrained):
            raise missing_open_clip_weights(model, pretrained)
        self.architecture = model
        self.pretrained = pretrained
        tag = Path(pretrained).name if is_checkpoint_path(pretrained) else pretrained
        self.model_name = f"{model}/{tag}"
        self.device = resolve_device(device)
        self.precision = precision
        self.gpu_memory_fraction = gpu_memory_fraction
        self._model: Any = None
        self._transform: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.text_encoder: TextEncoder | None = self  # CLIP embeds text into the same space

    def _load(self) -> None:
        with self._lock:  # preprocess runs on worker threads: load once
            if self._model is None:
                self._load_unlocked()

    def _load_unlocked(self) -> None:
        import open_clip

        cap_gpu_memory(self.device, self.gpu_memory_fraction)
        weights = None if self.pretrained == RANDOM_WEIGHTS else self.pretrained
        model, _, transform = open_clip.create_model_and_transforms(self.architecture, pretrained=weights)
        dtype = resolve_dtype(self.precision, self.device)
        self._model = model.to(device=self.device, dtype=dtype).eval()
        self._transform = transform
        self._tokenizer = open_clip.get_tokenizer(self.architecture)

    @property
    def model(self) -> Any:
        if self._model is None:
            self._load()
        return self._model

    @property
    def dims(self) -> int:
        return int(self.model.visual.output_dim)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        if self._transform is None:
            self._load()
        tensor: torch.Tensor = self._transform(pad_to_square(image))
        return tensor

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        import torch

        model = self.model
        dtype = next(model.parameters()).dtype
        with torch.inference_mode():
            features = model.encode_image(batch.to(device=self.device, dtype=dtype))
        return l2_normalise(features.float().cpu().numpy())

    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` in the same space as the image vectors (prompts, text search)."""
        import torch

        model = self.model
        tokens = self._tokenizer(texts).to(self.device)
        with torch.inference_mode():
            features = model.encode_text(tokens)
        return l2_normalise(features.float().cpu().numpy())
