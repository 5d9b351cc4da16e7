"""Load and validate ``site.toml``: the one place for the site, Rewardful, checkout and catalogue.

The builder and the checkout server both call :func:`load_config`; neither keeps a copy of
any of these facts. Validation happens here, once, so that every later step can trust the
values: a typo'd key, a missing value, a price ID that is not ``price_…``, a relative URL or
an unknown mode is a :class:`SiteError` naming the key and its line in the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args
from urllib.parse import urlsplit

import msgspec

from .errors import SiteError
from .sourcetext import read_text

DEFAULT_CONFIG = "site.toml"

_T = TypeVar("_T")

# Stripe secret and restricted keys; a config file is committed and published, a key is not.
_SECRET_KEY = re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+")


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    return value


def _endpoint(value: str) -> str:
    if value.startswith("/") and not value.startswith("//"):
        return value
    return _absolute_url(value)


def _site_path_or_url(value: str) -> str:
    """A path on the site (``/images/logo.svg``) or an absolute http(s) URL."""
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        return _absolute_url(value)
    except ValueError:
        raise ValueError(
            f"must be a path on the site such as /images/logo.svg, or an absolute URL, "
            f"got {value!r}"
        ) from None


def _hex_color(value: str) -> str:
    if not re.fullmatch(r"#(?:[0-9A-Fa-f]{3}){1,2}", value):
        raise ValueError(f"must be a hex colour such as #2563eb, got {value!r}")
    return value.lower()


def _link_url(value: str) -> str:
    """Where a menu or footer link may point: the site, another site, or an email address."""
    if value.startswith("mailto:") and "@" in value:
        return value
    return _site_path_or_url(value)


def _origin(value: str) -> str:
    parts = urlsplit(_absolute_url(value))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"must be an origin such as https://shop.example, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=999_999)]
ProductKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]  # ISO 4217: USD, EUR
FontFamily = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")]
# A self-hosted font file's weight (or a variable font's range) and style: "400", "100 900",
# "700 italic".
FontFace = Annotated[str, msgspec.Meta(pattern=r"^[1-9]00(?: [1-9]00)?(?: italic)?$")]
PixelSize = Annotated[int, msgspec.Meta(ge=1, le=4000)]

# The font stacks a theme can name; each uses the fonts the visitor's system already has.
FONT_STACKS = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "serif": 'ui-serif, "Iowan Old Style", "Palatino Linotype", Palatino, Georgia, serif',
    "rounded": 'ui-rounded, "SF Pro Rounded", "Nunito", "Varela Round", system-ui, sans-serif',
    "mono": 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
}
_FONT_FILE = re.compile(r"\.(woff2|woff|ttf|otf)$", re.IGNORECASE)


class _InvalidValue(ValueError):
    """A value a table's own check refused; ``loc`` is its key path inside that table."""

    def __init__(self, reason: str, loc: list[str]) -> None:
        super().__init__(reason)
        self.loc = loc


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A table of ``site.toml``: read-only once loaded, and a key it does not know is an error."""

    # Checks msgspec's types cannot express: field -> function returning the value to keep
    # (applied to each item of a list field). msgspec calls __post_init__ after the types.
    _checks: ClassVar[dict[str, Callable[[str], str]]] = {}

    def __post_init__(self) -> None:
        for name, check in self._checks.items():
            value = getattr(self, name)
            if value is None:  # an optional key left out
                continue
            if isinstance(value, list):
                value = [_checked(check, item, [name, str(i)]) for i, item in enumerate(value)]
            else:
                value = _checked(check, value, [name])
            msgspec.structs.force_setattr(self, name, value)


def _checked(check: Callable[[str], str], value: str, loc: list[str]) -> str:
    """``check(value)``; its ``ValueError`` becomes one that says which key it is about."""
    try:
        return check(value)
    except ValueError as exc:
        raise _InvalidValue(str(exc), loc) from None


class Site(_Section):
    """What the whole site is: its name, where it lives, its language."""

    title: NonEmpty
    base_url: str
    language: str = "en"
    description: str = ""
    author: str = ""
    image: str = ""  # default social image, a path under the site root
    # The newest posts the Atom feed carries in full; readers poll it, so it stays small.
    feed_entries: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20
    # The posts a list page shows (the blog's, a tag's) before the next page takes over.
    page_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10

    _checks: ClassVar = {"base_url": _absolute_url}

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def absolute(self, url: str) -> str:
        """An absolute URL for a site path such as ``/pricing/``."""
        if urlsplit(url).scheme:
            return url
        return self.base_url.rstrip("/") + "/" + url.lstrip("/")


class Rewardful(_Section):
    """Rewardful's public tracking settings and the campaign coupons the site accepts."""

    api_key: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
    domains: list[NonEmpty] = []
    params: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+$")]] = []
    # Stripe coupon IDs of double-sided campaigns; any other coupon in a form is ignored.
    coupons: list[Token] = []


