"""Test images made with Pillow (the same bytes every run), and helpers to read a built page."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from bs4 import BeautifulSoup
from PIL import Image, ImageCms, PngImagePlugin

from bench.corpus import photo  # one generator for tests and the benchmark corpus

__all__ = ["image_size", "photo", "png_with_a_bad_crc", "soup_of", "srcset_urls", "write_bytes"]


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def srcset_urls(srcset: str) -> list[tuple[str, int]]:
    """``"/a-480.webp 480w, /a-800.webp 800w"`` -> ``[("/a-480.webp", 480), …]``."""
    found = []
    for item in srcset.split(","):
        url, _, width = item.strip().partition(" ")
        found.append((url, int(width.rstrip("w"))))
    return found


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def png_with_a_bad_crc(chunk: bytes) -> bytes:
    """A 640x360 PNG as a screenshot tool writes it (an sRGB profile, a Software text),
    with the CRC of its ``chunk`` broken by one byte: Pillow refuses it, browsers show it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "Keynote")
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (30, 90, 160)).save(
        buffer, "PNG", pnginfo=info, icc_profile=profile
    )
    data = bytearray(buffer.getvalue())
    start = data.index(chunk) - 4  # the chunk's length field
    (length,) = struct.unpack(">I", data[start : start + 4])
    data[start + 8 + length] ^= 0xFF  # the first byte of its CRC
    return bytes(data)
