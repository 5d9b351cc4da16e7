"""Test images made with Pillow (the same bytes every run), and helpers to read a built page."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup
from PIL import Image

from bench.corpus import photo  # one generator for tests and the benchmark corpus

__all__ = ["image_size", "photo", "soup_of", "srcset_urls", "write_bytes"]


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
