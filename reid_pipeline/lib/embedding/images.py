"""Crop images as models want them: decoded from JPEG and padded to a square without distortion."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

PAD_COLOUR = (124, 116, 104)  # the ImageNet/CLIP mean: padding reads as "nothing" to the model


def decode_jpeg(data: bytes, name: str) -> Image.Image:
    """RGB image from encoded bytes; a broken image raises ``ValueError`` naming it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"crop {name} is not a readable image ({exc}); re-materialize its crops partition") from exc


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
