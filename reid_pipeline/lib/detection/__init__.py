"""Detectors (YOLO, HOG) behind one protocol, and the tracker that links their boxes over time."""

from reid_pipeline.lib.detection.types import Detections, Detector, Tracked

__all__ = ["Detections", "Detector", "Tracked"]