class Checkout(_Section):
    """Where buy forms post to and where Stripe sends the buyer back."""

    endpoint: str
    success_url: str
    cancel_url: str
    # Origins besides the site's own whose pages may post to the endpoint (staging, preview).
    allowed_origins: list[str] = []

    _checks: ClassVar = {
        "endpoint": _endpoint,
        "success_url": _absolute_url,
        "cancel_url": _absolute_url,
        "allowed_origins": _origin,
    }

    @property
    def endpoint_path(self) -> str:
        return urlsplit(self.endpoint).path or "/"


# Stripe Checkout's modes a product can be sold in.
Mode = Literal["payment", "subscription"]
# What a pricing card says under the price when the product sets no ``billing_note``.
DEFAULT_BILLING_NOTES: dict[str, str] = {
    "payment": "One-time payment · no renewal",
    "subscription": "Subscription · cancel any time",
}


class Product(_Section):
    """One entry of the catalogue: what a buy form sells and how Stripe should charge it."""

    name: NonEmpty
    price_id: Annotated[str, msgspec.Meta(pattern=r"^price_[A-Za-z0-9_]+$")]
    mode: Mode
    price_text: NonEmpty
    key: str = ""  # filled in from the table name by load_config
    description: str = ""
    features: list[str] = []
    button_label: NonEmpty = "Buy now"
    min_quantity: Quantity = 1
    max_quantity: Quantity = 1
    # Let the buyer change the quantity on Stripe's page, within min/max.
    adjustable_quantity: bool = False
    allow_promotion_codes: bool = False
    # How the theme shows it: on the pricing page's grid or not, a badge ("Most popular"),
    # the line under the price (default: DEFAULT_BILLING_NOTES of its mode; "" for none).
    in_pricing: bool = True
    badge: str = ""
    billing_note: str | None = None
    # The amount and ISO 4217 currency of price_text, for search engines' structured data.
    price: Decimal | None = None
    currency: Currency | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_quantity < self.min_quantity:
            raise ValueError("max_quantity must not be less than min_quantity")
        if self.price is not None and (not self.price.is_finite() or self.price < 0):
            raise _InvalidValue("must be an amount such as 19 or 19.99", ["price"])
        if self.currency is not None:
            msgspec.structs.force_setattr(self, "currency", self.currency.upper())
        if self.price is not None and self.currency is None:
            raise _InvalidValue(
                "is required with 'price': an ISO 4217 code such as 'USD'", ["currency"]
            )

    @property
    def billing(self) -> str:
        """The line a pricing card shows under the price."""
        if self.billing_note is None:
            return DEFAULT_BILLING_NOTES[self.mode]
        return self.billing_note

    @property
    def quantity_choice(self) -> bool:
        """Whether the buy form offers a quantity field."""
        return self.max_quantity > self.min_quantity


class Link(_Section):
    """A link of the menu or the footer that is not (only) a page: a label and where it goes."""

    label: NonEmpty
    url: NonEmpty

    _checks: ClassVar = {"url": _link_url}


def _menu_entry(value: str | Link) -> str | Link:
    """A menu entry: a page's URL on the site ("/pricing/"), or a :class:`Link`."""
    if isinstance(value, Link):
        return value
    if not value.startswith("/") or value.startswith("//"):
        raise ValueError(
            f"must be a page's URL such as /pricing/, or {{ label = …, url = … }}, got {value!r}"
        )
    return value


