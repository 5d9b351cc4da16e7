"""session_params: the pure form -> Stripe parameters step, and its contract with Stripe's types.

The HTTP tests (test_checkout_http.py) check the same rules on the wire; these check every
combination quickly and validate each result against stripe-python's own
``SessionCreateParams`` TypedDict, generated from Stripe's OpenAPI spec.
"""

from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest
import typing_extensions
from stripe._request_options import RequestOptions
from stripe._stripe_context import StripeContext
from stripe.params.checkout import SessionCreateParams

from launchkit.checkout.params import CheckoutInputError, session_params
from launchkit.config import SiteConfig, load_config

REFERRAL = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

SITE_TOML = """
[site]
title = "Test Shop"
base_url = "https://shop.example"

[rewardful]
api_key = "abc123"
coupons = ["PARTNER20", "FRIENDS10"]

[checkout]
endpoint = "https://pay.shop.example/buy"
success_url = "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}"
cancel_url = "https://shop.example/pricing/"
allowed_origins = ["https://staging.shop.example"]

[products.once]
name = "Once"
price_id = "price_once"
mode = "payment"
price_text = "$10"

[products.monthly]
name = "Monthly"
price_id = "price_monthly"
mode = "subscription"
price_text = "$5 / month"
allow_promotion_codes = true

[products.seats]
name = "Seats"
price_id = "price_seat"
mode = "subscription"
price_text = "$3 / seat"
min_quantity = 2
max_quantity = 50
adjustable_quantity = true

[products.packs]
name = "Packs"
price_id = "price_pack"
mode = "payment"
price_text = "$1 / pack"
max_quantity = 10
allow_promotion_codes = true
"""


def write_site(folder: Path) -> Path:
    path = folder / "site.toml"
    path.write_text(SITE_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return load_config(write_site(tmp_path_factory.mktemp("site")))


def test_payment_product(config: SiteConfig) -> None:
    assert session_params([("product", "once")], config) == {
        "mode": "payment",
        "line_items": [{"price": "price_once", "quantity": 1}],
        "success_url": "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/pricing/",
        "metadata": {"product": "once"},
        "customer_creation": "always",
    }


def test_subscription_product_with_referral_and_quantity(config: SiteConfig) -> None:
    form = [("product", "seats"), ("quantity", "7"), ("referral", REFERRAL)]
    assert session_params(form, config) == {
        "mode": "subscription",
        "line_items": [
            {
                "price": "price_seat",
                "quantity": 7,
                "adjustable_quantity": {"enabled": True, "minimum": 2, "maximum": 50},
            }
        ],
        "success_url": "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/pricing/",
        "metadata": {"product": "seats", "referral": REFERRAL},
        "client_reference_id": REFERRAL,
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([REFERRAL], REFERRAL),
        ([f"  {REFERRAL}\n"], REFERRAL),
        ([REFERRAL.upper()], REFERRAL),
        (["", REFERRAL], REFERRAL),
        (["not-a-uuid", REFERRAL, "7c9e6679-7425-40de-944b-e07fc1f90ae7"], REFERRAL),
        ([""], None),
        (["   "], None),
        (["garbage"], None),
        ([REFERRAL + "0"], None),
        ([REFERRAL * 10], None),
        (["{" + REFERRAL + "}"], None),
        ([REFERRAL.replace("-", "")], None),
        ([], None),
    ],
)
def test_referral_only_when_valid(config: SiteConfig, values: list[str], expected: str) -> None:
    form = [("product", "once"), *(("referral", value) for value in values)]
    params = session_params(form, config)
    assert params.get("client_reference_id") == expected
    assert params["metadata"].get("referral") == expected


