"""Re-identification embedder: OSNet (Zhou et al. 2019) with weights from a local checkpoint file.

The architecture is torchreid's own (``pip install torchreid``, the deep-person-reid code), read from the
installed package's ``reid/models/osnet.py``. That file needs only torch; the package's ``__init__`` imports
its dataset and training code too, which needs downloaders (``gdown``) this pipeline never uses, so the
module is loaded from its file rather than imported. Nothing is ever downloaded: torchreid's
``pretrained=True`` (ImageNet weights from Google Drive) is never asked for.

Weights come from the usual Market-1501 / MSMT17 ``.pth`` files that torchreid's training writes (a bare
state dict, or one under ``state_dict``), with or without DataParallel's ``module.`` prefixes. The
classifier (one output per training identity) is dropped: the vector is the 512-d feature before it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from reid_pipeline.lib.embedding.lazy import LazyTorchNetwork, imagenet_transform
from reid_pipeline.lib.embedding.open_clip_backend import RANDOM_WEIGHTS
from reid_pipeline.lib.embedding.types import TextEncoder, l2_normalise

if TYPE_CHECKING:
    import torch
    from PIL import Image

OSNET_MODELS = ("osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0")
INPUT_SIZE = (256, 128)  # height, width: what torchreid trains person re-id models on
DIMS = 512
_MODULE_NAME = "reid_pipeline_torchreid_osnet"


def is_osnet(model: str) -> bool:
    return model in OSNET_MODELS


def osnet_module() -> ModuleType:
    """torchreid's ``osnet.py``, loaded from the installed package's folder without importing the package."""
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.find_spec("torchreid")
    folders = list(spec.submodule_search_locations or []) if spec else []
    candidates = [Path(folder) / sub / "osnet.py" for folder in folders for sub in ("reid/models", "models")]
    source = next((path for path in candidates if path.is_file()), None)
    if source is None:
        raise FileNotFoundError(
            "the osnet embedder takes its architecture from torchreid, which is not installed (or has no "
            "models/osnet.py): pip install torchreid==0.2.5"
        )
    module_spec = importlib.util.spec_from_file_location(_MODULE_NAME, source)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    sys.modules[_MODULE_NAME] = module
    return module


def build_osnet(model: str) -> Any:
    """The OSNet architecture ``model`` with random weights (torchreid's ImageNet download is never asked for)."""
    if not is_osnet(model):
        raise ValueError(f"unknown OSNet model {model!r}: use one of {', '.join(OSNET_MODELS)}")
    factory = getattr(osnet_module(), model)
    return factory(num_classes=1, pretrained=False, loss="softmax")


def missing_checkpoint(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"OSNet checkpoint {path} not found: point REID_EMBEDDING__PRETRAINED (embedding.pretrained) at a "
        "torchreid .pth file, e.g. osnet_x1_0 trained on Market-1501 or MSMT17"
    )


def checkpoint_state(path: Path) -> dict[str, Any]:
    """The backbone's tensors from a torchreid checkpoint: ``state_dict`` unwrapped, ``module.`` stripped,
    classifier dropped (its size is the training set's number of identities).
    """
    import torch

    if not path.is_file():
        raise missing_checkpoint(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code in it, or not a torch file at all
        raise ValueError(f"{path} is not a torch weights file that loads without running code ({exc})") from exc
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no state dict (found {type(loaded).__name__})")
    stripped = {key.removeprefix("module."): value for key, value in state.items()}
    return {key: value for key, value in stripped.items() if not key.startswith("classifier.")}


def load_checkpoint(model: Any, path: Path) -> None:
    """Load ``path`` into ``model``; any backbone tensor missing, extra or of another shape is an error."""
    state = checkpoint_state(path)
    expected = {key: value.shape for key, value in model.state_dict().items() if not key.startswith("classifier.")}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    reshaped = sorted(key for key in set(expected) & set(state) if tuple(state[key].shape) != tuple(expected[key]))
    if missing or extra or reshaped:
        problems = [
            f"{label} {len(keys)} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
            for label, keys in (("missing", missing), ("unexpected", extra), ("other shape", reshaped))
            if keys
        ]
        raise ValueError(
            f"{path} does not fit {type(model).__name__} of this width: {'; '.join(problems)}. Check that "
            "embedding.model names the architecture the checkpoint was trained with (osnet_x1_0, osnet_x0_25 ...)"
        )
    model.load_state_dict(state, strict=False)  # strict apart from the classifier, checked above


class OsnetEmbedder(LazyTorchNetwork):
    """OSNet features (512-d, L2-normalised) of crops resized to 256x128, as torchreid trains and tests."""

    backend = "osnet"
    text_encoder: TextEncoder | None = None  # a re-id model: no text search, no zero-shot attributes
    # Re-id features spread wider than CLIP's: same-person cosines of a trained OSNet sit well below 0.85. A
    # starting point only (no re-id weights were at hand to calibrate it): run eval clustering --sweep.
    match_threshold = 0.70
    # One thread, random weights: osnet_x1_0 took 43 ms of CPU a crop at batch 1, 50 at 8, 70 at 32 (x0_25: 15,
    # 8, 10). The full-width model is the one worth running, so its best batch is the default.
    cpu_batch_size = 1

    def __init__(
        self,
        model: str,
        checkpoint: str,
        device: str = "auto",
        precision: str = "auto",
        gpu_memory_fraction: float = 0.9,
    ) -> None:
        if not is_osnet(model):
            raise ValueError(f"unknown OSNet model {model!r}: use one of {', '.join(OSNET_MODELS)}")
        if checkpoint != RANDOM_WEIGHTS and not Path(checkpoint).is_file():
            raise missing_checkpoint(Path(checkpoint))  # now, rather than mid-run
        self.architecture = model
        self.checkpoint = checkpoint
        self.model_name = f"{model}/{Path(checkpoint).name}"
        super().__init__(device, precision, gpu_memory_fraction)

    def _build(self) -> tuple[Any, Any]:
        network = build_osnet(self.architecture)
        if self.checkpoint != RANDOM_WEIGHTS:
            load_checkpoint(network, Path(self.checkpoint))
        return network, imagenet_transform(INPUT_SIZE)

    @property
    def dims(self) -> int:
        return DIMS

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        # Stretched to 256x128, not padded: torchreid's test transform, which the published weights expect.
        return self._transformed(image)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        return l2_normalise(self._run(batch).float().cpu().numpy())  # eval mode: the 512-d feature
