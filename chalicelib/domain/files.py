"""What a file is: its kind by declared type, its real type by its first bytes, a safe display name."""

from __future__ import annotations

import re
import unicodedata

IMAGE, FILE = "image", "file"

# Declared image type -> (Pillow format it is re-encoded to, type it is served as, file extension).
DISPLAY_FORMATS = {
    "image/jpeg": ("JPEG", "image/jpeg", "jpg"),
    "image/heic": ("JPEG", "image/jpeg", "jpg"),  # browsers cannot show HEIC
    "image/png": ("PNG", "image/png", "png"),
    "image/webp": ("WEBP", "image/webp", "webp"),
    "image/gif": ("GIF", "image/gif", "gif"),
}

# Image formats we serve, recognised by their magic numbers (the first bytes of the file).
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def sniff_image_type(head: bytes) -> str | None:
    """The image MIME type that ``head`` (the first 32 bytes) starts like, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return None


_UNSAFE = re.compile(r"[^\w .()+-]+")


def safe_file_name(name: str, max_chars: int = 120) -> str:
    """A display name without paths, control characters or quotes (it goes into Content-Disposition)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .") or "file"
    if len(base) > max_chars:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: max_chars - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:max_chars]
    return base
