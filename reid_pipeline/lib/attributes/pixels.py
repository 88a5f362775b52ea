"""Offline describer: dominant colours measured from the pixels, named from a fixed palette. No model.

Persons get an upper-body and a lower-body colour (the bands between shoulders and hips, and between
hips and ankles), vehicles and animals one body colour. Only the central columns count, where the
entity (not the background) is. The confidence of a colour is the share of the region's pixels it names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reid_pipeline.lib.attributes.types import DescribeRequest, Description
from reid_pipeline.lib.attributes.vocabulary import unknown_description

# Representative sRGB of each palette name; a pixel takes the name of the nearest one in CIELAB.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 25),
    "white": (235, 235, 235),
    "gray": (128, 128, 128),
    "red": (190, 30, 35),
    "orange": (235, 130, 35),
    "yellow": (235, 215, 50),
    "green": (50, 140, 60),
    "blue": (40, 70, 170),
    "purple": (115, 55, 140),
    "pink": (235, 150, 180),
    "brown": (105, 70, 45),
    "beige": (210, 190, 150),
}

# (top, bottom, left, right) as fractions of the crop.
REGIONS: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "person": {"upper_color": (0.18, 0.5, 0.3, 0.7), "lower_color": (0.55, 0.88, 0.3, 0.7)},
    "vehicle": {"color": (0.2, 0.8, 0.15, 0.85)},
    "animal": {"coat_color": (0.2, 0.8, 0.15, 0.85)},
}
SAMPLE_SIDE = 48  # regions are shrunk to at most this many pixels a side: plenty for a share


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)


_NAMES = list(PALETTE)
_PALETTE_LAB = _to_lab(np.array([PALETTE[name] for name in _NAMES], dtype=np.uint8).reshape(1, -1, 3))


def colour_shares(rgb: np.ndarray) -> list[tuple[str, float]]:
    """Palette names of ``rgb`` pixels (H, W, 3) with their share, largest first."""
    lab = _to_lab(rgb)
    nearest = np.argmin(((lab[:, None, :] - _PALETTE_LAB[None, :, :]) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(nearest, minlength=len(_NAMES))
    order = np.argsort(-counts, kind="stable")
    return [(_NAMES[i], float(counts[i] / counts.sum())) for i in order if counts[i]]


def region(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    height, width = image.shape[:2]
    top, bottom, left, right = box
    part = image[
        int(top * height) : max(int(bottom * height), int(top * height) + 1),
        int(left * width) : max(int(right * width), int(left * width) + 1),
    ]
    step_y = max(1, part.shape[0] // SAMPLE_SIDE)
    step_x = max(1, part.shape[1] // SAMPLE_SIDE)
    return part[::step_y, ::step_x]


class PixelColourDescriber:
    backend = "pixel-colours"
    model_name = "cielab-palette-12"

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        return [self._describe_one(request) for request in requests]

    def _describe_one(self, request: DescribeRequest) -> Description:
        attributes: dict[str, Any] = unknown_description(request.entity_type)
        confidence: dict[str, float] = {}
        pixels = np.asarray(request.image.convert("RGB"))
        for name, box in REGIONS.get(request.entity_type, {}).items():
            shares = colour_shares(region(pixels, box))
            if shares:
                attributes[name], confidence[name] = shares[0][0], round(shares[0][1], 4)
        return Description(attributes, confidence)
