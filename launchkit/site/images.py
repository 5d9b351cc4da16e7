"""Raster images at build time (Pillow): what size they are, and their resized variants.

Every JPEG, PNG and WebP the site publishes gets variants a few widths wide
(:data:`WIDTHS`, never wider than the original) in WebP and in its own format. Encoding is
deterministic: fixed encoder options, no metadata (EXIF, XMP, comments: colours are
converted to sRGB first), no timestamps, so the same image gives the same bytes on every
build. The builder keeps variants in ``.cache/images/<sha>-<width>.<ext>`` by the source's
content hash: a rebuild never encodes an image it has encoded before, whatever its name or
place.

SVGs are drawn at any size and animated GIFs/WebPs would lose their animation: both are
published as they are (an SVG's size is still read, for ``width``/``height``). So is a PNG that
browsers show but Pillow refuses because an ancillary chunk (``iCCP``, ``tEXt``…) fails its
CRC: browsers skip such a chunk, so the file is fine to publish, but it gets no variants
(:attr:`ImageInfo.problem` says why, for a warning).
"""

from __future__ import annotations

import io
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Pillow is imported where an image is read or encoded: a rebuild that finds every image
# in the cache never needs it (importing it was a tenth of a no-change rebuild).

# The widths of the variants, in CSS pixels at 1x (phones at 2x take the next one up).
WIDTHS = (480, 800, 1200, 1600)
# The raster formats that get variants, by file suffix.
RASTER = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
# Encoder options: fixed, so that the same input gives the same bytes.
SAVE_OPTIONS = {
    "jpeg": {"quality": 82, "optimize": True, "progressive": True},
    "png": {"compress_level": 6},  # optimize=True: 5x the time for a few % less
    "webp": {"quality": 80, "method": 4},
}
_EXTENSION = {"jpeg": "jpg", "png": "png", "webp": "webp"}
# Pillow refuses images above this many pixels (decompression bombs); so do we, by name.
_MAX_PIXELS = 100_000_000
_TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_SVG_ROOT = re.compile(rb"<svg\b[^>]*>", re.DOTALL)
_SVG_ATTRIBUTE = re.compile(rb'\b(width|height|viewBox)\s*=\s*["\']([^"\']*)["\']')
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """An image file Pillow cannot read: the message says what is wrong with it."""


@dataclass(frozen=True)
class ImageInfo:
    """An image's size in pixels and its format; ``animated`` ones are not resized, nor
    those with a ``problem`` (why Pillow cannot decode a file that browsers show)."""

    width: int
    height: int
    format: str  # "jpeg", "png", "webp", "svg", "gif"
    animated: bool = False
    problem: str = ""

    @property
    def resizable(self) -> bool:
        return self.format in _EXTENSION and not self.animated and not self.problem


def probe(path: Path) -> ImageInfo:
    """The size and format of the image at ``path`` (only its header is read).

    Raises :class:`ImageError` when it is not an image Pillow reads, or is too big.
    """
    if path.suffix.lower() == ".svg":
        return _probe_svg(path.read_bytes())
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > _MAX_PIXELS:
                raise ImageError(f"{width}x{height} pixels is more than {_MAX_PIXELS:,}")
            image_format = (image.format or "").lower()
            animated = getattr(image, "n_frames", 1) > 1
            # Rotated a quarter turn by its EXIF orientation (read from JPEG and WebP headers;
            # a PNG's EXIF may sit after its pixels, and reading it would decode them).
            if image_format in ("jpeg", "webp") and image.getexif().get(0x0112, 1) in _TURNED:
                width, height = height, width
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        shown = _png_with_bad_ancillary_chunks(path.read_bytes())
        if shown is not None:
            return shown
        raise ImageError(f"not an image Pillow can read ({exc})") from None
    return ImageInfo(width, height, image_format, animated)


