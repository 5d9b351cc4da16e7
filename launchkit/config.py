"""Load and validate ``site.toml``: the one place for the site, Rewardful, checkout and catalogue.

The builder and the checkout server both call :func:`load_config`; neither keeps a copy of
any of these facts. Validation happens here, once, so that every later step can trust the
values: a typo'd key, a missing value, a price ID that is not ``price_…``, a relative URL or
an unknown mode is a :class:`SiteError` naming the key and its line in the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import SiteError

DEFAULT_CONFIG = "site.toml"

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


def _origin(value: str) -> str:
    parts = urlsplit(_absolute_url(value))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"must be an origin such as https://shop.example, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


AbsoluteUrl = Annotated[str, AfterValidator(_absolute_url)]
Endpoint = Annotated[str, AfterValidator(_endpoint)]
Origin = Annotated[str, AfterValidator(_origin)]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Site(_Section):
    """What the whole site is: its name, where it lives, its language."""

    title: NonEmpty
    base_url: AbsoluteUrl
    language: str = "en"
    description: str = ""
    author: str = ""
    image: str = ""  # default social image, a path under the site root
    # The newest posts the Atom feed carries in full; readers poll it, so it stays small.
    feed_entries: Annotated[int, Field(ge=1, le=10_000)] = 20

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

    api_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
    domains: list[NonEmpty] = []
    params: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]] = []
    # Stripe coupon IDs of double-sided campaigns; any other coupon in a form is ignored.
    coupons: list[Token] = []


class Checkout(_Section):
    """Where buy forms post to and where Stripe sends the buyer back."""

    endpoint: Endpoint
    success_url: AbsoluteUrl
    cancel_url: AbsoluteUrl
    # Origins besides the site's own whose pages may post to the endpoint (staging, preview).
    allowed_origins: list[Origin] = []

    @property
    def endpoint_path(self) -> str:
        return urlsplit(self.endpoint).path or "/"


class Product(_Section):
    """One entry of the catalogue: what a buy form sells and how Stripe should charge it."""

    key: str = ""  # filled in from the table name by SiteConfig
    name: NonEmpty
    price_id: Annotated[str, Field(pattern=r"^price_[A-Za-z0-9_]+$")]
    mode: Literal["payment", "subscription"]
    price_text: NonEmpty
    description: str = ""
    features: list[str] = []
    button_label: NonEmpty = "Buy now"
    min_quantity: Annotated[int, Field(ge=1, le=999_999)] = 1
    max_quantity: Annotated[int, Field(ge=1, le=999_999)] = 1
    # Let the buyer change the quantity on Stripe's page, within min/max.
    adjustable_quantity: bool = False
    allow_promotion_codes: bool = False

    @model_validator(mode="after")
    def _quantity_range(self) -> Product:
        if self.max_quantity < self.min_quantity:
            raise ValueError("max_quantity must not be less than min_quantity")
        return self

    @property
    def quantity_choice(self) -> bool:
        """Whether the buy form offers a quantity field."""
        return self.max_quantity > self.min_quantity


ProductKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class SiteConfig(_Section):
    """The validated contents of ``site.toml`` plus the folder it was read from."""

    root: Path
    site: Site
    rewardful: Rewardful
    checkout: Checkout
    products: dict[ProductKey, Product]

    @model_validator(mode="before")
    @classmethod
    def _name_products(cls, data: dict) -> dict:
        products = data.get("products")
        if isinstance(products, dict):
            data["products"] = {
                key: {**value, "key": key} if isinstance(value, dict) else value
                for key, value in products.items()
            }
        return data

    def fingerprint(self) -> str:
        """Every value as one string: equal fingerprints, equal configs (for cache keys)."""
        return self.model_dump_json()

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


def load_config(path: str | Path = DEFAULT_CONFIG) -> SiteConfig:
    """Read and validate a ``site.toml``; raise :class:`SiteError` naming the bad key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
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
    data.setdefault("products", {})
    try:
        return SiteConfig(root=path.resolve().parent, **data)
    except ValidationError as exc:
        raise _config_error(exc, path, text) from None


def _config_error(exc: ValidationError, path: Path, text: str) -> SiteError:
    """Turn pydantic's first error into one naming the key, as a marketer wrote it."""
    # A typo'd key also shows up as a missing one; the typo is the more useful message.
    error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        message = f"unknown key '{key}'"
        hint = "check the spelling against the README's site.toml reference"
    elif error["type"] == "missing":
        message = f"missing required key '{key}'"
        hint = None
    else:
        reason = error["msg"].removeprefix("Value error, ")
        message = f"'{key}': {reason}"
        hint = None
    return SiteError(message, path, _line_of(text, loc), hint)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line of a dotted key in TOML text: the key's line, else its table's."""
    best = None
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = re.match(r"^\[+([^\]]+)\]+", line)
        if header:
            table = [part.strip().strip("\"'") for part in header[1].split(".")]
            if table == loc[: len(table)] and best is None:
                best = number
            continue
        match = re.match(r"^([A-Za-z0-9_\"'.-]+)\s*=", line)
        if match and [*table, match[1].strip("\"'")] == loc[: len(table) + 1]:
            return number
    return best
