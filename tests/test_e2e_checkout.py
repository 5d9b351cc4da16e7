"""Every kind of visitor, end to end: affiliate link -> page -> buy form -> Stripe Checkout.

The example site is built with ``build.py`` and served locally; the buy forms post to the
project's own ``checkout_server.py``, which talks to a local server that speaks Stripe's API
(``tests/stripe_stub.py``) and records every session it is asked to create. Headless Chromium
drives the pages.

Rewardful's ``rw.js`` cannot be fetched here, so the tests answer its URL with a local
stand-in (``tests/e2e/rewardful_standin.js``) that behaves as Rewardful documents: it reads
``?via=``, keeps the referral in a first-party cookie, sets ``Rewardful.referral`` /
``Rewardful.coupon``, runs queued ``rewardful('ready')`` calls and adds the hidden
``referral`` input to ``form[data-rewardful]``. Every other outside request is blocked.

Each test asserts what Stripe received (the decoded form of the session request) and where
the browser ended up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from e2e_support import (
    LISTED_COUPON,
    REWARDFUL_SCRIPT_URL,
    UNLISTED_COUPON,
    E2ESite,
    NetworkGate,
    RewardfulScript,
)
from playwright.sync_api import Page
from stripe_stub import StripeStub

pytest_plugins = ["e2e.fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("checkout_service")]

# The example catalogue's products, by the property each scenario needs (checked below).
ONE_TIME = "lifetime"
SUBSCRIPTION = "pro"  # also allows promotion codes
PER_SEAT = "team"  # quantity chosen on the form

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module", autouse=True)
def _catalogue_fits_the_scenarios(e2e_site: E2ESite) -> None:
    """Fail clearly, not obscurely, if the example catalogue loses what the scenarios use."""
    products = e2e_site.config.products
    assert products[ONE_TIME].mode == "payment"
    assert not products[ONE_TIME].quantity_choice
    assert products[SUBSCRIPTION].mode == "subscription"
    assert products[SUBSCRIPTION].allow_promotion_codes
    assert products[PER_SEAT].quantity_choice
    assert LISTED_COUPON in e2e_site.config.rewardful.coupons
    assert UNLISTED_COUPON not in e2e_site.config.rewardful.coupons


# --- what the visitor does -----------------------------------------------------------------


def rewardful_referral(page: Page) -> str:
    """``Rewardful.referral`` once Rewardful's script has run on the page."""
    page.wait_for_function("() => window.Rewardful !== undefined")
    return page.evaluate("() => window.Rewardful.referral")


def go_to_pricing(page: Page) -> None:
    """Follow the site's own navigation to the pricing page, as a visitor would."""
    page.locator("nav.site-nav a[href$='/pricing/']").first.click()
    page.wait_for_url("**/pricing/")


def buy(page: Page, stripe_url: str, product: str, quantity: int | None = None) -> None:
    """Press the product's buy button: the checkout answers 303 and the buyer is on Stripe."""
    form = page.locator(f"form[data-rewardful]:has(input[name='product'][value='{product}'])").first
    if quantity is not None:
        form.locator("input[name='quantity']").fill(str(quantity))
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        form.locator("button[type='submit']").click()
    checkout = answer.value
    if checkout.status != 303:
        shown = BeautifulSoup(checkout.text(), "html.parser").get_text(" ", strip=True)
        pytest.fail(f"the checkout answered {checkout.status} instead of 303: {shown[:500]}")
    page.wait_for_url(f"{stripe_url}/pay/**")


# --- what Stripe received ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_stripe_records(stripe_stub: StripeStub) -> None:
    """Each test sees only the sessions its own visitor created."""
    stripe_stub.clear()


def sent_to_stripe(stub: StripeStub) -> dict[str, str]:
    """The decoded form of the one Checkout Session this test's checkout created."""
    sessions = stub.sessions
    assert len(sessions) == 1, f"expected one Checkout Session, Stripe got {len(sessions)}"
    return sessions[0]


