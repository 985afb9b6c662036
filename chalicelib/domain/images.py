"""Images as served: re-encoded without metadata (EXIF, GPS, comments), with a JPEG thumbnail. Pure: bytes in,
bytes out (Pillow is imported on first use, by the upload function only).

What an image costs to decode is decided from its headers before anything is decoded (``measure``): a small file
can declare a huge canvas (a PNG of one colour compresses about 1000:1) or many frames (a 123 KB GIF of 150 frames
of 2000x2000 pixels took 74 s of CPU and 740 MiB). So, before decoding:

* one frame (the canvas) may have at most ``max_pixels`` pixels: exact, where Pillow's own ``MAX_IMAGE_PIXELS``
  only warns up to twice its value (here that warning is an error too);
* an animated GIF keeps its animation with at most ``max_frames`` frames and ``max_animation_pixels`` for
  ``frames x width x height`` (what decoding and re-encoding every frame costs); any other multi-frame image
  (APNG, animated WebP, a HEIF sequence) is served as its first frame, the only one decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from chalicelib.domain.files import DISPLAY_FORMATS

_PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
}


@dataclass(frozen=True)
class ImageLimits:
    """What one upload may cost to decode (settings: ``IMAGE_MAX_PIXELS``, ``IMAGE_MAX_FRAMES``,
    ``IMAGE_MAX_ANIMATION_PIXELS``)."""

    max_pixels: int = 40_000_000  # one frame: a 40 MP photo takes ~1.5 s and ~530 MiB, a noisy 40 MP PNG ~5.4 s
    max_frames: int = 300  # an animated GIF's frames
    max_animation_pixels: int = 50_000_000  # frames x width x height of an animated GIF: ~3 s, ~170 MiB


class ImageRejected(ValueError):
    """Not an image this service serves: unreadable, or over the limits (the message says which)."""


class OverLimits(ImageRejected):
    """Readable perhaps, but more pixels or frames than the limits allow: refused before decoding."""


@dataclass(frozen=True)
class Measure:
    """What an image's headers declare: the canvas and the frames that will be decoded."""

    width: int
    height: int
    frames: int  # decoded frames: all of an animated GIF, else 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def work(self) -> int:
        """Pixels decoded and re-encoded in all."""
        return self.frames * self.pixels


def check_limits(measure: Measure, limits: ImageLimits) -> None:
    """``OverLimits`` when what the headers declare is more than the limits allow."""
    if measure.pixels > limits.max_pixels:
        raise OverLimits(f"too many pixels ({measure.width}x{measure.height}; at most {_mp(limits.max_pixels)})")
    if measure.frames > limits.max_frames:
        raise OverLimits(f"too many frames ({measure.frames}; at most {limits.max_frames})")
    if measure.frames > 1 and measure.work > limits.max_animation_pixels:
        raise OverLimits(
            f"animation too large ({measure.frames} frames of {measure.width}x{measure.height}; "
            f"at most {_mp(limits.max_animation_pixels)} in all)"
        )


def _mp(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} MP"


def _u16(data: bytes, at: int) -> int:
    return data[at] | data[at + 1] << 8


def _skip_sub_blocks(data: bytes, at: int) -> int:
    """The position after a GIF data sub-block chain (each block: a length byte, then that many bytes; 0 ends)."""
    while at < len(data):
        length = data[at]
        at += 1 + length
        if length == 0:
            break
    return at


def gif_measure(data: bytes, stop_after_frames: int) -> Measure:
    """A GIF's canvas and frame count from its block structure, decoding no image data.

    The canvas is the logical screen grown to every frame's extent (as Pillow grows it while decoding). Counting
    stops after ``stop_after_frames`` + 1 frames: that is already too many.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ImageRejected("the image cannot be decoded")
    width, height = _u16(data, 6), _u16(data, 8)
    flags = data[10]
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    while at < len(data) and frames <= stop_after_frames:
        block = data[at]
        at += 1
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: a label, then sub-blocks
            at = _skip_sub_blocks(data, at + 1)
        elif block == 0x2C:  # image descriptor: left, top, width, height, flags; a local colour table; image data
            if at + 9 > len(data):
                break
            left, top, frame_width, frame_height = (_u16(data, at + offset) for offset in (0, 2, 4, 6))
            frame_flags = data[at + 8]
            at += 9 + (3 << ((frame_flags & 7) + 1) if frame_flags & 0x80 else 0)
            at = _skip_sub_blocks(data, at + 1)  # after the LZW minimum code size
            frames += 1
            width, height = max(width, left + frame_width), max(height, top + frame_height)
        else:
            break  # not a block: Pillow stops there too
    return Measure(width, height, max(frames, 1))


def measure(data: bytes, declared: str, limits: ImageLimits) -> Measure:
    """What decoding ``data`` would cost, read from its headers only (``ImageRejected`` if they are unreadable)."""
    if declared == "image/gif":
        return gif_measure(data, limits.max_frames)
    from PIL import Image

    if declared == "image/heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[declared]]) as opened:
            width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard on the header (exact, see _guard): above the cap.
        raise OverLimits(f"too many pixels (at most {_mp(limits.max_pixels)})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("the image cannot be decoded") from exc
    return Measure(width, height, 1)  # only the first frame is decoded


def _guard(limits: ImageLimits) -> None:
    """Pillow's own decompression-bomb guard, made exact: it raises only above twice ``MAX_IMAGE_PIXELS`` and warns
    below; the warning is an error here (a filter added again is not duplicated)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def render(data: bytes, declared: str, max_px: int, limits: ImageLimits | None = None) -> tuple[bytes, bytes, int, int]:
    """(display image re-encoded without metadata, JPEG thumbnail, width, height).

    ``OverLimits`` before anything is decoded when the headers declare more than ``limits``; ``ImageRejected`` when
    the bytes are not a readable image of the declared type.
    """
    limits = limits or ImageLimits()
    _guard(limits)
    declared_measure = measure(data, declared, limits)
    check_limits(declared_measure, limits)
    from PIL import Image, ImageOps

    try:
        expected = _PILLOW_FORMATS[declared]
        with Image.open(io.BytesIO(data), formats=[expected]) as opened:
            if opened.format != expected:
                raise ImageRejected(f"an image of type {opened.format}, not {declared}")
            if opened.size[0] * opened.size[1] > limits.max_pixels:
                raise OverLimits(f"too many pixels ({opened.size[0]}x{opened.size[1]})")
            opened.load()
            animated = declared == "image/gif" and declared_measure.frames > 1
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
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise OverLimits("too many pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("the image cannot be decoded") from exc
