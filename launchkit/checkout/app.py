"""The checkout's HTTP layer: a Bottle app that turns a buy form POST into a 303 to Stripe.

``create_app`` is the whole public surface: ``checkout_server.py`` serves it with gunicorn,
the preview server mounts it beside the built site. Per request it only checks where the
POST comes from, reads a small form body, hands the fields to
:func:`launchkit.checkout.params.session_params` and the parameters to
:func:`launchkit.checkout.stripe_api.create_session`, and answers with a redirect or a
friendly page.
"""

from __future__ import annotations

import json
import logging
from html import escape
from urllib.parse import parse_qsl, urlsplit

import bottle
import stripe

from ..config import SiteConfig
from .params import CheckoutInputError, Form, session_params
from .stripe_api import CheckoutFailure, create_session

log = logging.getLogger("launchkit.checkout")

# A buy form is four short fields; anything much larger is not one of ours.
BODY_LIMIT = 8 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    # Every answer is about one buyer's checkout; no cache may keep or replay it.
    "Cache-Control": "no-store",
}

# What the buyer reads for each status: a heading and what to do next. Nothing was charged
# in any of these cases, which is the first thing a buyer wants to know.
_PAGES = {
    400: ("We could not read that order", "Please go back and try again."),
    403: (
        "This order form is not ours",
        "Orders are only accepted from the buy buttons on our own site.",
    ),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Use the buy button", "This address only takes orders sent by our buy buttons."),
    413: ("That order was too large", "Please use the buy buttons on our site."),
    415: ("We could not read that order", "Please use the buy buttons on our site."),
    500: ("Something went wrong", "Nothing was charged. Please try again in a minute."),
    502: (
        "We could not start the checkout",
        "Nothing was charged. We have been told about it; please try again later.",
    ),
    503: (
        "The payment provider cannot be reached right now",
        "Nothing was charged. Please try again in a minute.",
    ),
    504: (
        "The payment provider took too long to answer",
        "Nothing was charged. Please try again in a minute.",
    ),
}


