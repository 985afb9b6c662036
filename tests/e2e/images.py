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


def animated_gif(size: tuple[int, int], frames: int) -> bytes:
    """An animated GIF of ``frames`` full ``size`` frames, each one pixel apart (nothing Pillow can merge), built from
    single-frame encodings (Pillow's own animation encoder takes seconds per frame at this size). 30 frames of
    2000 x 2000 are ~120 KB and cost the unguarded image processing ~8 s of CPU: the red team's image bomb."""
    palette = [0, 0, 0, 255, 255, 255] + [0] * 762
    blocks, header = [], b""
    for index in range(frames):
        frame = Image.new("P", size, 0)
        frame.putpalette(palette)
        frame.putpixel((index % size[0], 0), 1)
        buffer = io.BytesIO()
        frame.save(buffer, format="GIF")
        data = buffer.getvalue()
        flags = data[10]
        start = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the header and global palette
        header, body = data[:start], data[start:-1]  # the frame's blocks, without the trailer
        blocks.append(body)
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return header + loop + b"".join(blocks) + b"\x3b"
