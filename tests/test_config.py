"""site.toml is validated on load, and every error names the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchkit.config import SiteConfig, load_config
from launchkit.errors import SiteError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "site.toml").read_text(encoding="utf-8")


def _load_edited(tmp_path: Path, old: str, new: str) -> SiteError:
    """Load the example config with one edit and return the error it must raise."""
    assert old in EXAMPLE, f"test fixture out of date: {old!r} not in site.toml"
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SiteError) as caught:
        load_config(path)
    return caught.value


def _load_with(tmp_path: Path, old: str, new: str) -> SiteConfig:
    """Load the example config with one edit that must still be valid."""
    assert old in EXAMPLE, f"test fixture out of date: {old!r} not in site.toml"
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.replace(old, new, 1), encoding="utf-8")
    return load_config(path)


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_example_config_loads_with_catalogue() -> None:
    config = load_config(ROOT / "site.toml")
    assert set(config.products) == {"lifetime", "pro", "team", "audit"}
    assert config.products["team"].key == "team"
    assert config.products["team"].quantity_choice
    assert not config.products["lifetime"].quantity_choice
    assert config.allowed_origins == {"https://beacon.example"}
    assert config.checkout.endpoint_path == "/create-checkout-session"
    assert config.content_dir == ROOT / "content"


def test_typo_in_key_names_the_key_and_line(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'price_id = "price_1QbeaconAudit"', 'prise_id = "price_1"')
    assert "unknown key 'products.audit.prise_id'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "prise_id")
    assert str(error).startswith(f"{tmp_path / 'site.toml'}:{error.line}: ")


def test_missing_value_is_named(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'title = "Beacon"\n', "")
    assert "missing required key 'site.title'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "[site]")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"price_1QbeaconProMonthly"', '"prod_123"', "products.pro.price_id"),
        ('mode = "subscription"', 'mode = "monthly"', "products.pro.mode"),
        ('base_url = "https://beacon.example"', 'base_url = "/"', "site.base_url"),
        (
            'cancel_url = "https://beacon.example/canceled/"',
            'cancel_url = "canceled"',
            "checkout.cancel_url",
        ),
        ("max_quantity = 50", "max_quantity = 1", "products.team"),
        ('api_key = "b3acn1"', 'api_key = "<script>"', "rewardful.api_key"),
        (
            "allowed_origins = []",
            'allowed_origins = ["https://x.example/path"]',
            "checkout.allowed_origins.0",
        ),
        ("[products.pro]", "[products.Pro]", "products.Pro"),
        ('coupons = ["PARTNER20"]', 'coupons = ["PARTNER20", "a b"]', "rewardful.coupons.1"),
    ],
)
def test_invalid_values_name_their_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    error = _load_edited(tmp_path, old, new)
    assert f"'{key}'" in error.message
    assert error.line is not None


def test_secret_key_in_config_is_refused(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, "allowed_origins = []", 'secret = "sk_live_abc123"')
    assert "secret key" in error.message
    assert "sk_live_abc123" not in str(error)
    assert error.line == _line_of(tmp_path / "site.toml", "secret =")


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'language = "en"', "language = ")
    assert "not valid TOML" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "language =")


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_endpoint_may_be_a_path_on_the_site(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE.replace("https://pay.beacon.example/create-checkout-session", "/buy"))
    assert load_config(path).checkout.endpoint_path == "/buy"


def test_surrounding_whitespace_of_values_is_dropped(tmp_path: Path) -> None:
    config = _load_with(tmp_path, 'title = "Beacon"', 'title = "  Beacon\t"')
    assert config.site.title == "Beacon"
    config = _load_with(tmp_path, '"1-minute checks"', '" 1-minute checks "')
    assert config.products["lifetime"].features[1] == "1-minute checks"


def test_blank_value_counts_as_empty(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'button_label = "Start Pro"', 'button_label = "   "')
    assert "'products.pro.button_label'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", 'button_label = "   "')


def test_allowed_origins_are_normalised(tmp_path: Path) -> None:
    config = _load_with(
        tmp_path, "allowed_origins = []", 'allowed_origins = ["HTTPS://Staging.example/"]'
    )
    assert config.checkout.allowed_origins == ["https://Staging.example"]
    assert "https://Staging.example" in config.allowed_origins


def test_quantities_written_as_text_are_numbers(tmp_path: Path) -> None:
    config = _load_with(tmp_path, "max_quantity = 50", 'max_quantity = "50"')
    assert config.products["team"].max_quantity == 50


def test_root_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, "[site]", 'root = "/etc"\n\n[site]')
    assert "unknown key 'root'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "root =")


def test_config_is_read_only() -> None:
    config = load_config(ROOT / "site.toml")
    with pytest.raises(AttributeError):
        config.site.title = "Other"  # type: ignore[misc]


def test_fingerprint_follows_every_value(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    first = load_config(path).fingerprint()
    assert load_config(path).fingerprint() == first
    assert str(tmp_path) in first  # the root, a Path, counts too
    path.write_text(EXAMPLE.replace("$149 once", "$159 once"), encoding="utf-8")
    assert load_config(path).fingerprint() != first


def test_unknown_mode_lists_the_modes(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'mode = "subscription"', 'mode = "monthly"')
    assert "'payment' or 'subscription'" in error.message


# --- [theme] and the catalogue's display keys ---------------------------------------------


def test_example_theme_and_catalogue_display_keys() -> None:
    config = load_config(ROOT / "site.toml")
    assert config.theme.colors.accent == "#2563eb"
    assert config.theme.logo == "/images/logo.svg"
    assert config.products["pro"].badge == "Most popular"
    assert str(config.products["pro"].price) == "19"
    assert config.products["pro"].currency == "USD"
    assert config.products["lifetime"].billing == "One-time payment · no renewal"
    assert config.products["team"].billing == "Subscription per seat · cancel any time"
    assert all(product.in_pricing for product in config.products.values())


def test_a_config_without_theme_gets_the_default_theme(tmp_path: Path) -> None:
    start = EXAMPLE.index("[theme]")
    end = EXAMPLE.index("# The catalogue.")
    path = tmp_path / "site.toml"
    path.write_text(EXAMPLE[:start] + EXAMPLE[end:], encoding="utf-8")
    config = load_config(path)
    assert config.theme.font == "system"
    assert config.theme.colors.on_accent is None
    assert config.theme.menu == []


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        ('accent = "#2563eb"', 'accent = "blue"', "theme.colors.accent", "hex colour"),
        ('logo = "/images/logo.svg"', 'logo = "images/logo.svg"', "theme.logo", "path on the site"),
        ('font = "system"', 'font = "Inter"', "theme.font", "unknown font 'Inter'"),
        ("menu = []", 'menu = ["pricing"]', "theme.menu.0", "page's URL"),
        ("menu = []", 'menu = [{ label = "Docs", url = "ftp://x" }]', "theme.menu.0.url", "URL"),
        ('url = "/pricing/"', 'url = "javascript:alert(1)"', "theme.post_cta.url", "URL"),
        ("price = 19\n", 'price = "nineteen"\n', "products.pro.price", "decimal"),
        ("price = 19\n", "price = -19\n", "products.pro.price", "amount"),
        ('currency = "USD"\nbadge', 'currency = "US Dollar"\nbadge', "products.pro.currency", ""),
    ],
)
def test_bad_theme_values_name_their_key(
    tmp_path: Path, old: str, new: str, key: str, says: str
) -> None:
    error = _load_edited(tmp_path, old, new)
    assert f"'{key}'" in error.message
    assert says.lower() in error.message.lower()
    assert error.line == _line_of(tmp_path / "site.toml", new.split("\n")[0])


def test_unknown_theme_key_is_refused_at_its_line(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'footer_text = "', 'footer_txt = "x"\nfooter_text = "')
    assert "unknown key 'theme.footer_txt'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "footer_txt")
    error = _load_edited(tmp_path, 'background = "#ffffff"', 'backgroud = "#ffffff"')
    assert "unknown key 'theme.colors.backgroud'" in error.message


def test_price_needs_a_currency(tmp_path: Path) -> None:
    error = _load_edited(tmp_path, 'price = 299\ncurrency = "USD"', "price = 299")
    assert "'products.audit.currency'" in error.message
    assert "ISO 4217" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "[products.audit]")


def test_currency_is_upper_cased_and_billing_note_may_be_blank(tmp_path: Path) -> None:
    config = _load_with(
        tmp_path,
        'price = 299\ncurrency = "USD"',
        'price = "299.50"\ncurrency = "eur"\nbilling_note = ""',
    )
    audit = config.products["audit"]
    assert (str(audit.price), audit.currency, audit.billing) == ("299.50", "EUR", "")


def test_self_hosted_font_files_must_be_font_files(tmp_path: Path) -> None:
    fonts = '\n[theme.fonts."Brand Sans"]\n"100 900" = "/fonts/brand.css"\n\n[theme.colors]'
    error = _load_edited(tmp_path, "\n[theme.colors]", fonts)
    assert "'theme.fonts.Brand Sans.100 900'" in error.message
    assert error.line == _line_of(tmp_path / "site.toml", "/fonts/brand.css")
    config = _load_with(
        tmp_path,
        'font = "system"',
        'font = "Brand Sans"\nfonts = { "Brand Sans" = { "400" = "/fonts/b.woff2" } }',
    )
    assert config.theme.fonts == {"Brand Sans": {"400": "/fonts/b.woff2"}}
