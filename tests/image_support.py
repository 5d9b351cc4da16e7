"""Test images made with Pillow, the same bytes every run, and helpers to read a built page."""

from __future__ import annotations

import io
import random
from pathlib import Path

from bs4 import BeautifulSoup
from PIL import Image, ImageFilter


def photo(width: int, height: int, seed: int = 0, image_format: str = "JPEG") -> bytes:
    """A photo-like image (smooth colour fields with fine grain): it compresses as a photo
    does, so byte sizes are realistic."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (48, 32), rng.randbytes(48 * 32 * 3))
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = grain.filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    image = Image.blend(image, grain, 0.18)
    buffer = io.BytesIO()
    options = {"quality": 92} if image_format == "JPEG" else {}
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


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
