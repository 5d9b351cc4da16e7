"""Social cards: the 1200x630 image a link preview shows (``og:image``, ``twitter:image``).

Each page gets its own: its front matter ``image`` cropped to 1200x630 around the centre,
or, without one, a card drawn here with the page's title and the site's name in the theme's
colours and heading font. A card's name is a hash of everything it is drawn from
(:meth:`CardSpec.key`), so it is known before it is drawn and changes whenever the card
would; drawing is deterministic (no metadata, fixed encoder options).

Fonts: the theme's self-hosted heading font when FreeType reads its file (TTF, OTF, WOFF,
and WOFF2 where FreeType has Brotli), else DejaVu from Debian's ``fonts-dejavu-core``
(installed by ``.ci/run``), else Pillow's own bundled font.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import PIL

from ..config import SiteConfig
from ..errors import SiteError
from .content import Page, display_path
from .images import SAVE_OPTIONS, extension, to_srgb
from .theme import Color, front_matter_line, light_scheme

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

    from .assets import Assets

SIZE = (1200, 630)
_MARGIN = 80
# Where a card's fallback fonts are (Debian's fonts-dejavu-core).
SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
# The DejaVu face closest to each of the theme's font stacks.
_FALLBACK_FONTS = {
    "serif": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono-Bold.ttf",
}
_DEFAULT_FONT = "DejaVuSans-Bold.ttf"
# A drawn card is flat colour: fast zlib compresses it nearly as well (a card per page).
_CARD_OPTIONS = {"png": {"compress_level": 3}}


@dataclass(frozen=True)
class CardSpec:
    """What one page's card is drawn from: a title card, or a crop of ``image``."""

    title: str = ""
    site: str = ""
    text: str = "#0f172a"
    background: str = "#ffffff"
    accent: str = "#2563eb"
    font_path: str = ""  # a TrueType/OpenType file, absolute; "": Pillow's own font
    font_sha: str = ""  # a hash of its bytes
    image: str = ""  # an image file to crop, absolute; with its content hash:
    image_sha: str = ""

    def titled(self, title: str) -> CardSpec:
        """This card's look with ``title`` (a copy of the fields: dataclasses.replace runs
        the checks of __init__, a tenth of a preview's one-page rebuild at 2000 pages)."""
        spec = object.__new__(CardSpec)
        spec.__dict__.update(self.__dict__, title=title)
        return spec

    def key(self) -> str:
        """A hash of everything the card is drawn from (files by their content hash)."""
        fields = (self.title, self.site, self.text, self.background, self.accent)
        parts = ("card 1", *fields, self.font_sha, self.image_sha, str(PIL.__version__))
        return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()

    @property
    def format(self) -> str:
        """A crop keeps a JPEG a JPEG; drawn cards and other images are PNG."""
        return "jpeg" if self.image.lower().endswith((".jpg", ".jpeg")) else "png"

    @property
    def suffix(self) -> str:
        return extension(self.format)


def card_style(config: SiteConfig) -> CardSpec:
    """The look of the site's title cards: the theme's colours and heading font (once per
    build: the font file is read and hashed here)."""
    light = light_scheme(config)
    theme = config.theme
    font = theme.heading_font or theme.font
    font_path = _font_path(config, font)
    font_sha = ""
    if font_path:
        font_sha = hashlib.blake2b(Path(font_path).read_bytes(), digest_size=16).hexdigest()
    return CardSpec(
        site=config.site.title,
        text=light.text.hex,
        background=light.background.hex,
        accent=light.accent.hex,
        font_path=font_path,
        font_sha=font_sha,
    )


def card_spec(page: Page, style: CardSpec, assets: Assets) -> CardSpec:
    """What ``page``'s card is drawn from: its ``image``, else its title in ``style``.

    A front matter ``image`` that is not a raster image of the site is an error at its line.
    """
    own = page.meta.get("image")  # page.image falls back to [site] image: one card for all
    if own:
        image = assets.images.get(page.image)
        if image is None or image.info is None or not image.info.resizable:
            why = image.error if image is not None and image.error else "no JPEG, PNG or WebP"
            raise SiteError(
                f"image: {page.image}: {why} in static/ or content/ at that path",
                display_path(page.path),
                front_matter_line(page, "image"),
                hint="a social card is cropped from the page's image: give a raster image's "
                "site path (/images/launch.jpg), or leave 'image' out for a title card",
            )
        return CardSpec(image=image.path, image_sha=image.sha)
    return style.titled(page.title)