class Colors(_Section):
    """The brand colours the theme derives its palette from (hex, ``#2563eb``).

    Left out, ``on_accent`` is white or the text colour, whichever reads better on the accent,
    and the dark scheme's colours are derived from the light ones.
    """

    accent: str = "#2563eb"
    text: str = "#0f172a"
    background: str = "#ffffff"
    on_accent: str | None = None
    dark_background: str | None = None
    dark_text: str | None = None
    dark_accent: str | None = None

    _checks: ClassVar = dict.fromkeys(
        [
            "accent",
            "text",
            "background",
            "on_accent",
            "dark_background",
            "dark_text",
            "dark_accent",
        ],
        _hex_color,
    )


class CallToAction(_Section):
    """The box at the end of every blog post; without a ``label`` there is none."""

    title: str = ""  # in bold before the text
    text: str = ""
    label: str = ""
    url: str = "/"

    _checks: ClassVar = {"url": _link_url}


class Theme(_Section):
    """How the site looks and what its frame says: ``[theme]``, documented in docs/theming.md."""

    logo: str = ""  # a path on the site or a URL; "" shows the title alone
    logo_dark: str = ""  # the logo on the dark scheme; default: logo
    logo_width: PixelSize = 32  # the logo's proportions; it is shown 32 px high
    logo_height: PixelSize = 32
    show_title: bool = True  # the site title beside the logo (false for a wordmark logo)
    favicon: str = ""  # a path on the site or a URL; "" links none
    font: NonEmpty = "system"  # a FONT_STACKS name or a family of [theme.fonts]
    heading_font: str = ""  # default: font
    # Self-hosted families: {family: {"400": "/fonts/x.woff2", "700 italic": …}}.
    fonts: dict[FontFamily, dict[FontFace, str]] = {}
    colors: Colors = msgspec.field(default_factory=Colors)
    dark_scheme: bool = True  # follow the visitor's prefers-color-scheme
    menu: list[str | Link] = []  # the navigation's order: these first, then front matter's
    footer_text: str = ""
    footer_links: list[str | Link] = []  # default: the navigation
    post_cta: CallToAction = msgspec.field(default_factory=CallToAction)

    _checks: ClassVar = {
        "logo": lambda value: value and _site_path_or_url(value),
        "logo_dark": lambda value: value and _site_path_or_url(value),
        "favicon": lambda value: value and _site_path_or_url(value),
        "menu": _menu_entry,
        "footer_links": _menu_entry,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("font", "heading_font"):
            name = getattr(self, key)
            if name and name not in FONT_STACKS and name not in self.fonts:
                choices = ", ".join([*FONT_STACKS, *self.fonts])
                raise _InvalidValue(f"unknown font {name!r}: use one of {choices}", [key])
        for family, files in self.fonts.items():
            for face, url in files.items():
                if not url.startswith("/") or not _FONT_FILE.search(url):
                    raise _InvalidValue(
                        f"must be a font file on the site (.woff2, .woff, .ttf, .otf) "
                        f"such as /fonts/inter.woff2, got {url!r}",
                        ["fonts", family, face],
                    )


# The parts of a permalink pattern (Hugo's names), each a part of the page's URL:
# :slug is the front matter's slug, else the title, made URL-safe.
PERMALINK_TOKENS = frozenset(
    {"year", "month", "day", "slug", "title", "section", "filename", "slugorfilename"}
)
_PERMALINK_TOKEN = re.compile(r":([A-Za-z_]+)")


def _permalink(value: str) -> str:
    """A permalink pattern: a path starting with ``/`` made of known ``:tokens``."""
    if not value.startswith("/") or value.startswith("//") or "?" in value or "#" in value:
        raise ValueError(f"must be a path on the site such as /blog/:year/:slug/, got {value!r}")
    for token in _PERMALINK_TOKEN.findall(value):
        if token not in PERMALINK_TOKENS:
            known = ", ".join(f":{name}" for name in sorted(PERMALINK_TOKENS))
            raise ValueError(f"unknown token ':{token}' in {value!r}: use {known}")
    if not _PERMALINK_TOKEN.search(value):
        raise ValueError(f"names no token (:slug, :year, …), so every page gets {value!r}")
    return value


class _SiteFile(_Section):
    """The tables of ``site.toml``, validated."""

    site: Site
    rewardful: Rewardful
    checkout: Checkout
    products: dict[ProductKey, Product] = {}
    theme: Theme = msgspec.field(default_factory=Theme)
    # Section -> URL pattern of its pages (Hugo's [permalinks]; [permalinks.page] too).
    permalinks: dict[str, str | dict[str, str]] = {}
    # The site's own values for templates and the {{< param >}} shortcode (Hugo's [params]).
    params: dict[str, Any] = {}

    def __post_init__(self) -> None:
        super().__post_init__()
        flat = {}
        for key, value in self.permalinks.items():
            if isinstance(value, dict):
                if key != "page":  # Hugo's [permalinks.section], [permalinks.term]
                    raise _InvalidValue(
                        "only [permalinks] and [permalinks.page] are read: a section's own "
                        "page keeps its folder's URL",
                        ["permalinks", key],
                    )
                for section, pattern in value.items():
                    flat[section] = _checked(_permalink, pattern, ["permalinks", key, section])
            else:
                flat[key] = _checked(_permalink, value, ["permalinks", key])
        msgspec.structs.force_setattr(self, "permalinks", flat)


class SiteConfig(_SiteFile, kw_only=True):
    """The validated contents of ``site.toml`` plus the folder it was read from.

    ``root`` is not a key of the file (a ``root`` there is an unknown key), so it is a field
    of this subclass only.
    """

    root: Path
    source: Path  # the file itself, for errors found after loading (theme files, menu URLs)

    def error_at(self, loc: list[str], message: str, hint: str | None = None) -> SiteError:
        """An error about the key at ``loc`` (``["theme", "logo"]``), at its line of the file."""
        return SiteError(message, self.source, self.line_of(loc), hint)

    def line_of(self, loc: list[str]) -> int | None:
        """The line of the key at ``loc``, else of its table; None if neither is written."""
        try:
            return _line_of(self.source.read_text(encoding="utf-8"), loc)
        except OSError:
            return None

    def fingerprint(self) -> str:
        """Every value as one string: equal fingerprints, equal configs (for cache keys)."""
        return msgspec.json.encode(self, enc_hook=_path_as_text).decode()

    @property
    def allowed_origins(self) -> frozenset[str]:
        """The origins whose pages may post buy forms: the site's own and any configured."""
        return frozenset([self.site.origin, *self.checkout.allowed_origins])

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def static_dir(self) -> Path:
        return self.root / "static"


def _path_as_text(value: object) -> str:
    """JSON for the one type in a config msgspec does not encode itself: ``Path``."""
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"no JSON for {type(value).__name__}")


