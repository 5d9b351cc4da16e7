"""The checkout's HTTP layer: a Bottle app that turns a buy form POST into a 303 to Stripe.

``create_app`` is the public surface: ``checkout_server.py`` serves it with gunicorn, the
preview server mounts it beside the built site. Per request it checks where the POST comes
from, reads the small form body completely (:func:`read_body`, also what the server's worker
calls to buffer it), hands the fields to :func:`launchkit.checkout.params.session_params`,
asks the :class:`~launchkit.checkout.limiting.Guard` whether this client and the instance
may call Stripe now, hands the parameters to
:func:`launchkit.checkout.stripe_api.create_session`, and answers with a redirect or a
friendly page. Every request, whatever its fate, ends in one access line
(:func:`launchkit.checkout.logs.access`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import bottle
import stripe

from ..config import SiteConfig
from . import logs
from .limiting import Guard
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
    408: ("Your order arrived too slowly", "Nothing was charged. Please try again."),
    411: ("We could not read that order", "Please use the buy buttons on our site."),
    413: ("That order was too large", "Please use the buy buttons on our site."),
    415: ("We could not read that order", "Please use the buy buttons on our site."),
    429: (
        "Too many orders from your connection",
        "Nothing was charged. Please wait a little and try again.",
    ),
    500: ("Something went wrong", "Nothing was charged. Please try again in a minute."),
    502: (
        "We could not start the checkout",
        "Nothing was charged. We have been told about it; please try again later.",
    ),
    503: (
        "The payment provider cannot be reached right now",
        "Nothing was charged. Please try again in a minute.",
    ),
    # Only the Guard's ceiling answers this: the instance is at its share of Stripe's limit.
    "busy": (
        "We are taking a lot of orders right now",
        "Nothing was charged. Please try again in a few seconds.",
    ),
    504: (
        "The payment provider took too long to answer",
        "Nothing was charged. Please try again in a minute.",
    ),
}


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# What the handlers tell the access line, in the WSGI environ of the request.
_ACCESS = "launchkit.access"


def create_app(
    config: SiteConfig,
    *,
    stripe_client: stripe.StripeClient | None = None,
    dry_run: bool = False,
    stripe_api_base: str | None = None,
    guard: Guard | None = None,
) -> WSGIApp:
    """The checkout app: POST ``config.checkout.endpoint_path`` and ``GET /healthz``.

    ``stripe_client`` is required unless ``dry_run``, which answers the POST with a page
    showing the parameters instead of calling Stripe, and ``/healthz`` with 503 so that no
    load balancer sends buyers to it. ``guard`` holds the rate limits (None: no limit). The
    buyer is only ever redirected to the ``url`` of the session Stripe returned, and only
    when it is https; the one exception is an http URL on the origin of ``stripe_api_base``
    (a local server speaking Stripe's API, as in the tests), which is trusted exactly as much
    as the API itself.
    """
    if stripe_client is None and not dry_run:
        raise ValueError("create_app needs a stripe_client unless dry_run=True")
    trusted_http_origin = _origin(stripe_api_base) if stripe_api_base else None
    allowed_origins = {origin.lower() for origin in config.allowed_origins}
    app = bottle.Bottle()

    def page(
        status: int, detail: str = "", *, level: int = logging.INFO, kind: object = None, **fields
    ) -> str:
        """Answer with the friendly page for ``status`` (or ``kind``); the access line gets
        ``detail`` and ``fields``."""
        note(level=level, detail=detail or None, **fields)
        bottle.response.status = status
        bottle.response.content_type = "text/html; charset=utf-8"
        heading, advice = _PAGES.get(kind or status, _PAGES[500])
        return _render(config, heading, f"<p>{escape(detail)}</p>" if detail else "", advice)

    @app.post(config.checkout.endpoint_path)
    def checkout() -> str:
        environ = bottle.request.environ
        # The raw header (latin-1 text of the bytes sent): compared, never decoded as UTF-8.
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin.lower() not in allowed_origins:
            return page(403, level=logging.WARNING, origin=origin)
        try:
            form = _read_form(environ)
            params = session_params(form, config)
        except BadRequest as exc:
            return page(exc.status, exc.detail)
        except CheckoutInputError as exc:
            return page(400, exc.message)
        note(**_summary(params))
        if dry_run:
            bottle.response.content_type = "text/html; charset=utf-8"
            return _render_dry_run(config, params)
        if guard is not None:
            verdict = guard.client(environ[_ACCESS]["client"])
            if verdict.allowed:
                verdict = guard.stripe()
            if verdict.refused:
                bottle.response.set_header("Retry-After", str(verdict.retry_after))
                limit = "client" if verdict.status == 429 else "stripe_ceiling"
                kind = "busy" if verdict.status == 503 else None
                return page(verdict.status, level=logging.WARNING, kind=kind, limit=limit)
        try:
            session = create_session(stripe_client, params)  # type: ignore[arg-type]
            if not _safe_redirect(session.url, trusted_http_origin):
                raise CheckoutFailure(
                    502, f"Stripe returned a non-https session URL ({session.request_id})"
                )
        except CheckoutFailure as exc:
            level = logging.ERROR if exc.owner_must_act else logging.WARNING
            return page(exc.status, level=level, stripe=exc.log)
        note(session=session.id, stripe_request=session.request_id)
        bottle.response.status = 303
        bottle.response.set_header("Location", session.url)
        return ""

    @app.get("/healthz")
    def healthz() -> str:
        bottle.response.content_type = "text/plain; charset=utf-8"
        if dry_run:
            bottle.response.status = 503
            return "dry run: this server shows parameters and serves no buyer\n"
        return "ok\n"

    def error_page(error: bottle.HTTPError) -> str:
        """Bottle's own errors (404, 405, an unexpected exception): same page, no traceback."""
        if error.status_code >= 500:
            log.error("checkout server error: %r", error.exception, exc_info=error.exception)
        return page(error.status_code, level=logging.ERROR if error.status_code >= 500 else 0)

    app.default_error_handler = error_page  # type: ignore[method-assign]
    return _AccessLog(app, guard)


def note(level: int = 0, **fields: Any) -> None:
    """Add ``fields`` to the current request's access line and raise its level to ``level``."""
    access = bottle.request.environ[_ACCESS]
    access["level"] = max(access["level"], level)
    access["fields"].update(fields)


# Added to every answer's headers as they are (Bottle would validate each one per request).
_SECURITY_HEADER_LIST = list(SECURITY_HEADERS.items())


class _AccessLog:
    """The app, the security headers on every answer it gives (Bottle's error pages
    included), and one access line for each request it answers (logged when it is done)."""

    def __init__(self, app: WSGIApp, guard: Guard | None) -> None:
        self.app = app
        self.guard = guard

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        began = time.perf_counter()
        client = (
            self.guard.client_address(environ) if self.guard else environ.get("REMOTE_ADDR", "")
        )
        access: dict[str, Any] = {"level": logging.INFO, "client": client, "fields": {}}
        environ[_ACCESS] = access
        status = ""

        def start(line: str, headers: list, exc_info: Any = None) -> Any:
            nonlocal status
            status = line.split(" ", 1)[0]
            return start_response(line, headers + _SECURITY_HEADER_LIST, exc_info)

        body = self.app(environ, start)
        fields = {
            "client": client,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": status,
            "ms": round((time.perf_counter() - began) * 1000, 1),
            **access["fields"],
        }
        logs.access(access["level"] or logging.INFO, fields)
        return body


class BadRequest(Exception):
    """A request the server cannot take as it is: ``status`` and what to tell the buyer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole body of the request, at most ``BODY_LIMIT`` bytes, or :class:`BadRequest`.

    A body shorter than its ``Content-Length`` (the client stopped sending) is refused, never
    used as far as it got. A chunked body (no ``Content-Length``) is read to its end, which a
    WSGI server marks after removing the chunk framing. Whatever the server's input stream
    raises (a malformed chunk, a reset) is the request's fault: 400.
    """
    length_text = environ.get("CONTENT_LENGTH", "").strip()
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not length_text and not chunked:
        return b""
    if length_text and not length_text.isdigit():
        raise BadRequest(400, "The order's length was not a number.")
    wanted = int(length_text) if length_text else BODY_LIMIT + 1
    if wanted > BODY_LIMIT and length_text:
        raise BadRequest(413, "")
    body = _read(environ["wsgi.input"], wanted)
    if len(body) > BODY_LIMIT:
        raise BadRequest(413, "")
    if length_text and len(body) < wanted:
        raise BadRequest(400, "The order arrived incomplete.")
    return body


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, reading until it has them or the stream ends."""
    chunks, got = [], 0
    try:
        while got < size:
            chunk = stream.read(size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except BadRequest:
        raise
    except Exception:  # the server's parser: a malformed chunk, a reset connection...
        raise BadRequest(400, "The order could not be read completely.") from None
    return b"".join(chunks)


def _read_form(environ: dict[str, Any]) -> Form:
    """The URL-encoded form fields of a POST of at most ``BODY_LIMIT`` bytes, as UTF-8."""
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    # Non-browser clients may leave the type out; a browser form always sends it.
    if content_type not in ("", _FORM_TYPE):
        raise BadRequest(415, f"The order must be sent as {_FORM_TYPE}.")
    body = read_body(environ)
    try:
        return parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "The order form could not be decoded.") from None


def _summary(params: dict) -> dict[str, Any]:
    """The owner's view of one checkout: what was bought and whether it is attributed."""
    return {
        "product": params["metadata"]["product"],
        "mode": params["mode"],
        "quantity": params["line_items"][0]["quantity"],
        "referral": "yes" if "client_reference_id" in params else "no",
        "coupon": params["discounts"][0]["coupon"] if "discounts" in params else "no",
    }


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
