"""Form fields + the catalogue of ``site.toml`` -> Stripe Checkout Session parameters.

:func:`session_params` is pure: it decides everything a visitor could try to influence
(product, quantity, referral, coupon) and raises :class:`CheckoutInputError` for input a
buyer must fix. The contract test feeds its output to stripe-python's own
``SessionCreateParams`` type; :mod:`launchkit.checkout.stripe_api` sends it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..config import Product, SiteConfig

Form = Sequence[tuple[str, str]]
"""Decoded form fields in the order they arrived; a field may repeat."""

# Rewardful's referral ID is a UUID in its canonical 8-4-4-4-12 form. uuid.UUID() alone would
# also take braces, URNs and unhyphenated hex, which Rewardful never produces.
_REFERRAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_QUANTITY = re.compile(r"[0-9]{1,7}")


class CheckoutInputError(ValueError):
    """A form field a buyer must fix: ``field`` names it, ``message`` says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def session_params(form: Form, config: SiteConfig) -> dict[str, Any]:
    """The parameters of the Checkout Session a buy form asks for.

    Only the catalogue decides prices, modes and coupons: of the form, only ``product``,
    ``quantity``, ``referral`` and ``coupon`` are read (the first of each, except that the
    first *valid* referral and the first *configured* coupon win), and everything else,
    such as a ``price`` field, is ignored. Optional parameters are left out rather than sent
    blank, because Stripe rejects blank values.
    """
    product = _product(form, config)
    quantity = _quantity(form, product)
    referral = valid_referral(_values(form, "referral"))
    coupon = _allowed_coupon(_values(form, "coupon"), config.rewardful.coupons)

    line_item: dict[str, Any] = {"price": product.price_id, "quantity": quantity}
    if product.adjustable_quantity and product.quantity_choice:
        line_item["adjustable_quantity"] = {
            "enabled": True,
            "minimum": product.min_quantity,
            "maximum": product.max_quantity,
        }
    params: dict[str, Any] = {
        "mode": product.mode,
        "line_items": [line_item],
        "success_url": config.checkout.success_url,
        "cancel_url": config.checkout.cancel_url,
        "metadata": {"product": product.key},
    }
    # Subscription mode always creates a customer; Stripe rejects customer_creation there.
    if product.mode == "payment":
        params["customer_creation"] = "always"
    if referral:
        params["client_reference_id"] = referral
        params["metadata"]["referral"] = referral
    # Stripe rejects discounts together with allow_promotion_codes.
    if coupon:
        params["discounts"] = [{"coupon": coupon}]
    elif product.allow_promotion_codes:
        params["allow_promotion_codes"] = True
    return params


def valid_referral(values: Sequence[str]) -> str | None:
    """The first value that is a Rewardful referral UUID (trimmed, lowercase), else None."""
    for value in values:
        value = value.strip()
        if _REFERRAL.fullmatch(value):
            return value.lower()
    return None


def _values(form: Form, name: str) -> list[str]:
    return [value for key, value in form if key == name]


def _product(form: Form, config: SiteConfig) -> Product:
    key = next(iter(_values(form, "product")), "").strip()
    if not key:
        raise CheckoutInputError("product", "The form did not say which product to buy.")
    product = config.products.get(key)
    if product is None:
        raise CheckoutInputError("product", "That product is not for sale here.")
    return product


def _quantity(form: Form, product: Product) -> int:
    """The quantity asked for, within the product's bounds; blank or absent means the minimum."""
    raw = next(iter(_values(form, "quantity")), "").strip()
    if not raw:
        return product.min_quantity
    if not _QUANTITY.fullmatch(raw):
        raise CheckoutInputError("quantity", "The quantity must be a whole number.")
    quantity = int(raw)
    if not product.min_quantity <= quantity <= product.max_quantity:
        if product.min_quantity == product.max_quantity:
            allowed = f"exactly {product.min_quantity}"
        else:
            allowed = f"between {product.min_quantity} and {product.max_quantity}"
        raise CheckoutInputError("quantity", f"The quantity must be {allowed}.")
    return quantity


def _allowed_coupon(values: Sequence[str], coupons: Sequence[str]) -> str | None:
    """The first coupon of the form that the site owner configured; any other is ignored."""
    return next((value.strip() for value in values if value.strip() in coupons), None)