@pytest.mark.parametrize(
    ("coupons", "discount"),
    [
        (["PARTNER20"], "PARTNER20"),
        ([" FRIENDS10 "], "FRIENDS10"),
        (["FREE100", "PARTNER20"], "PARTNER20"),
        (["FREE100"], None),
        (["partner20"], None),  # Stripe coupon IDs are case-sensitive
        ([""], None),
    ],
)
def test_coupon_only_from_allow_list(config: SiteConfig, coupons: list[str], discount) -> None:
    form = [("product", "monthly"), *(("coupon", coupon) for coupon in coupons)]
    params = session_params(form, config)
    if discount:
        assert params["discounts"] == [{"coupon": discount}]
        assert "allow_promotion_codes" not in params
    else:
        assert "discounts" not in params
        assert params["allow_promotion_codes"] is True


def test_promotion_codes_only_when_the_product_says(config: SiteConfig) -> None:
    assert "allow_promotion_codes" not in session_params([("product", "once")], config)


def test_customer_creation_only_in_payment_mode(config: SiteConfig) -> None:
    for key, product in config.products.items():
        params = session_params([("product", key)], config)
        assert ("customer_creation" in params) == (product.mode == "payment"), key


@pytest.mark.parametrize(
    ("product", "quantity", "expected"),
    [
        ("seats", None, 2),
        ("seats", "", 2),
        ("seats", " 50 ", 50),
        ("packs", "10", 10),
        ("once", "1", 1),
    ],
)
def test_quantity_within_bounds(config: SiteConfig, product: str, quantity, expected) -> None:
    form = [("product", product)] + ([("quantity", quantity)] if quantity is not None else [])
    assert session_params(form, config)["line_items"][0]["quantity"] == expected


@pytest.mark.parametrize(
    ("product", "quantity", "message"),
    [
        ("seats", "0", "between 2 and 50"),
        ("seats", "1", "between 2 and 50"),
        ("seats", "51", "between 2 and 50"),
        ("seats", "abc", "whole number"),
        ("seats", "-3", "whole number"),
        ("seats", "2.5", "whole number"),
        ("once", "2", "exactly 1"),
        ("packs", "99999999999", "whole number"),
    ],
)
def test_quantity_outside_bounds(config: SiteConfig, product: str, quantity: str, message) -> None:
    with pytest.raises(CheckoutInputError) as raised:
        session_params([("product", product), ("quantity", quantity)], config)
    assert raised.value.field == "quantity"
    assert message in raised.value.message


@pytest.mark.parametrize("form", [[], [("product", "")], [("product", "nope")]])
def test_unknown_or_missing_product(config: SiteConfig, form) -> None:
    with pytest.raises(CheckoutInputError) as raised:
        session_params(form, config)
    assert raised.value.field == "product"


def test_visitor_price_and_unknown_fields_are_ignored(config: SiteConfig) -> None:
    form = [
        ("product", "once"),
        ("price", "price_cheap"),
        ("price_id", "price_cheap"),
        ("mode", "subscription"),
        ("success_url", "https://evil.example/"),
        ("payment_method_types", "card"),
    ]
    assert session_params(form, config) == session_params([("product", "once")], config)


# --- contract: every parameter set the server can produce fits Stripe's own types ----------

# stripe-python spells these with typing_extensions, which may or may not re-export typing's.
_LITERAL = {typing.Literal, typing_extensions.Literal}
_WRAPPERS = {
    typing.NotRequired,
    typing.Required,
    typing.Annotated,
    typing_extensions.NotRequired,
    typing_extensions.Required,
    typing_extensions.Annotated,
}
_REQUEST_OPTIONS = RequestOptions.__required_keys__ | RequestOptions.__optional_keys__


def _hints(typed_dict: type) -> dict[str, object]:
    """A TypedDict's resolved annotations (stripe-python writes them as strings).

    Each annotation is evaluated in its own module; the request options inherited from
    ``RequestOptions`` also name types that module imports only for type checkers.
    """
    type_checking_only = {"Mapping": Mapping, "StripeContext": StripeContext}
    return typing.get_type_hints(typed_dict, localns=type_checking_only, include_extras=True)


