"""Image bombs (red-team finding 1): what an image costs is decided from its headers, before anything is decoded.

The files are crafted byte by byte (a GIF's blocks, a PNG's chunks): a few hundred bytes each, made in microseconds,
that declare what a real bomb declares. "Before decoding" is proved, not timed: Pillow's decoder is replaced by one
that fails the test if it is ever called.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image, ImageFile

from chalicelib.domain import images
from chalicelib.domain.images import ImageLimits, ImageRejected, Measure, OverLimits, gif_measure, render

SMALL = ImageLimits(max_pixels=10_000, max_frames=10, max_animation_pixels=40_000)


# --- crafted files ---------------------------------------------------------------------------------------


def gif(screen: tuple[int, int], frames: list[tuple[int, int, int, int]]) -> bytes:
    """A GIF89a with a 2-colour global palette and one 1-bit frame per (left, top, width, height); each frame's
    LZW data is a clear code and an end code: nothing to decode, whatever size the frame declares."""
    out = bytearray(b"GIF89a" + struct.pack("<HH", *screen) + bytes([0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff")
    for left, top, width, height in frames:
        out += b"\x21\xf9\x04\x04\x01\x00\x00\x00"  # graphic control: 10 ms per frame, keep the previous frame
        out += b"\x2c" + struct.pack("<HHHH", left, top, width, height) + b"\x00"
        out += b"\x02\x02\x4c\x01\x00"  # LZW minimum code size 2, one 2-byte sub-block, terminator
    return bytes(out + b"\x3b")


def png_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: a grayscale PNG of ``width`` x ``height`` zeros, deflated (~1000:1)."""
    row = b"\x00" * (width + 1)  # filter byte + pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pillow_gif(size: tuple[int, int], frames: int) -> bytes:
    sequence = [Image.new("P", size, 0) for _ in range(frames)]
    for index, frame in enumerate(sequence):
        frame.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
        frame.putpixel((index % size[0], 0), 1)  # frames differ: Pillow keeps them all
    out = io.BytesIO()
    sequence[0].save(out, format="GIF", save_all=True, append_images=sequence[1:], loop=0, disposal=1)
    return out.getvalue()


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 120)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any pixel decoding fails the test: what is refused must be refused on its headers."""

    def decode(self: ImageFile.ImageFile) -> None:
        pytest.fail(f"{self.format} image data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    yield


# --- one frame: the pixel cap is exact --------------------------------------------------------------------


def test_a_decompression_bomb_png_is_refused_on_its_header(no_decoding: None) -> None:
    bomb = png_bomb(7000, 7000)  # 49 MP in 51 KB: Pillow alone would only warn (its error starts at 2x 40 MP)

    with pytest.raises(OverLimits, match=r"too many pixels \(at most 40 MP\)"):
        render(bomb, "image/png", 320)
    assert len(bomb) < 100_000


@pytest.mark.parametrize(("size", "accepted"), [((100, 100), True), ((101, 100), False), ((100, 101), False)])
def test_the_pixel_cap_is_exact(size: tuple[int, int], accepted: bool) -> None:
    data = png(size)  # 10,000 pixels is the cap: Pillow alone would accept up to 20,000 with a warning

    if accepted:
        assert render(data, "image/png", 32, SMALL)[2:] == size
    else:
        with pytest.raises(OverLimits, match="too many pixels"):
            render(data, "image/png", 32, SMALL)


def test_pillows_bomb_warning_is_an_error_should_a_header_be_misread(monkeypatch: pytest.MonkeyPatch) -> None:
    # If the header check ever under-counted, Pillow's own guard (now exact, and an error) still refuses.
    monkeypatch.setattr(images, "measure", lambda data, declared, limits: Measure(1, 1, 1))

    with pytest.raises(OverLimits) as refused:
        render(png((150, 100)), "image/png", 32, SMALL)  # 15,000 pixels: between 1x and 2x the cap

    assert isinstance(refused.value.__cause__, Image.DecompressionBombWarning)


# --- GIFs: the canvas, frames and frames x pixels, from the block structure ----------------------------------


def test_the_gif_measure_agrees_with_pillow_on_a_real_animation() -> None:
    data = pillow_gif((40, 30), 7)

    with Image.open(io.BytesIO(data)) as opened:
        assert gif_measure(data, 100) == Measure(opened.width, opened.height, opened.n_frames) == Measure(40, 30, 7)


def test_a_huge_gif_canvas_is_refused_before_decoding(no_decoding: None) -> None:
    data = gif((65535, 65535), [(0, 0, 1, 1)])

    with pytest.raises(OverLimits, match=r"too many pixels \(65535x65535"):
        render(data, "image/gif", 320)
    assert len(data) < 100


def test_a_frame_beyond_the_logical_screen_grows_the_canvas_as_pillow_would(no_decoding: None) -> None:
    data = gif((10, 10), [(0, 0, 10, 10), (5000, 0, 3000, 6000)])  # Pillow grows the canvas to 8000 x 6000

    assert gif_measure(data, 100) == Measure(8000, 6000, 2)
    with pytest.raises(OverLimits, match=r"too many pixels \(8000x6000"):
        render(data, "image/gif", 320)


def test_too_many_frames_are_refused_before_decoding(no_decoding: None) -> None:
    data = gif((2, 2), [(0, 0, 1, 1)] * 11)

    with pytest.raises(OverLimits, match=r"too many frames \(11; at most 10\)"):
        render(data, "image/gif", 32, SMALL)


def test_counting_frames_stops_once_there_are_too_many() -> None:
    data = gif((2, 2), [(0, 0, 1, 1)] * 5000)

    assert gif_measure(data, 10).frames == 11


def test_frames_times_pixels_is_capped_like_the_red_teams_bomb(no_decoding: None) -> None:
    # The red team's bomb: 150 frames of 2000 x 2000 (600 MP of work in 123 KB; 74 s of CPU, 740 MiB).
    bomb = gif((2000, 2000), [(i % 2000, 0, 1, 1) for i in range(150)])

    with pytest.raises(OverLimits, match=r"animation too large \(150 frames of 2000x2000; at most 50 MP in all\)"):
        render(bomb, "image/gif", 320)


def test_an_animation_within_the_limits_keeps_its_frames() -> None:
    data = pillow_gif((100, 100), 4)  # 40,000 pixels of work: exactly the cap

    display, thumbnail, width, height = render(data, "image/gif", 32, SMALL)

    assert (width, height) == (100, 100)
    with Image.open(io.BytesIO(display)) as served:
        assert (served.format, served.n_frames, served.size) == ("GIF", 4, (100, 100))
    with Image.open(io.BytesIO(thumbnail)) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (32, 32))
    with pytest.raises(OverLimits, match="animation too large"):
        render(pillow_gif((100, 100), 5), "image/gif", 32, SMALL)


def test_other_animations_are_served_as_their_first_frame() -> None:
    frames = [Image.new("RGB", (120, 120), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)

    display, _, width, height = render(out.getvalue(), "image/webp", 32)

    assert (width, height) == (120, 120)
    with Image.open(io.BytesIO(display)) as served:
        assert (served.format, getattr(served, "n_frames", 1), served.size) == ("WEBP", 1, (120, 120))


@pytest.mark.parametrize(
    "data",
    [b"GIF89a", b"GIF89a" + b"\x00" * 20, b"NOTAGIF" * 10, gif((10, 10), [])[:-1] + b"\x99"],
    ids=["header only", "zeros", "not a GIF", "stray block"],
)
def test_broken_gifs_are_rejected_cleanly(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        render(data, "image/gif", 32)