# What a card's file name keeps of its page's URL (compiled once: a card per page).
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def card_url(page: Page, key: str, suffix: str) -> str:
    """``/social/blog-launch.3f2a1c9b.png``: the page's path, the card's hash and ``suffix``
    (its :attr:`CardSpec.suffix`)."""
    slug = _NOT_SLUG.sub("-", page.url.lower()).strip("-") or "home"
    return f"/social/{slug}.{key[:8]}.{suffix}"


def _font_path(config: SiteConfig, family: str) -> str:
    """The heading font's file for Pillow: the theme's self-hosted bold (or first upright)
    face when FreeType reads it, else the DejaVu face for its stack; "" if there is none."""
    files = config.theme.fonts.get(family) or {}
    upright = [face for face in files if not face.endswith("italic")] or list(files)
    if upright:
        face = next((f for f in upright if _weights(f)[0] <= 700 <= _weights(f)[-1]), upright[0])
        path = str((config.static_dir / files[face].lstrip("/")).resolve())
        from PIL import ImageFont  # here only: a build that draws no card may not need Pillow

        try:
            ImageFont.truetype(path, 10)
            return path
        except OSError:
            pass  # a format this FreeType lacks (WOFF2 without Brotli): DejaVu instead
    fallback = SYSTEM_FONTS / _FALLBACK_FONTS.get(family, _DEFAULT_FONT)
    return str(fallback) if fallback.is_file() else ""


def _weights(face: str) -> list[int]:
    return [int(part) for part in face.split() if part.isdigit()] or [400]


def draw_card(spec: CardSpec) -> bytes:
    """The card's image file: 1200x630, deterministic bytes."""
    from PIL import Image, ImageOps

    if spec.image:
        with Image.open(spec.image) as opened:
            image = to_srgb(ImageOps.exif_transpose(opened)).convert("RGB")
        image = ImageOps.fit(image, SIZE, Image.Resampling.LANCZOS)
    else:
        image = _title_card(spec)
    buffer = io.BytesIO()
    image.save(buffer, spec.format.upper(), **_CARD_OPTIONS.get(spec.format, SAVE_OPTIONS["jpeg"]))
    return buffer.getvalue()


def _title_card(spec: CardSpec) -> Image.Image:
    """The page title, large, over the site's name, with an accent bar: the theme's look."""
    from PIL import Image, ImageDraw

    background = _rgb(spec.background)
    text, accent = _rgb(spec.text), _rgb(spec.accent)
    image = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 16), fill=accent)
    width = SIZE[0] - 2 * _MARGIN
    size, lines = _fit_title(draw, spec, width)
    font = _font(spec, size)
    top = _MARGIN + 40
    for line in lines:
        draw.text((_MARGIN, top), line, font=font, fill=text)
        top += round(size * 1.2)
    site_font = _font(spec, 36)
    draw.text((_MARGIN, SIZE[1] - _MARGIN - 36), spec.site, font=site_font, fill=accent)
    return image


def _fit_title(draw: ImageDraw.ImageDraw, spec: CardSpec, width: int) -> tuple[int, list[str]]:
    """The largest font size (72 down to 40) at which the title fits in four lines; longer
    titles are cut with an ellipsis."""
    for size in (72, 64, 56, 48, 40):
        lines = _wrap(draw, spec.title, _font(spec, size), width)
        if len(lines) <= 4:
            return size, lines
    lines = lines[:4]
    lines[3] = lines[3].rstrip(" .,;:") + "…"
    return 40, lines


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` in lines no wider than ``width``, broken between words."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or [""]


def _font(spec: CardSpec, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    if spec.font_path:
        return ImageFont.truetype(spec.font_path, size)
    return ImageFont.load_default(size)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    color = Color.parse(hex_color)
    return round(color.red), round(color.green), round(color.blue)


__all__ = ["SIZE", "SYSTEM_FONTS", "CardSpec", "card_spec", "card_style", "card_url", "draw_card"]
