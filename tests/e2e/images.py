"""Small real images for upload tests, made with Pillow (nothing is downloaded)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def png_bytes(width: int, height: int) -> bytes:
    """A striped PNG (stripes: a thumbnail of it is visibly not blank)."""
    image = Image.new("RGB", (width, height), (246, 227, 234))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 40):
        draw.rectangle((x, 0, x + 19, height), fill=(181, 68, 110))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(data: bytes) -> tuple[str, tuple[int, int]]:
    """(Pillow's format name, (width, height)) of image bytes; raises if they are not an image."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return str(image.format), image.size