def assert_no_blank_values(params: dict[str, str]) -> None:
    """Stripe rejects blank parameters (e.g. ``client_reference_id``): none may be sent."""
    blank = [key for key, value in params.items() if not value.strip()]
    assert not blank, f"blank values sent to Stripe: {blank}"


def assert_sells(params: dict[str, str], site: E2ESite, product: str) -> None:
    """The session sells the catalogue's price for ``product``, in its mode."""
    catalogue = site.config.products[product]
    assert params["line_items[0][price]"] == catalogue.price_id
    assert params["mode"] == catalogue.mode


def pay_and_land_on_thanks(page: Page, site: E2ESite) -> None:
    """Pay on the Stripe stand-in's page; the buyer lands on the configured success page."""
    session_url = page.url
    page.locator("#pay").click()
    success = urlsplit(site.config.checkout.success_url)
    page.wait_for_url(f"{site.origin}{success.path}**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["session_id"] == [session_url.rstrip("/").rsplit("/", 1)[-1]]
    assert page.locator("h1").first.is_visible()


# --- the visitors --------------------------------------------------------------------------


def test_referred_visitor_is_attributed(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """An affiliate's visitor lands on the home page, browses to pricing and buys."""
    visitor.goto(e2e_site.url("/?via=partner"))
    referral = rewardful_referral(visitor)
    assert UUID.fullmatch(referral)
    go_to_pricing(visitor)
    assert rewardful_referral(visitor) == referral

    buy(visitor, stripe_stub.url, ONE_TIME)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, ONE_TIME)
    assert params.get("client_reference_id") == referral
    assert params.get("customer_creation") == "always"
    assert_no_blank_values(params)
    pay_and_land_on_thanks(visitor, e2e_site)


def test_returning_visitor_stays_attributed(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """The same browser comes back later without ``?via=``: the cookie keeps the referral."""
    visitor.goto(e2e_site.url("/?via=partner"))
    referral = rewardful_referral(visitor)
    visitor.close()

    later = visitor.context.new_page()
    later.goto(e2e_site.url("/pricing/"))
    assert rewardful_referral(later) == referral
    buy(later, stripe_stub.url, ONE_TIME)

    params = sent_to_stripe(stripe_stub)
    assert params.get("client_reference_id") == referral
    assert_sells(params, e2e_site, ONE_TIME)


def test_unreferred_visitor_buys_without_attribution(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """A visitor who came from no affiliate link: no client_reference_id, the sale goes on."""
    visitor.goto(e2e_site.url("/pricing/"))
    assert rewardful_referral(visitor) == ""

    buy(visitor, stripe_stub.url, ONE_TIME)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, ONE_TIME)
    assert "client_reference_id" not in params
    assert "metadata[referral]" not in params
    assert_no_blank_values(params)
    pay_and_land_on_thanks(visitor, e2e_site)


def test_blocked_script_still_sells(
    visitor: Page, gate: NetworkGate, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """An ad blocker stops ``rw.js``: the referral is lost, never the sale or Stripe's trust."""
    gate.rewardful_script = RewardfulScript.BLOCKED
    visitor.goto(e2e_site.url("/pricing/?via=partner"))
    assert visitor.evaluate("() => typeof window.Rewardful") == "undefined"

    buy(visitor, stripe_stub.url, ONE_TIME)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, ONE_TIME)
    assert "client_reference_id" not in params
    assert_no_blank_values(params)


def test_slow_script_still_sells(
    visitor: Page, gate: NetworkGate, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """``rw.js`` has not arrived when the visitor clicks: the queued calls never ran."""
    gate.rewardful_script = RewardfulScript.HELD
    visitor.goto(e2e_site.url("/pricing/?via=partner"), wait_until="domcontentloaded")
    assert gate.held, "the page did not ask for Rewardful's script"
    assert visitor.evaluate("() => typeof window.Rewardful") == "undefined"

    buy(visitor, stripe_stub.url, ONE_TIME)
    gate.release_held()  # the script arrives after the click, too late to matter

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, ONE_TIME)
    assert "client_reference_id" not in params
    assert_no_blank_values(params)


def test_javascript_off_still_sells(
    open_visitor: Callable[..., Page], e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """With JavaScript off the plain HTML form posts to the checkout and reaches Stripe."""
    visitor = open_visitor(java_script_enabled=False)
    visitor.goto(e2e_site.url("/pricing/?via=partner"))

    buy(visitor, stripe_stub.url, ONE_TIME)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, ONE_TIME)
    assert "client_reference_id" not in params
    assert_no_blank_values(params)
    pay_and_land_on_thanks(visitor, e2e_site)


def test_listed_campaign_coupon_is_applied(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """A double-sided campaign's coupon that site.toml lists reaches Stripe as a discount."""
    visitor.goto(e2e_site.url("/pricing/?via=friend20"))
    referral = rewardful_referral(visitor)
    assert visitor.evaluate("() => window.Rewardful.coupon.id") == LISTED_COUPON

    buy(visitor, stripe_stub.url, SUBSCRIPTION)

    params = sent_to_stripe(stripe_stub)
    assert params.get("discounts[0][coupon]") == LISTED_COUPON
    # Stripe rejects discounts together with allow_promotion_codes, which this product allows.
    assert "allow_promotion_codes" not in params
    assert params.get("client_reference_id") == referral


def test_unlisted_coupon_is_ignored(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """A coupon site.toml does not list is dropped; the sale and the referral go on."""
    visitor.goto(e2e_site.url("/pricing/?via=rogue"))
    referral = rewardful_referral(visitor)
    assert visitor.evaluate("() => window.Rewardful.coupon.id") == UNLISTED_COUPON

    buy(visitor, stripe_stub.url, SUBSCRIPTION)

    params = sent_to_stripe(stripe_stub)
    assert not any(key.startswith("discounts") for key in params)
    assert params.get("allow_promotion_codes") == "true"  # as the product says, without a coupon
    assert params.get("client_reference_id") == referral


def test_subscription_keeps_referral_without_customer_creation(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """Subscription mode: Stripe rejects customer_creation there; the referral still goes."""
    visitor.goto(e2e_site.url("/pricing/?via=partner"))
    referral = rewardful_referral(visitor)

    buy(visitor, stripe_stub.url, SUBSCRIPTION)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, SUBSCRIPTION)
    assert "customer_creation" not in params
    assert params.get("client_reference_id") == referral
    assert_no_blank_values(params)


def test_chosen_quantity_reaches_stripe(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """The seats a buyer types on the form are the line item's quantity."""
    product = e2e_site.config.products[PER_SEAT]
    seats = product.min_quantity + 5
    visitor.goto(e2e_site.url("/pricing/?via=partner"))
    referral = rewardful_referral(visitor)

    buy(visitor, stripe_stub.url, PER_SEAT, quantity=seats)

    params = sent_to_stripe(stripe_stub)
    assert_sells(params, e2e_site, PER_SEAT)
    assert params.get("line_items[0][quantity]") == str(seats)
    assert params.get("client_reference_id") == referral


def test_cancel_returns_to_a_tracked_cancel_page(
    visitor: Page, e2e_site: E2ESite, stripe_stub: StripeStub
) -> None:
    """The buyer cancels on Stripe and lands on the cancel page, which carries the snippet."""
    visitor.goto(e2e_site.url("/pricing/?via=partner"))
    referral = rewardful_referral(visitor)
    buy(visitor, stripe_stub.url, ONE_TIME)

    visitor.locator("#cancel").click()
    visitor.wait_for_url(e2e_site.config.checkout.cancel_url)

    head = BeautifulSoup(visitor.content(), "html.parser").head
    scripts = head.find_all("script")
    loader = head.find("script", src=REWARDFUL_SCRIPT_URL)
    assert loader is not None, "the cancel page has no Rewardful script in <head>"
    assert loader["data-rewardful"] == e2e_site.config.rewardful.api_key
    assert loader.has_attr("async")
    stub = scripts.index(loader) - 1
    assert stub >= 0 and "_rwq" in scripts[stub].get_text(), "the queue stub must come first"
    # And it works there: the visitor is still known when they come back to buy.
    assert rewardful_referral(visitor) == referral
