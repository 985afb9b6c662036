"""Images as served: re-encoded without metadata (EXIF, GPS, comments), with a JPEG thumbnail. Pure: bytes in,
bytes out (Pillow is imported on first use, by the upload function only)."""

from __future__ import annotations

import io

from chalicelib.domain.files import DISPLAY_FORMATS

MAX_IMAGE_PIXELS = 40_000_000


def render(data: bytes, declared: str, max_px: int) -> tuple[bytes, bytes, int, int]:
    """(display image re-encoded without metadata, JPEG thumbnail, width, height); ValueError if unreadable."""
    from PIL import Image, ImageOps

    if declared == "image/heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as opened:
            expected = {
                "image/jpeg": "JPEG",
                "image/png": "PNG",
                "image/gif": "GIF",
                "image/webp": "WEBP",
                "image/heic": "HEIF",
            }[declared]
            if opened.format != expected:
                raise ValueError(f"an image of type {opened.format}, not {declared}")
            opened.load()
            animated = declared == "image/gif" and getattr(opened, "n_frames", 1) > 1
            image = ImageOps.exif_transpose(opened)  # apply the orientation before the EXIF goes
            pillow_format, _, _ = DISPLAY_FORMATS[declared]
            display = io.BytesIO()
            if animated:
                # Frames re-encoded without the source's info dict: no comments, no metadata.
                opened.seek(0)
                opened.save(display, format="GIF", save_all=True, loop=opened.info.get("loop", 0))
            else:
                clean = image.convert("RGB") if pillow_format == "JPEG" and image.mode not in ("RGB", "L") else image
                clean.save(display, format=pillow_format, **({"quality": 88} if pillow_format != "PNG" else {}))
            thumb = image.convert("RGBA") if image.mode in ("P", "LA", "RGBA") else image.convert("RGB")
            thumb.thumbnail((max_px, max_px))
            if thumb.mode == "RGBA":
                background = Image.new("RGB", thumb.size, (255, 255, 255))
                background.paste(thumb, mask=thumb.split()[-1])
                thumb = background
            thumbnail = io.BytesIO()
            thumb.save(thumbnail, format="JPEG", quality=80)
            return display.getvalue(), thumbnail.getvalue(), image.width, image.height
    except Image.DecompressionBombError as exc:
        raise ValueError("too many pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError("the image cannot be decoded") from exc