def site_root(config_file: str | Path) -> Path:
    """The folder of the site whose config file this is (:attr:`SiteConfig.root`): known
    before the file is read (the CLI finds its build cache there first)."""
    return Path(config_file).resolve().parent


def load_config(path: str | Path = DEFAULT_CONFIG) -> SiteConfig:
    """Read and validate a ``site.toml``; raise :class:`SiteError` naming the bad key."""
    path = Path(path)
    try:
        text = read_text(path, str(path))
    except FileNotFoundError:
        raise SiteError("config file not found", path, hint="pass --config FILE") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise SiteError(f"not valid TOML: {exc}", path, int(line[1]) if line else None) from None
    secret = _SECRET_KEY.search(text)
    if secret:
        line = text.count("\n", 0, secret.start()) + 1
        raise SiteError(
            "a Stripe secret key must not be in the config file",
            path,
            line,
            hint="remove it and set STRIPE_SECRET_KEY in the checkout server's environment",
        )
    data = _named_products(_stripped(data))
    try:
        tables = _validated(data, _SiteFile)
    except msgspec.ValidationError as exc:
        raise _config_error(exc, data, path, text) from None
    return SiteConfig(root=site_root(path), source=path.resolve(), **msgspec.structs.asdict(tables))


def _validated(data: object, kind: type[_T]) -> _T:
    """``data`` as ``kind``, or msgspec's first error.

    Lax, as the config always was: ``"50"`` or ``50.0`` is a quantity, ``"true"`` a boolean.
    """
    return msgspec.convert(data, kind, strict=False)