def _png_with_bad_ancillary_chunks(data: bytes) -> ImageInfo | None:
    """The size of a PNG whose only damage is a bad CRC in ancillary chunks, or None.

    Pillow refuses such a file; browsers skip the chunks (the PNG specification lets a
    decoder ignore a damaged ancillary chunk) and show the image. Critical chunks (``IHDR``,
    ``PLTE``, ``IDAT``, ``IEND``: an upper-case first letter) must be whole and intact.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return None
    position, damaged, size = len(_PNG_SIGNATURE), [], None
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            return None  # truncated: not what browsers show whole
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != crc:
            if kind[:1].isupper():
                return None
            damaged.append(kind.decode("latin-1"))
        if kind == b"IHDR":
            size = struct.unpack(">II", data[position + 8 : position + 16])
        if kind == b"IEND":
            break
        position = end
    else:
        return None  # no IEND
    if size is None or not damaged:
        return None
    chunks = ", ".join(dict.fromkeys(damaged))
    problem = f"Pillow refuses it for a bad CRC in its {chunks} chunk (browsers skip that chunk)"
    return ImageInfo(*size, "png", problem=problem)


def _probe_svg(data: bytes) -> ImageInfo:
    """An SVG's size from its root's ``width``/``height`` (px), else its ``viewBox``."""
    root = _SVG_ROOT.search(data)
    attributes = dict(_SVG_ATTRIBUTE.findall(root[0])) if root else {}
    try:
        width = float(attributes[b"width"].removesuffix(b"px"))
        height = float(attributes[b"height"].removesuffix(b"px"))
    except (KeyError, ValueError):
        box = attributes.get(b"viewBox", b"").replace(b",", b" ").split()
        if len(box) != 4:
            return ImageInfo(0, 0, "svg")  # no intrinsic size: the page must give one
        width, height = float(box[2]), float(box[3])
    return ImageInfo(round(width), round(height), "svg")


def variant_widths(width: int) -> tuple[int, ...]:
    """The widths of an image's variants: those of :data:`WIDTHS` below its own, and its
    own width when it is narrower than the widest (never upscaled)."""
    return tuple(sorted({*(w for w in WIDTHS if w < width), min(width, WIDTHS[-1])}))


def extension(image_format: str) -> str:
    """The file suffix (without dot) of a variant in ``image_format``."""
    return _EXTENSION[image_format]


def encode(source: bytes, sizes: Sequence[tuple[int, str]]) -> list[bytes]:
    """``source`` resized to each ``(width, format)`` of ``sizes`` (height in proportion).

    The image is decoded once, turned upright by its EXIF orientation and converted to
    sRGB, then each size is saved without any metadata: the same bytes in, the same out.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(source)) as opened:
        image = to_srgb(ImageOps.exif_transpose(opened))
    encoded = []
    for width, image_format in sizes:
        height = max(1, round(image.height * width / image.width))
        resized = image
        if (width, height) != image.size:
            resized = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        _mode_for(resized, image_format).save(
            buffer, image_format.upper(), **SAVE_OPTIONS[image_format]
        )
        encoded.append(buffer.getvalue())
    return encoded


def to_srgb(image: Image.Image) -> Image.Image:
    """``image`` in sRGB: its embedded colour profile applied, then dropped."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA"):
        return image
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode
        )
    except (ImageCms.PyCMSError, OSError):
        return image  # a broken profile: take the pixels as sRGB
    return converted if converted is not None else image


def _mode_for(image: Image.Image, image_format: str) -> Image.Image:
    """``image`` in a mode ``image_format`` stores: JPEG has no transparency."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image_format == "jpeg":
        return image.convert("RGB")
    if image_format == "webp" or image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        return image.convert("RGBA" if has_alpha else "RGB")
    return image


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename: a build running
    beside this one (the preview, a worker) never reads half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


__all__ = [
    "RASTER",
    "WIDTHS",
    "ImageError",
    "ImageInfo",
    "encode",
    "extension",
    "probe",
    "variant_widths",
    "write_atomically",
]
