"""The site's files as published: fingerprinted names, image variants, documents that use them.

:func:`plan_assets` takes every file of ``static/`` and of the page bundles in ``content/``
and gives an :class:`Assets`:

- CSS, JS, fonts and images are published under content-hashed names
  (``css/site.css`` -> ``css/site.3f2a1c9b.css``), so that servers may cache them for a
  year: a changed file gets a new name. ``url(...)`` inside CSS is rewritten first, so a
  stylesheet's name changes when an image it uses does. The files something outside the
  site may link to by name (:func:`outside_names`) are published under their own name too;
  other files (PDFs, ``robots.txt``…) keep their name only.
- raster images get resized variants (:mod:`.images`), named by the source's hash and width.

:meth:`Assets.rewrite_document` then makes a rendered page use them: each content ``<img>``
of a raster image becomes a ``<picture>`` with a WebP ``<source>``, ``srcset``/``sizes``,
``width``/``height``; every image below the first gets ``loading="lazy"`` and
``decoding="async"``; every reference to a fingerprinted file (attributes, inline CSS,
JSON-LD, root-relative or absolute under ``base_url``) gets its hashed name.
Everything here is a pure function of the files' bytes and the page: no build state.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import PIL

from ..config import SiteConfig
from ..errors import SiteError
from .content import Page, display_path
from .images import RASTER, SAVE_OPTIONS, ImageError, ImageInfo, extension, probe, variant_widths
from .scan import substitute

# The files published under a content-hashed name, by suffix.
FINGERPRINTED = frozenset(
    {".css", ".js", ".mjs", ".svg", ".gif", ".avif", ".ico", ".woff", ".woff2", ".ttf", ".otf"}
    | set(RASTER)
)
# ``sizes`` of a content image: the full width of the page's column, at most the site's.
SIZES = "(min-width: 72rem) 72rem, 100vw"
# Part of every variant's cache name: new encoder settings or Pillow make new variants.
ENCODER = f"Pillow {PIL.__version__} {sorted(SAVE_OPTIONS.items())!r}"
_HASH_LENGTH = 8

_IMG_OR_PICTURE = re.compile(r"<picture\b|</picture>|<img\b[^>]*>|<main\b", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""", re.DOTALL
)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
# A reference to a file that may be fingerprinted ends in one of their suffixes: only those
# are looked up (a page has hundreds of links to pages, and a handful to files).
_SUFFIX = r"\.(?:" + "|".join(sorted(suffix[1:] for suffix in FINGERPRINTED)) + r")"
_VALUE = rf"""(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^"]+{_SUFFIX}(?:#[^"]*)?)\""""
_RELATIVE_ATTRIBUTE = re.compile(rf"""\b(href|src|poster)="{_VALUE}""", re.IGNORECASE)
_PATH = rf"/[^\"'()\s,?#&<>]+{_SUFFIX}(?![\w.-])"
# Where those may be, found quickly as they begin with a literal (see .scan): the value of
# an href, src or poster attribute (its name looked at before its value: a page's class,
# id and other attributes are most of its values), a path (each match only looks ahead,
# so none hides another).
_ATTRIBUTE_VALUE = re.compile(
    rf'="(?:(?<=href=")|(?<=src=")|(?<=poster="))(?={_VALUE})', re.IGNORECASE
)
_REFERENCE_PATH = re.compile(rf"/(?={_PATH[1:]})", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Variant:
    """One resized copy of an image: where it is cached and where it is published."""

    width: int
    height: int
    format: str
    cached: str  # the cache file, relative to the image cache folder
    url: str  # "/images/team.1a2b3c4d-800.webp"

    @property
    def output(self) -> str:
        return unquote(self.url.lstrip("/"))


@dataclass(frozen=True)
class SiteImage:
    """An image file of the site: its size, or why it cannot be read, and its variants."""

    source: str  # the file, for error messages
    path: str  # the file, absolute
    sha: str
    info: ImageInfo | None
    error: str = ""
    variants: tuple[Variant, ...] = ()

    def srcset(self, image_format: str) -> str:
        return ", ".join(f"{v.url} {v.width}w" for v in self.variants if v.format == image_format)

    def shown_size(self) -> tuple[int, int]:
        """Width and height of the largest variant (the image's own without variants)."""
        assert self.info is not None
        if self.variants:
            return self.variants[-1].width, self.variants[-1].height
        return self.info.width, self.info.height

    def largest(self, image_format: str) -> Variant:
        return [v for v in self.variants if v.format == image_format][-1]


@dataclass
class Assets:
    """The fingerprinted names, images and files of one build (see the module's docstring)."""

    base_url: str
    urls: dict[str, str] = field(default_factory=dict)  # "/css/site.css" -> hashed URL
    images: dict[str, SiteImage] = field(default_factory=dict)  # by their un-hashed URL
    files: dict[str, tuple[bytes | Path, str]] = field(default_factory=dict)  # output -> data
    # The markup of <img> tags that is the same on every page (_img): this object's alone
    # (dataclasses.replace, as Media.for_documents does, starts an empty one).
    _markup: dict[tuple[str, bool, bool, bool], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __getstate__(self) -> dict:
        """Pickled (to workers, in the kept plan) without the markup this object remembered."""
        return {**self.__dict__, "_markup": {}}

    @property
    def digest(self) -> str:
        """A hash of what pages see of the assets (names and image sizes): page keys use it."""
        facts = repr((sorted(self.urls.items()), sorted(self.images.items())))
        return hashlib.blake2b(facts.encode(), digest_size=16).hexdigest()

    def image_warnings(self) -> dict[str, str]:
        """Why an image published as it is has no variants, by its output path: the link
        checker warns at each reference to it."""
        return {
            url.lstrip("/"): (
                f"the image {image.source} is published as it is, without variants: "
                f"{image.info.problem}"
            )
            for url, image in self.images.items()
            if image.info is not None and image.info.problem
        }

    def variants(self) -> list[tuple[str, Variant]]:
        """Every image variant with its source file, sorted: what the build encodes."""
        return sorted(
            (image.path, variant) for image in self.images.values() for variant in image.variants
        )

    # --- documents ---------------------------------------------------------------------------

    def rewrite_document(self, document: str, page: Page) -> str:
        """``document`` with responsive images and every asset reference fingerprinted."""
        return self.rewrite_urls(self._pictures(document, page), page.url)

    def rewrite_urls(self, text: str, base: str = "/") -> str:
        """Every reference to a fingerprinted file in ``text`` by its hashed name.

        References are root-relative (``/css/site.css``) or absolute under the site's
        ``base_url`` anywhere (attributes, CSS, JSON), and relative in ``href``/``src``
        attributes (resolved against ``base``, the page's URL).
        """
        if not self.urls:
            return text

        def relative(match: re.Match[str]) -> str:
            path, _, rest = match[2].partition("#")
            hashed = self.urls.get(file_url(urljoin(base, html.unescape(path))))
            if hashed is None:
                return match[0]
            return f'{match[1]}="{hashed}{"#" + rest if rest else ""}"'

        text = substitute(_RELATIVE_ATTRIBUTE, text, _attribute_starts(text), relative)
        starts = _reference_starts(text, len(self.base_url.rstrip("/")))
        return substitute(self._references, text, starts, self._replace_reference)

    @functools.cached_property
    def _references(self) -> re.Pattern[str]:
        """A root-relative or absolute path after a quote, bracket, ``=``, space, comma or
        ``;`` (``&quot;`` in an escaped feed)."""
        base = re.escape(self.base_url.rstrip("/"))
        return re.compile(rf"(?<=[\"'(=\s,;])({base})?({_PATH})", re.IGNORECASE)

    def _replace_reference(self, match: re.Match[str]) -> str:
        hashed = self.urls.get(file_url(match[2]))
        if hashed is None:
            return match[0]
        return (match[1] or "") + hashed

    def _pictures(self, document: str, page: Page) -> str:
        """Each ``<img>`` of a site image with its size, variants and loading hints."""
        parts = []
        position = 0
        in_picture = 0
        in_main = "<main" not in document  # a template without <main>: all is content
        content_images = 0
        for match in _IMG_OR_PICTURE.finditer(document):
            tag = match[0].lower()
            if tag == "<picture":
                in_picture += 1
                continue
            if tag == "</picture>":
                in_picture = max(0, in_picture - 1)
                continue
            if tag == "<main":
                in_main = True
                continue
            content_images += in_main
            # Below the first screen (in <main>, after its first image): let the browser wait.
            lazy = in_main and content_images > 1
            markup = self._img(match[0], page, in_main, lazy, wrap=not in_picture)
            if markup is None:
                continue
            parts.append(document[position : match.start()])
            position = match.end()
            parts.append(markup)
        parts.append(document[position:])
        return "".join(parts)

    def _img(self, tag: str, page: Page, in_main: bool, lazy: bool, *, wrap: bool) -> str | None:
        """The markup of an ``<img>`` tag (:meth:`_img_markup`), ``lazy`` or not; None to
        leave it as it is (not a site image, outside ``<main>``). Remembered for a tag whose
        ``src`` does not depend on the page's URL (root-relative or absolute): the logo in
        every page's header and footer is worked out once, not parsed, looked up and written
        again for every document. An image that cannot be used raises each time, at its
        page's line."""
        key = (tag, in_main, lazy, wrap)
        if key in self._markup:
            return self._markup[key]
        attributes = _attributes(tag)
        src = attributes.get("src", "")
        image = self._image_of(src, page)
        markup = None
        if image is not None or in_main:
            if lazy:
                attributes.setdefault("loading", "lazy")
                attributes.setdefault("decoding", "async")
            markup = self._img_markup(attributes, image, wrap=wrap)
        if html.unescape(src).startswith("/"):  # the same on every page
            self._markup[key] = markup
        return markup

    def _image_of(self, src: str, page: Page) -> SiteImage | None:
        """The site image an ``<img src>`` shows, or None (another site's, or unknown: the
        link checker reports a missing one at its line)."""
        url = urljoin(page.url, html.unescape(src))
        if url.startswith(self.base_url.rstrip("/") + "/"):
            url = url[len(self.base_url.rstrip("/")) :]
        image = self.images.get(file_url(urlsplit(url).path))
        if image is not None and image.error:
            raise SiteError(
                f"the image {src} ({image.source}) cannot be used: {image.error}",
                display_path(page.path),
                _line_of(page, posixpath.basename(urlsplit(url).path)),
                hint="replace the file with a JPEG, PNG, WebP, GIF or SVG that opens",
            )
        return image

    def _img_markup(
        self, attributes: dict[str, str], image: SiteImage | None, *, wrap: bool
    ) -> str:
        """The ``<img>`` with its size, and the variants of a raster image: in a ``<picture>``
        with a WebP ``<source>`` (``wrap``), or as ``srcset`` alone inside a template's own."""
        info = image.info if image is not None else None
        if info is not None and info.width and info.height:
            _set_size(attributes, *image.shown_size())  # type: ignore[union-attr]
        if image is None or not image.variants:
            return _tag("img", attributes)
        sizes = attributes.setdefault("sizes", SIZES)
        attributes["src"] = image.largest(info.format).url  # type: ignore[union-attr]
        attributes["srcset"] = image.srcset(info.format)  # type: ignore[union-attr]
        img = _tag("img", attributes)
        if not wrap or info.format == "webp":  # type: ignore[union-attr]
            return img
        source = _tag(
            "source", {"type": "image/webp", "srcset": image.srcset("webp"), "sizes": sizes}
        )
        return f"<picture>{source}{img}</picture>"


def plan_assets(config: SiteConfig, sources: Mapping[str, Path], keep: Iterable[str]) -> Assets:
    """The published names of ``sources`` (output path -> file) and their image variants.

    ``keep`` lists the outputs published under their own name as well as the hashed one.
    """
    assets = Assets(base_url=config.site.base_url)
    keep = set(keep)
    stylesheets = []
    for output, path in sorted(sources.items()):
        url = "/" + output
        suffix = posixpath.splitext(output)[1].lower()
        if suffix not in FINGERPRINTED:
            assets.files[output] = (path, display_path(path))
            continue
        if suffix == ".css":
            stylesheets.append((output, path))
            continue
        data = path.read_bytes()
        sha = _sha(data)
        if suffix in RASTER or suffix in (".svg", ".gif"):
            image = assets.images[url] = _site_image(path, output, data, sha)
            if image.info is not None and image.info.problem:
                # Published as it is, where the page's reference names it: a warning found
                # by the link checker (image_warnings) then points at the page's line.
                assets.files[output] = (path, display_path(path))
                continue
        assets.urls[url] = published_url(hashed_name(output, sha))
        assets.files[hashed_name(output, sha)] = (path, display_path(path))
        if output in keep:
            assets.files[output] = (path, display_path(path))
    for output, path in stylesheets:  # after the files their url(...) name
        css = rewrite_css(path.read_text(encoding="utf-8"), "/" + output, assets.urls).encode()
        assets.urls["/" + output] = published_url(hashed_name(output, _sha(css)))
        assets.files[hashed_name(output, _sha(css))] = (css, display_path(path))
        if output in keep:
            assets.files[output] = (css, display_path(path))
    return assets


def outside_names(config: SiteConfig, sources: Iterable[str]) -> set[str]:
    """The files something outside the site may ask for by name, so also published unhashed:
    the top level of ``static/`` (``favicon.ico``, ``apple-touch-icon.png``…), and the
    default social image, logo and favicon of ``site.toml`` (e-mails and other sites link
    them)."""
    named = {config.site.image, config.theme.logo, config.theme.logo_dark, config.theme.favicon}
    named_outputs = {url.lstrip("/") for url in named if url and url.startswith("/")}
    return {output for output in sources if "/" not in output or output in named_outputs}


def hashed_name(output: str, sha: str) -> str:
    """``css/site.css`` -> ``css/site.3f2a1c9b.css``."""
    stem, suffix = posixpath.splitext(output)
    return f"{stem}.{sha[:_HASH_LENGTH]}{suffix}"


def file_url(reference: str) -> str:
    """The un-hashed URL of the file a reference's path names: percent-escapes decoded
    (``Linkerd%20Architecture.jpg`` names ``Linkerd Architecture.jpg``, ``caf%C3%A9`` names
    ``café``), as :attr:`Assets.urls` and :attr:`Assets.images` are keyed."""
    return unquote(reference) if "%" in reference else reference


def published_url(output: str) -> str:
    """The URL of the published file ``output``, percent-encoded (a space would end a
    ``srcset`` entry; UTF-8 names are escaped as browsers send them). ``@`` and ``+`` are
    left as they are: ``logo@2x.png`` keeps the URL it always had."""
    return quote("/" + output, safe="/@+")


def _attribute_starts(text: str) -> list[int]:
    """Where a match of :data:`_RELATIVE_ATTRIBUTE` may begin: ``href``, ``src`` or
    ``poster`` before an ``="`` that its value follows."""
    return sorted(
        {
            match.start() - len(name)
            for match in _ATTRIBUTE_VALUE.finditer(text)
            for name in ("href", "src", "poster")
            if match.start() >= len(name)
        }
    )


def _reference_starts(text: str, base_length: int) -> list[int]:
    """Where a match of :attr:`Assets._references` may begin: at the ``/`` of a path that
    ends in a fingerprinted suffix, or ``base_length`` characters before it (the site's
    base URL)."""
    return sorted(
        {
            start
            for match in _REFERENCE_PATH.finditer(text)
            for start in (match.start(), match.start() - base_length)
            if start >= 0
        }
    )


def rewrite_css(css: str, url: str, hashed: Mapping[str, str]) -> str:
    """``css`` (published at ``url``) with each ``url(...)`` of a fingerprinted file hashed."""

    def replace(match: re.Match[str]) -> str:
        target = match[2].strip()
        if target.startswith(("data:", "#")) or "://" in target:
            return match[0]
        path, _, rest = target.partition("#")
        path, _, query = path.partition("?")
        found = hashed.get(file_url(urljoin(url, path)))
        if found is None:
            return match[0]
        tail = (f"?{query}" if query else "") + (f"#{rest}" if rest else "")
        return f'url("{found}{tail}")'

    return _CSS_URL.sub(replace, css)


def _site_image(path: Path, output: str, data: bytes, sha: str) -> SiteImage:
    source = display_path(path)
    try:
        info = probe(path)
    except ImageError as exc:
        return SiteImage(source, os.path.abspath(path), sha, None, str(exc))
    if not info.resizable:
        return SiteImage(source, os.path.abspath(path), sha, info)
    key = _sha(data, ENCODER.encode())
    stem = posixpath.splitext(hashed_name(output, sha))[0]
    variants = []
    for width in variant_widths(info.width):
        height = max(1, round(info.height * width / info.width))
        for image_format in dict.fromkeys(("webp", info.format)):
            suffix = extension(image_format)
            variants.append(
                Variant(
                    width,
                    height,
                    image_format,
                    f"{key}-{width}.{suffix}",
                    published_url(f"{stem}-{width}.{suffix}"),
                )
            )
    return SiteImage(source, os.path.abspath(path), sha, info, variants=tuple(variants))


def _sha(*parts: bytes) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(part)
    return hasher.hexdigest()


def _attributes(tag: str) -> dict[str, str]:
    """An HTML start tag's attributes, in order, unescaped."""
    inside = tag[tag.index(" ") + 1 if " " in tag else len(tag) : -1].rstrip("/")
    found = {}
    for match in _ATTRIBUTE.finditer(inside):
        value = next((v for v in match.groups()[1:] if v is not None), "")
        found[match[1].lower()] = html.unescape(value)
    return found


def _set_size(attributes: dict[str, str], width: int, height: int) -> None:
    """Give an ``<img>`` the ``width`` and ``height`` it lacks (space kept before it loads),
    in the proportion of the image when the template gave one of them."""
    given_width, given_height = attributes.get("width"), attributes.get("height")
    if given_width and given_height:
        return
    if given_width and given_width.isdigit():
        attributes["height"] = str(round(int(given_width) * height / width))
    elif given_height and given_height.isdigit():
        attributes["width"] = str(round(int(given_height) * width / height))
    else:
        attributes["width"], attributes["height"] = str(width), str(height)


def _tag(name: str, attributes: Mapping[str, str]) -> str:
    written = "".join(f' {key}="{html.escape(value)}"' for key, value in attributes.items())
    return f"<{name}{written}>"


def _line_of(page: Page, needle: str) -> int | None:
    """The first line of the page's file that mentions ``needle`` (an image's file name)."""
    with open(page.path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            if needle in line:
                return number
    return None


__all__ = [
    "FINGERPRINTED",
    "SIZES",
    "Assets",
    "SiteImage",
    "Variant",
    "file_url",
    "hashed_name",
    "outside_names",
    "plan_assets",
    "published_url",
    "rewrite_css",
]
