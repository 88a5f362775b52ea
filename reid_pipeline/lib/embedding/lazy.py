"""A torch image network built on first use: the base of the CNN embedders (ImageNet, OSNet).

Building the network is slow and needs the device, so it waits until the first crop. Crops are preprocessed
on worker threads, which may all ask for the network at once: a lock makes sure it is built exactly once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from reid_pipeline.lib.runtime.devices import cap_gpu_memory, resolve_device, resolve_dtype

if TYPE_CHECKING:
    import torch
    from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LazyTorchNetwork:
    """Owns a network and its input transform; subclasses say how to build them (``_build``)."""

    def __init__(self, device: str, precision: str, gpu_memory_fraction: float) -> None:
        self.device = resolve_device(device)
        self.precision = precision
        self.gpu_memory_fraction = gpu_memory_fraction
        self._model: Any = None
        self._transform: Any = None
        self._lock = threading.Lock()

    def _build(self) -> tuple[Any, Any]:
        """The network (on the CPU, in float32) and the transform from a PIL image to its input tensor."""
        raise NotImplementedError

    @property
    def model(self) -> Any:
        import torch

        with self._lock:
            if self._model is None:
                cap_gpu_memory(self.device, self.gpu_memory_fraction)
                network, self._transform = self._build()
                dtype = resolve_dtype(self.precision, self.device)
                # Channels-last: oneDNN's (and cuDNN's) fast convolution layout. MobileNetV2 on one CPU core
                # went from 27 to 19 ms a 224x224 crop, the same numbers to float rounding.
                self._model = network.to(device=self.device, dtype=dtype, memory_format=torch.channels_last).eval()
        return self._model

    def _transformed(self, image: Image.Image) -> torch.Tensor:
        if self._transform is None:
            _ = self.model
        tensor: torch.Tensor = self._transform(image)
        return tensor

    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        """The network's output for a batch, on the network's device and dtype, without autograd."""
        import torch

        model = self.model
        dtype = next(iter(model.parameters())).dtype
        with torch.inference_mode():
            inputs = batch.to(device=self.device, dtype=dtype, memory_format=torch.channels_last)
            output: torch.Tensor = model(inputs)
        return output


def imagenet_transform(size: tuple[int, int]) -> Any:
    """Resize (stretched, not padded) to ``size`` (height, width), then ImageNet's normalisation."""
    from torchvision import transforms

    return transforms.Compose(
        [transforms.Resize(size), transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
