"""Offline person detector: OpenCV's built-in HOG + linear SVM (the weights ship inside OpenCV)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from reid_pipeline.lib.detection.types import Detections


class HogPersonDetector:
    """Dalal-Triggs pedestrian detector. Finds upright people of about 64x128 px and larger.

    SVM margins are squashed into (0, 1) scores so that thresholds mean the same as for YOLO, and
    overlapping windows are merged with non-maximum suppression. Frames of a batch run on a thread
    pool (OpenCV releases the GIL), one frame per core.
    """

    backend = "opencv-hog"
    model_name = "HOGDescriptor_getDefaultPeopleDetector"
    min_frame_side = 128  # the detection window is 64x128: smaller frames crash OpenCV's native code

    def __init__(self, confidence: float = 0.3, win_stride: int = 8, scale: float = 1.05, nms_iou: float = 0.4):
        self.confidence = confidence
        self.min_score = confidence
        self.win_stride = win_stride
        self.scale = scale
        self.nms_iou = nms_iou
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        self._pool = ThreadPoolExecutor(max_workers=max(1, cv2.getNumberOfCPUs()))

    def _detect_one(self, image: np.ndarray) -> Detections:
        stride = (self.win_stride, self.win_stride)
        rects, margins = self._hog.detectMultiScale(image, winStride=stride, padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return Detections.empty()
        boxes = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
        scores = 1.0 / (1.0 + np.exp(-np.asarray(margins, dtype=np.float32).reshape(-1)))
        kept = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.confidence, self.nms_iou)
        keep = np.asarray(kept, dtype=np.int64).reshape(-1)
        xywh = boxes[keep]
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        height, width = image.shape[:2]
        xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
        return Detections(xyxy, scores[keep].astype(np.float32), np.zeros(len(keep), np.int64))

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return list(self._pool.map(self._detect_one, frames))
