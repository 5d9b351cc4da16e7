"""The theme a marketer sets in ``site.toml``'s ``[theme]``, as templates use it.

:class:`Theme` is made once per build from the validated config. It

- derives the colour palette (light, and dark for ``prefers-color-scheme``) from the brand
  colours and warns, naming the key, where a pair fails WCAG AA contrast;
- checks that the logo and self-hosted font files exist, and writes their ``@font-face``;
- orders the navigation (``[theme] menu`` first, then pages' front matter ``menu``);
- gives templates ``theme`` and a few helpers (``hero_actions``, ``balanced_columns``, the
  ``responsive_tables`` filter); docs/theming.md documents them.

Nothing here reads a template: what a page looks like stays in ``templates/`` and ``static/``.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from ..config import FONT_STACKS, Link, SiteConfig
from ..errors import LinkWarning, SiteError
from .content import Page, display_path

# WCAG 2 AA: normal text needs a contrast ratio of 4.5:1 with its background.
AA_TEXT = 4.5


# --- colours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Color:
    """An sRGB colour, each channel 0..255 (floats, so that mixing does not round)."""

    red: float
    green: float
    blue: float

    @classmethod
    def parse(cls, text: str) -> Color:
        """``#2563eb`` or ``#26e`` (the config has checked the form)."""
        digits = text.lstrip("#")
        if len(digits) == 3:
            digits = "".join(digit * 2 for digit in digits)
        red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return cls(red, green, blue)

    @property
    def hex(self) -> str:
        return "#" + "".join(f"{round(channel):02x}" for channel in self._channels)

    @property
    def _channels(self) -> tuple[float, float, float]:
        return self.red, self.green, self.blue

    def mix(self, other: Color, amount: float) -> Color:
        """This colour moved ``amount`` (0..1) of the way to ``other``."""
        red, green, blue = (
            mine + (theirs - mine) * amount
            for mine, theirs in zip(self._channels, other._channels, strict=True)
        )
        return Color(red, green, blue)

    def luminance(self) -> float:
        """WCAG 2's relative luminance."""

        def linear(channel: float) -> float:
            value = round(channel) / 255
            return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

        red, green, blue = (linear(channel) for channel in self._channels)
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue


WHITE = Color(255, 255, 255)
BLACK = Color(0, 0, 0)