def create_app(
    config: SiteConfig,
    *,
    stripe_client: stripe.StripeClient | None = None,
    dry_run: bool = False,
    stripe_api_base: str | None = None,
) -> bottle.Bottle:
    """The checkout app: POST ``config.checkout.endpoint_path`` and ``GET /healthz``.

    ``stripe_client`` is required unless ``dry_run``, which answers the POST with a page
    showing the parameters instead of calling Stripe. The buyer is only ever redirected to
    the ``url`` of the session Stripe returned, and only when it is https; the one
    exception is an http URL on the origin of ``stripe_api_base`` (a local server speaking
    Stripe's API, as in the tests), which is trusted exactly as much as the API itself.
    """
    if stripe_client is None and not dry_run:
        raise ValueError("create_app needs a stripe_client unless dry_run=True")
    trusted_http_origin = _origin(stripe_api_base) if stripe_api_base else None
    allowed_origins = {origin.lower() for origin in config.allowed_origins}
    app = bottle.Bottle()

    def page(status: int, detail: str = "") -> str:
        bottle.response.status = status
        bottle.response.content_type = "text/html; charset=utf-8"
        heading, advice = _PAGES.get(status, _PAGES[500])
        return _render(config, heading, f"<p>{escape(detail)}</p>" if detail else "", advice)

    @app.post(config.checkout.endpoint_path)
    def checkout() -> str:
        origin = bottle.request.get_header("Origin")
        if origin is not None and origin.lower() not in allowed_origins:
            log.warning("checkout refused: Origin %r is not an allowed origin", origin)
            return page(403)
        try:
            form = _read_form(bottle.request)
            params = session_params(form, config)
        except _BadRequest as exc:
            log.info("checkout rejected: %s %s", exc.status, exc.detail)
            return page(exc.status, exc.detail)
        except CheckoutInputError as exc:
            log.info("checkout rejected: 400 %s", exc)
            return page(400, exc.message)
        summary = _summary(params)
        if dry_run:
            log.info("checkout dry run %s", summary)
            bottle.response.content_type = "text/html; charset=utf-8"
            return _render_dry_run(config, params)
        try:
            session = create_session(stripe_client, params)  # type: ignore[arg-type]
            if not _safe_redirect(session.url, trusted_http_origin):
                raise CheckoutFailure(
                    502, f"Stripe returned a non-https session URL ({session.request_id})"
                )
        except CheckoutFailure as exc:
            level = logging.ERROR if exc.owner_must_act else logging.WARNING
            log.log(level, "checkout failed %s status=%s: %s", summary, exc.status, exc.log)
            return page(exc.status)
        log.info(
            "checkout %s session=%s stripe_request=%s", summary, session.id, session.request_id
        )
        bottle.response.status = 303
        bottle.response.set_header("Location", session.url)
        return ""

    @app.get("/healthz")
    def healthz() -> str:
        bottle.response.content_type = "text/plain; charset=utf-8"
        return "ok\n"

    @app.hook("after_request")
    def secure() -> None:
        for name, value in SECURITY_HEADERS.items():
            bottle.response.set_header(name, value)

    def error_page(error: bottle.HTTPError) -> str:
        """Bottle's own errors (404, 405, an unexpected exception): same page, no traceback."""
        if error.status_code >= 500:
            log.error("checkout server error: %r", error.exception)
        secure()
        return page(error.status_code)

    app.default_error_handler = error_page  # type: ignore[method-assign]
    return app


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _read_form(request: bottle.BaseRequest) -> Form:
    """The URL-encoded form fields of a POST of at most ``BODY_LIMIT`` bytes, as UTF-8."""
    content_type = request.content_type.split(";")[0].strip().lower()
    # Non-browser clients may leave the type out; a browser form always sends it.
    if content_type not in ("", _FORM_TYPE):
        raise _BadRequest(415, f"The order must be sent as {_FORM_TYPE}.")
    if request.content_length > BODY_LIMIT:
        raise _BadRequest(413, "")
    body = request.body.read(BODY_LIMIT + 1)
    if len(body) > BODY_LIMIT:
        raise _BadRequest(413, "")
    try:
        return parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest(400, "The order form could not be decoded.") from None


def _summary(params: dict) -> str:
    """The owner's view of one checkout: what was bought and whether it is attributed."""
    return (
        f"product={params['metadata']['product']} mode={params['mode']} "
        f"quantity={params['line_items'][0]['quantity']} "
        f"referral={'yes' if 'client_reference_id' in params else 'no'} "
        f"coupon={params['discounts'][0]['coupon'] if 'discounts' in params else 'no'}"
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _safe_redirect(url: str, trusted_http_origin: str | None) -> bool:
    parts = urlsplit(url)
    if not parts.netloc or parts.username or parts.password:
        return False
    return parts.scheme == "https" or _origin(url) == trusted_http_origin


def _render(config: SiteConfig, heading: str, body_html: str, advice: str) -> str:
    title = escape(config.site.title)
    home = escape(config.site.base_url)
    return f"""<!doctype html>
<html lang="{escape(config.site.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(heading)} · {title}</title>
<style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}
pre{{background:#f4f4f4;padding:1rem;overflow:auto;font-size:.9rem}}</style>
</head>
<body>
<main>
<h1>{escape(heading)}</h1>
{body_html}
{f"<p>{escape(advice)}</p>" if advice else ""}
<p><a class="back" href="{home}">Back to {title}</a></p>
</main>
</body>
</html>
"""


def _render_dry_run(config: SiteConfig, params: dict) -> str:
    referral = params.get("client_reference_id")
    attribution = (
        f"Attributed to Rewardful referral <code>{escape(referral)}</code>."
        if referral
        else "No valid Rewardful referral in this order: the sale would not be attributed."
    )
    body = (
        f"<p>{attribution}</p>\n"
        "<p>These are the exact parameters the server would send to Stripe "
        "(<code>POST /v1/checkout/sessions</code>):</p>\n"
        f'<pre id="params">{escape(json.dumps(params, indent=2))}</pre>'
    )
    return _render(config, "Dry run: nothing was sent to Stripe", body, "")
