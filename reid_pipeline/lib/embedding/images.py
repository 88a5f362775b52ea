"""Crop images as models want them: decoded from JPEG and padded to a square without distortion."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

PAD_COLOUR = (124, 116, 104)  # the ImageNet/CLIP mean: padding reads as "nothing" to the model


def decode_jpeg(data: bytes, name: str) -> Image.Image:
    """RGB image from encoded bytes; a broken image raises ``ValueError`` naming it.

    OpenCV decodes, not ``PIL.Image.open``: ultralytics replaces the latter process-wide with a version
    that tries to install a HEIF plugin whenever an image is unreadable.
    """
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if pixels is None:
        raise ValueError(f"crop {name} is not a readable image; re-materialize its crops partition")
    return Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))


def pad_to_square(image: Image.Image) -> Image.Image:
    """Centre the crop on a square canvas.

    Person crops are tall (about 1:2.5). A resize-and-centre-crop, which CLIP's preprocessing does,
    would cut off head and feet, the parts that carry hats and shoes; stretching would distort
    the body. Padding keeps everything at its true shape.
    """
    width, height = image.size
    side = max(width, height)
    if width == height:
        return image
    canvas = Image.new("RGB", (side, side), PAD_COLOUR)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas
