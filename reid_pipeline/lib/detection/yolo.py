"""Standard detector: ultralytics YOLO (v8 / 11 / ... weights, or an architecture YAML for tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reid_pipeline.lib.detection.types import Detections
from reid_pipeline.lib.runtime.devices import resolve_device


def weights_available_locally(weights: str) -> bool:
    """True when ``weights`` is an existing file or an architecture YAML (random weights, no download)."""
    return weights.endswith((".yaml", ".yml")) or Path(weights).is_file()


def missing_weights_error(weights: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"YOLO weights {weights!r} not found at {Path(weights).resolve()} and downloads are off (offline mode). "
        f"Copy the file there, set REID_DETECTION__YOLO_WEIGHTS to its path, run once online so ultralytics "
        f"downloads it, or use the offline profile (REID_DETECTION__PROFILE=offline)."
    )


class YoloDetector:
    """Batched YOLO inference restricted to the COCO classes we keep; the model loads on first use."""

    backend = "ultralytics-yolo"
    min_frame_side = 8  # letterboxing handles any size above a few pixels

    def __init__(
        self,
        weights: str,
        class_ids: list[int],
        confidence: float = 0.25,
        imgsz: int = 640,
        device: str = "auto",
        offline: bool = False,
    ) -> None:
        if offline and not weights_available_locally(weights):
            raise missing_weights_error(weights)
        self.weights = weights
        self.model_name = Path(weights).name
        self.class_ids = class_ids
        self.confidence = confidence
        self.min_score = confidence
        self.imgsz = imgsz
        self.device = resolve_device(device)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from ultralytics import YOLO

            self._model = YOLO(self.weights)
        return self._model

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        if not frames:
            return []
        results = self.model.predict(
            frames,
            conf=self.confidence,
            imgsz=self.imgsz,
            classes=self.class_ids,
            device=self.device,
            half=self.device.startswith("cuda"),
            verbose=False,
            save=False,
        )
        out = []
        for result in results:
            boxes = result.boxes.cpu().numpy()
            out.append(
                Detections(
                    boxes.xyxy.astype(np.float32).reshape(-1, 4),
                    boxes.conf.astype(np.float32).reshape(-1),
                    boxes.cls.astype(np.int64).reshape(-1),
                )
            )
        return out