def conforms(value: object, annotation: object, where: str = "params") -> None:
    """Raise AssertionError unless ``value`` fits ``annotation`` exactly.

    Stricter than the types in two ways, both on purpose: a string must not be empty (Stripe
    rejects blank values), and ``Literal[...] | str`` (stripe-python's forward-compatible
    enums) must be one of the listed literals.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in _WRAPPERS:
        return conforms(value, args[0], where)
    if typing_extensions.is_typeddict(annotation):
        return _conforms_typed_dict(value, annotation, where)
    if origin in _LITERAL:
        assert value in args, f"{where}: {value!r} is not one of {args}"
        return None
    if origin in (typing.Union, types.UnionType):
        return _conforms_union(value, args, where)
    if origin is list:
        assert isinstance(value, list) and value, f"{where}: expected a non-empty list"
        for index, item in enumerate(value):
            conforms(item, args[0], f"{where}[{index}]")
        return None
    if origin is dict:
        assert isinstance(value, dict), f"{where}: expected a dict"
        for key, item in value.items():
            conforms(key, args[0], f"{where} key")
            conforms(item, args[1], f"{where}[{key}]")
        return None
    if annotation is bool:
        assert isinstance(value, bool), f"{where}: expected a bool, got {value!r}"
    elif annotation is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected int"
    elif annotation is str:
        assert isinstance(value, str) and value.strip(), f"{where}: expected a non-blank str"
    else:
        raise AssertionError(f"{where}: {annotation!r} is not a type this validator knows")
    return None


def _conforms_typed_dict(value: object, typed_dict: type, where: str) -> None:
    assert isinstance(value, dict), f"{where}: expected a dict, got {value!r}"
    hints = _hints(typed_dict)
    unknown = set(value) - set(hints)
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    missing = typed_dict.__required_keys__ - set(value)
    assert not missing, f"{where}: missing required keys {sorted(missing)}"
    for key, item in value.items():
        conforms(item, hints[key], f"{where}.{key}")


def _conforms_union(value: object, members: tuple, where: str) -> None:
    literals = [arg for arg in members if typing.get_origin(arg) in _LITERAL]
    if literals and isinstance(value, str):
        allowed = {choice for literal in literals for choice in typing.get_args(literal)}
        assert value in allowed, f"{where}: {value!r} is not one of {sorted(allowed)}"
        return
    failures = []
    for member in members:
        try:
            conforms(value, member, where)
            return
        except AssertionError as exc:
            failures.append(str(exc))
    raise AssertionError(" / ".join(failures))


def every_form(config: SiteConfig):
    """Each product x quantity (min, max) x referral (none, valid, garbage) x coupon variant."""
    for key, product in config.products.items():
        quantities = sorted({product.min_quantity, product.max_quantity})
        referrals = [None, REFERRAL, "garbage"]
        coupons = [None, "PARTNER20", "NOT-LISTED"]
        for quantity, referral, coupon in itertools.product(quantities, referrals, coupons):
            form = [("product", key), ("quantity", str(quantity))]
            form += [("referral", referral)] if referral else []
            form += [("coupon", coupon)] if coupon else []
            yield form


def test_every_parameter_set_fits_stripes_session_create_params(config: SiteConfig) -> None:
    forms = list(every_form(config))
    assert len(forms) == 4 * 9 + 2 * 9  # seats and packs have two quantities
    for form in forms:
        params = session_params(form, config)
        assert not set(params) & _REQUEST_OPTIONS, "request options are not body parameters"
        conforms(params, SessionCreateParams)


@pytest.mark.parametrize(
    "bad",
    [
        {"payment_method_types": ["card"]},
        {"mode": "paymnet"},
        {"customer_creation": "sometimes"},
        {"client_reference_id": ""},
        {"line_items": [{"price": "price_x", "quantity": "1"}]},
        {"line_items": [{"price": "price_x", "quantity": 1, "adjustable_quantity": {}}]},
    ],
)
def test_the_contract_validator_catches_what_stripe_rejects(config: SiteConfig, bad) -> None:
    params = {**session_params([("product", "once")], config), **bad}
    with pytest.raises(AssertionError):
        conforms(params, SessionCreateParams)