def _stripped(value: object) -> object:
    """``value`` with the surrounding whitespace of every string in it removed."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_stripped(item) for item in value]
    if isinstance(value, dict):
        return {key: _stripped(item) for key, item in value.items()}
    return value


def _named_products(data: dict) -> dict:
    """``data`` whose product tables also say their table name, as ``key``."""
    products = data.get("products")
    if isinstance(products, dict):
        data["products"] = {
            key: {**value, "key": key} if isinstance(value, dict) else value
            for key, value in products.items()
        }
    return data


# msgspec's error ends with where it is: " - at `$.site.title`", " - at `$.coupons[1]`", or
# " - at `key` in `$.products`" for a bad dict key; none for the top level.
_AT = re.compile(r" - at `(?:(key)` in `)?\$([^`]*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[([^\]]*)\]")  # .name or [index], [...] for a dict's
_FIELD = re.compile(r"Object (contains unknown|missing required) field `(.*)`")


def _config_error(exc: msgspec.ValidationError, data: dict, path: Path, text: str) -> SiteError:
    """Turn msgspec's error into one naming the key, as a marketer wrote it."""
    reason, loc = _reason_and_key(exc)
    if loc[:2] == ["products", "..."]:
        reason, loc = _product_error(data["products"]) or (reason, loc)
    field = _FIELD.fullmatch(reason)
    if reason.startswith("Invalid enum value") and loc[-1:] == ["mode"]:
        reason += f": use {' or '.join(map(repr, get_args(Mode)))}"  # msgspec names no choices
    if not field:
        return SiteError(f"'{'.'.join(loc)}': {reason}", path, _line_of(text, loc))
    loc = [*loc, field[2]]
    key = ".".join(loc)
    if field[1] == "missing required":
        return SiteError(f"missing required key '{key}'", path, _line_of(text, loc))
    # msgspec meets a typo'd key before it notices the key it should have been.
    hint = "check the spelling against the README's site.toml reference"
    return SiteError(f"unknown key '{key}'", path, _line_of(text, loc), hint)


def _reason_and_key(exc: msgspec.ValidationError) -> tuple[str, list[str]]:
    """msgspec's reason and the key path it is about; ``...`` stands for a dict entry's key."""
    message = str(exc)
    at = _AT.search(message)
    loc = [name or index for name, index in _PATH_PART.findall(at[2])] if at else []
    if at and at[1]:
        loc.append("...")
    if isinstance(exc.__cause__, _InvalidValue):
        loc += exc.__cause__.loc
    return (message[: at.start()] if at else message), loc


def _product_error(products: dict) -> tuple[str, list[str]] | None:
    """The first bad product's reason and key path, which msgspec's path gives as ``[...]``."""
    for key, table in products.items():
        try:
            _validated(key, ProductKey)
            _validated(table, Product)
        except msgspec.ValidationError as exc:
            reason, loc = _reason_and_key(exc)
            return reason, ["products", key, *loc]
    return None


def key_line(path: str | Path, loc: list[str]) -> int | None:
    """The line of the dotted key ``loc`` in the TOML file at ``path`` (best effort)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    return _line_of(text, loc)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line of a dotted key in TOML text: the key's line, else its innermost
    table's (``[theme.colors]`` rather than ``[theme]``)."""
    best, depth = None, 0
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = re.match(r"^\[+([^\]]+)\]+", line)
        if header:
            table = [part.strip().strip("\"'") for part in header[1].split(".")]
            if table == loc[: len(table)] and len(table) > depth:
                best, depth = number, len(table)
            continue
        # A bare key, or a quoted one that may hold spaces ("100 900" = …).
        match = re.match(r"^(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=", line)
        if match and [*table, match[1].strip("\"'")] == loc[: len(table) + 1]:
            return number
    return best
