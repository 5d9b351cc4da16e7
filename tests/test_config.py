"""site.toml is validated on load, and every error names the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchkit.config import load_config
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