def contrast(first: Color, second: Color) -> float:
    """WCAG 2's contrast ratio of two colours, 1 to 21."""
    lighter, darker = sorted((first.luminance(), second.luminance()), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable(color: Color, backgrounds: Iterable[Color], toward: Color) -> Color:
    """``color``, moved toward ``toward`` in small steps until it reads (AA) on every one of
    ``backgrounds``; ``toward`` itself if no step does."""
    backgrounds = tuple(backgrounds)
    for step in range(21):
        candidate = color.mix(toward, step / 20)
        if all(contrast(candidate, back) >= AA_TEXT for back in backgrounds):
            return candidate
    return toward


def _best_on(background: Color, candidates: Iterable[Color]) -> Color:
    return max(candidates, key=lambda candidate: contrast(candidate, background))


@dataclass(frozen=True)
class Scheme:
    """One colour scheme's palette: four brand colours and what the theme derives from them.

    ``variables`` are the CSS custom properties that ``static/css/site.css`` uses.
    """

    text: Color
    background: Color
    accent: Color
    on_accent: Color
    code_background: Color

    def variables(self) -> dict[str, str]:
        text, background, accent = self.text, self.background, self.accent
        soft = background.mix(text, 0.03)
        tint = background.mix(accent, 0.08)
        colors = {
            "text": text,
            "text-muted": readable(text.mix(background, 0.3), (soft, tint), toward=text),
            "bg": background,
            "bg-soft": soft,
            "bg-tint": tint,
            "border": background.mix(text, 0.13),
            "border-strong": background.mix(text, 0.45),
            "accent": accent,
            # Hover states and accent-coloured text on the tint (current page, badges).
            "accent-strong": readable(accent.mix(text, 0.2), (background, tint), toward=text),
            "on-accent": self.on_accent,
            "accent-glow": background.mix(accent, 0.16),
            "code-bg": self.code_background,
            "code-text": readable(
                WHITE.mix(self.code_background, 0.1), (self.code_background,), WHITE
            ),
        }
        return {name: color.hex for name, color in colors.items()}


@dataclass(frozen=True)
class ContrastCheck:
    """A pair of colours that must read as text, and the keys a marketer would change."""

    what: str
    foreground: Color
    background: Color
    keys: tuple[str, ...]  # the first is named in the warning


def light_scheme(config: SiteConfig) -> Scheme:
    colors = config.theme.colors
    text, background = Color.parse(colors.text), Color.parse(colors.background)
    accent = Color.parse(colors.accent)
    return Scheme(
        text=text,
        background=background,
        accent=accent,
        on_accent=_on_accent(colors.on_accent, accent, text),
        code_background=_code_background(text),
    )


def dark_scheme(config: SiteConfig) -> Scheme:
    """The dark scheme: the configured dark colours, else ones derived from the light."""
    colors = config.theme.colors
    light = light_scheme(config)
    background = (
        Color.parse(colors.dark_background)
        if colors.dark_background
        else light.text.mix(BLACK, 0.2)
    )
    text = (
        Color.parse(colors.dark_text)
        if colors.dark_text
        else light.background.mix(light.text, 0.08)
    )
    accent = (
        Color.parse(colors.dark_accent)
        if colors.dark_accent
        else readable(light.accent, (background, background.mix(light.accent, 0.08)), toward=text)
    )
    return Scheme(
        text=text,
        background=background,
        accent=accent,
        on_accent=_on_accent(colors.on_accent, accent, light.text),
        code_background=background.mix(BLACK, 0.3),
    )


def _on_accent(configured: str | None, accent: Color, ink: Color) -> Color:
    """The configured text colour on the accent, else white or the ink, whichever reads."""
    if configured:
        return Color.parse(configured)
    return _best_on(accent, (WHITE, ink))


def _code_background(text: Color) -> Color:
    """Code blocks are dark in both schemes: the text colour when it is dark enough."""
    return text if text.luminance() < 0.03 else text.mix(BLACK, 0.6)


def contrast_checks(config: SiteConfig) -> list[ContrastCheck]:
    """Every colour pair the theme shows text in whose colours a marketer chooses."""
    colors = config.theme.colors
    light = light_scheme(config)
    on_accent_keys = ("on_accent", "accent") if colors.on_accent else ("accent", "on_accent")
    checks = [
        ContrastCheck("text on the background", light.text, light.background, ("text",)),
        ContrastCheck(
            "the accent (links, outlined buttons) on the background",
            light.accent,
            light.background,
            ("accent",),
        ),
        ContrastCheck(
            "text on the accent (buttons)", light.on_accent, light.accent, on_accent_keys
        ),
    ]
    if config.theme.dark_scheme:
        dark = dark_scheme(config)
        text_keys = ("dark_text", "dark_background") if colors.dark_text else ("dark_background",)
        accent_keys = ("dark_accent",) if colors.dark_accent else ("dark_background",)
        checks += [
            ContrastCheck(
                "dark scheme: text on the background", dark.text, dark.background, text_keys
            ),
            ContrastCheck(
                "dark scheme: the accent on the background",
                dark.accent,
                dark.background,
                accent_keys,
            ),
            ContrastCheck(
                "dark scheme: text on the accent (buttons)",
                dark.on_accent,
                dark.accent,
                ("on_accent", *accent_keys) if colors.on_accent else accent_keys,
            ),
        ]
    return checks


def contrast_warnings(config: SiteConfig) -> list[LinkWarning]:
    """A warning, at the key's line of site.toml, for each pair that fails WCAG AA."""
    warnings = []
    for check in contrast_checks(config):
        ratio = contrast(check.foreground, check.background)
        if ratio >= AA_TEXT:
            continue
        key = f"theme.colors.{check.keys[0]}"
        others = [f"theme.colors.{name}" for name in check.keys[1:]]
        advice = f"change {key}" + (f" or {' or '.join(others)}" if others else "")
        message = (
            f"{key}: {check.what}: {check.foreground.hex} on {check.background.hex} has a "
            f"contrast of {ratio:.2f}:1, WCAG AA needs {AA_TEXT}:1 ({advice})"
        )
        line = config.line_of(["theme", "colors", check.keys[0]])
        warnings.append(LinkWarning(display_path(config.source), line, message))
    return warnings


# --- fonts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFace:
    """One self-hosted font file of a family, for an ``@font-face`` rule."""

    family: str
    weight: str  # "400" or a variable font's "100 900"
    style: str  # "normal" or "italic"
    url: str

    @property
    def format(self) -> str:
        suffix = self.url.rsplit(".", 1)[-1].lower()
        return {"ttf": "truetype", "otf": "opentype"}.get(suffix, suffix)

    def css(self) -> str:
        return (
            f'@font-face{{font-family:"{self.family}";src:url("{self.url}") '
            f'format("{self.format}");font-weight:{self.weight};font-style:{self.style};'
            "font-display:swap}"
        )

    def covers_regular(self) -> bool:
        """Whether this file draws upright text of weight 400 (the body's)."""
        low, _, high = self.weight.partition(" ")
        return self.style == "normal" and int(low) <= 400 <= int(high or low)


def font_stack(name: str) -> str:
    """The CSS ``font-family`` of a theme font: a named stack, or a family before the system's."""
    return FONT_STACKS.get(name) or f'"{name}", {FONT_STACKS["system"]}'


# --- the theme -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    """One link of the site navigation: from ``[theme] menu`` or a page's front matter."""

    label: str
    url: str


class Theme:
    """The ``[theme]`` of one build, checked, with what templates see of it as ``theme``."""

    def __init__(self, config: SiteConfig) -> None:
        """Raise :class:`SiteError` at the key's line if a logo or font file is missing."""
        self.config = config
        settings = config.theme
        self.logo = self._site_file(settings.logo, ["theme", "logo"])
        self.logo_dark = self._site_file(settings.logo_dark, ["theme", "logo_dark"])
        self.favicon = self._site_file(settings.favicon, ["theme", "favicon"])
        self.logo_width = settings.logo_width
        self.logo_height = settings.logo_height
        self.show_title = settings.show_title or not self.logo  # a site needs a name
        self.footer_text = settings.footer_text
        self.post_cta = settings.post_cta
        self.dark_scheme = settings.dark_scheme
        body, headings = settings.font, settings.heading_font or settings.font
        self.font_faces = [
            FontFace(
                family,
                *_weight_and_style(face),
                self._site_file(url, ["theme", "fonts", family, face]),
            )
            for family, files in settings.fonts.items()
            if family in (body, headings)
            for face, url in files.items()
        ]
        self._stacks = {"font-body": font_stack(body), "font-heading": font_stack(headings)}
        self.preload = _preloads(self.font_faces, body, headings)
        self._contrast_warnings = contrast_warnings(config)
        # The entries of menu and footer_links that no page has, found by the last call
        # for each: one Theme serves many builds of the preview, each warned once.
        self._link_warnings: dict[str, list[LinkWarning]] = {}

    @property
    def warnings(self) -> list[LinkWarning]:
        """The colour pairs that fail WCAG AA contrast, and the menu entries no page has."""
        found = [*self._contrast_warnings]
        for key in ("menu", "footer_links"):
            found += self._link_warnings.get(key, [])
        return found

    # What templates read -----------------------------------------------------------------

    @functools.cached_property
    def css(self) -> Markup:
        """The palette and fonts as CSS, for a ``<style>`` in every page's ``<head>``
        (worked out once per build, not for each of thousands of pages)."""
        light = {**self._stacks, **light_scheme(self.config).variables()}
        rules = [face.css() for face in self.font_faces]
        scheme = "light dark" if self.dark_scheme else "light"
        rules.append(f":root{{color-scheme:{scheme};{_declarations(light)}}}")
        if self.dark_scheme:
            dark = dark_scheme(self.config).variables()
            rules.append(f"@media (prefers-color-scheme:dark){{:root{{{_declarations(dark)}}}}}")
        return Markup("\n".join(rules))  # noqa: S704 - built from validated values only

    def template_globals(self) -> dict[str, Any]:
        """The names this module adds to every template (docs/theming.md lists them)."""
        return {
            "theme": self,
            "hero_actions": hero_actions,
            "balanced_columns": balanced_columns,
        }

    def template_filters(self) -> dict[str, Callable[..., Any]]:
        return {"responsive_tables": responsive_tables}

    def navigation(
        self, pages: Sequence[Page], from_front_matter: Sequence[NavItem]
    ) -> list[NavItem]:
        """``[theme] menu`` in its order, then the pages with a front matter ``menu`` it
        does not list (in ``menu_order``)."""
        entries = self._links(self.config.theme.menu, pages, "menu")
        listed = {item.url for item in entries}
        return [*entries, *(item for item in from_front_matter if item.url not in listed)]

    def footer_links(self, pages: Sequence[Page], nav: Sequence[NavItem]) -> list[NavItem]:
        """``[theme] footer_links``, or the navigation when there are none."""
        if not self.config.theme.footer_links:
            return list(nav)
        return self._links(self.config.theme.footer_links, pages, "footer_links")

    # Checks --------------------------------------------------------------------------------

    def _links(
        self, entries: Sequence[str | Link], pages: Sequence[Page], key: str
    ) -> list[NavItem]:
        """Menu entries as links; a page URL takes the page's ``menu`` label or title.

        An entry whose page is not built (deleted, renamed, a draft) is left out with a
        warning at its line, as a broken link is: the rest of the site still publishes.
        """
        by_url = {page.url: page for page in pages}
        items = []
        warnings = self._link_warnings[key] = []
        for entry in entries:
            if isinstance(entry, Link):
                items.append(NavItem(entry.label, entry.url))
            elif entry in by_url:
                page = by_url[entry]
                items.append(NavItem(page.menu or page.title, page.url))
            else:
                message = (
                    f"theme.{key}: no page has the URL {entry!r} (a draft, or renamed?): "
                    "left out of the menu"
                )
                line = self.config.line_of(["theme", key])
                warnings.append(LinkWarning(display_path(self.config.source), line, message))
        return items

    def _site_file(self, url: str, loc: list[str]) -> str:
        """``url`` if it is empty, another site's, or a file the build publishes; else an error."""
        if not url or not url.startswith("/"):
            return url
        relative = url.split("?")[0].split("#")[0].lstrip("/")
        folders = (self.config.static_dir, self.config.content_dir)
        if not any((folder / relative).is_file() for folder in folders):
            raise self.config.error_at(
                loc,
                f"'{'.'.join(loc)}': there is no file {url} in static/ (or content/)",
                hint=f"add {display_path(self.config.static_dir / relative)}, or fix the path",
            )
        return url


def _weight_and_style(face: str) -> tuple[str, str]:
    """``"700 italic"`` -> ``("700", "italic")``; ``"100 900"`` -> ``("100 900", "normal")``."""
    style = "italic" if face.endswith(" italic") else "normal"
    return face.removesuffix(" italic"), style


def _preloads(faces: Sequence[FontFace], body: str, headings: str) -> list[str]:
    """The woff2 files every page needs at once: the body's regular face, the headings'."""
    urls = []
    for family in dict.fromkeys((body, headings)):
        regular = [f for f in faces if f.family == family and f.format == "woff2"]
        chosen = next((face for face in regular if face.covers_regular()), None) or next(
            iter(regular), None
        )
        if chosen is not None:
            urls.append(chosen.url)
    return list(dict.fromkeys(urls))


def _declarations(variables: dict[str, str]) -> str:
    return ";".join(f"--{name}:{value}" for name, value in variables.items())


# --- template helpers ----------------------------------------------------------------------


def balanced_columns(count: int, most: int) -> int:
    """Columns for ``count`` cards, at most ``most`` a row, rows as even as they can be:
    5 cards in rows of 4 would leave one alone; in rows of 3 they make 3 + 2."""
    if count <= 0:
        return 1
    rows = math.ceil(count / most)
    return math.ceil(count / rows)


def hero_actions(page: Page) -> list[Link]:
    """The buttons of a landing page's hero: its front matter ``actions``, checked.

    ``actions`` is a list of ``{label, url}``; a bad one is an error at its line.
    """
    actions = page.meta.get("actions") or []
    if not isinstance(actions, list):
        raise _front_matter_error(page, "actions", "'actions' must be a list of label/url pairs")
    links = []
    for number, action in enumerate(actions, 1):
        if (
            not isinstance(action, dict)
            or set(action) != {"label", "url"}
            or not all(isinstance(value, str) and value.strip() for value in action.values())
        ):
            raise _front_matter_error(
                page,
                "actions",
                f"action {number} of 'actions' must have just a 'label' and a 'url': {action!r}",
            )
        links.append(Link(label=action["label"].strip(), url=action["url"].strip()))
    return links


def _front_matter_error(page: Page, key: str, message: str) -> SiteError:
    return SiteError(
        message,
        display_path(page.path),
        front_matter_line(page, key),
        hint="e.g.\n  actions:\n    - label: See plans\n      url: /pricing/",
    )


def front_matter_line(page: Page, key: str) -> int:
    """The line of ``key:`` (YAML) or ``key =`` (TOML) in the page's front matter; 1 when it
    is not written."""
    with open(page.path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if number >= page.body_line:
                break
            if line.startswith(f"{key}:") or line.split("=")[0].strip() == key:
                return number
    return 1


_TABLE_OR_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>|<table\b|</table>", re.DOTALL)
_HEADERLINK = re.compile(r'<a\b[^>]*class="headerlink"[^>]*>.*?</a>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def responsive_tables(content: str) -> Markup:
    """Each ``<table>`` of rendered Markdown inside a box that scrolls sideways on its own.

    The box is a keyboard-focusable region named after the heading above the table, so that
    a keyboard or screen reader user can reach and scroll it as a mouse user does.
    """
    if "<table" not in content:
        return Markup(content)  # noqa: S704 - the page's own rendered HTML
    parts = []
    position = 0
    heading = ""
    for match in _TABLE_OR_HEADING.finditer(content):
        parts.append(content[position : match.start()])
        position = match.end()
        tag = match[0]
        if match[1]:
            heading = html.unescape(_TAG.sub("", _HEADERLINK.sub("", match[2]))).strip()
            parts.append(tag)
        elif tag == "</table>":
            parts.append("</table></div>")
        else:
            label = html.escape(heading or "Table")
            parts.append(
                f'<div class="table-scroll" role="region" tabindex="0" aria-label="{label}"><table'
            )
    parts.append(content[position:])
    return Markup("".join(parts))  # noqa: S704 - the page's own HTML, wrapped


__all__ = [
    "AA_TEXT",
    "Color",
    "NavItem",
    "Theme",
    "balanced_columns",
    "contrast",
    "contrast_warnings",
    "dark_scheme",
    "font_stack",
    "front_matter_line",
    "hero_actions",
    "light_scheme",
    "responsive_tables",
]
