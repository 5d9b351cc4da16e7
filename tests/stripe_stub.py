"""A local server speaking enough of Stripe's API for the checkout's tests and benchmark.

The real ``stripe`` library is pointed at it with ``base_addresses={"api": stub.url}``; the
tests then assert on what actually went over the wire::

    with StripeStub() as stub:
        ...  # the app POSTs /v1/checkout/sessions through stripe-python
        stub.sessions[-1]["client_reference_id"]
        stub.requests[-1].headers["idempotency-key"]

What it does:

* ``POST /v1/checkout/sessions`` records the request and answers a Checkout Session JSON
  with every field of Stripe's (``id`` ``cs_test_…``, ``url`` ``{stub.url}/pay/{id}``, the
  rest at a new hosted session's values) and a ``Request-Id`` header. A
  repeated ``Idempotency-Key`` gets the first answer again, as Stripe does.
* It rejects, with Stripe's 400 ``invalid_request_error`` JSON, what Stripe rejects: blank
  values, unknown top-level parameters (the known ones are read from stripe-python's own
  ``SessionCreateParams``), ``customer_creation`` outside payment mode, ``discounts``
  together with ``allow_promotion_codes``, a relative ``success_url``/``cancel_url``, a
  ``client_reference_id`` over 200 characters, a bad line item, and (when ``prices`` is set)
  a price it does not have.
* ``GET /v1/prices/{id}`` answers the Price JSON of ``prices`` (see :func:`price` and
  :func:`catalogue_prices`), or Stripe's 404 ``resource_missing`` for an ID it does not have.
* It requires ``Authorization: Bearer sk_test_…`` (or ``rk_test_…``): 401 otherwise.
* ``GET /pay/<id>`` is a minimal "Stripe Checkout (local stub)" page whose links ``#pay`` and
  ``#cancel`` lead to the session's success URL (``{CHECKOUT_SESSION_ID}`` filled in) and
  cancel URL, for end-to-end tests in a browser.
* Faults for the next requests: :meth:`fail_next` (a status, optionally with
  ``Stripe-Should-Retry``), :meth:`drop_next` (close the connection without an answer),
  :meth:`hang_next` (answer nothing until released or stopped); ``delay`` slows every answer
  (the benchmark's 100 ms Stripe).

Thread-safe; ``start()``/``stop()`` or a ``with`` block.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from stripe._request_options import RequestOptions
from stripe.params.checkout import SessionCreateParams

SESSIONS_PATH = "/v1/checkout/sessions"
PRICES_PATH = "/v1/prices/"
# Session parameters only: the TypedDict also inherits request options (api_key, ...), which
# are headers, not body parameters.
_KNOWN_PARAMS = (SessionCreateParams.__required_keys__ | SessionCreateParams.__optional_keys__) - (
    RequestOptions.__required_keys__ | RequestOptions.__optional_keys__
)
_TEST_KEY = re.compile(r"Bearer (sk|rk)_test_[A-Za-z0-9_]+")


@dataclass
class RecordedRequest:
    """One request as the stub received it. ``headers`` has lower-case names."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: list[tuple[str, str]]
    peer: tuple[str, int] = ("", 0)  # the client's address and port: one per connection
    at: float = 0.0  # time.monotonic() when it arrived

    @property
    def params(self) -> dict[str, str]:
        """The decoded form as a dict, e.g. ``{"line_items[0][price]": "price_…"}``."""
        return dict(self.form)


@dataclass
class _Fault:
    status: int | None = None  # answer this status with a Stripe error
    should_retry: bool | None = None  # and this Stripe-Should-Retry header
    drop: bool = False  # close the connection without answering
    hang: float | None = None  # answer nothing for this long (or until stop/release)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    sessions: list[dict[str, str]] = field(default_factory=list)
    by_id: dict[str, dict] = field(default_factory=dict)
    by_idempotency_key: dict[str, dict] = field(default_factory=dict)
    faults: deque[_Fault] = field(default_factory=deque)


class StripeStub:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) that answers like Stripe."""

    def __init__(self, *, delay: float = 0.0, prices: dict[str, dict] | None = None) -> None:
        self.delay = delay
        # The account's prices by ID (see price()). When set, only these exist for sessions
        # too (others: "No such price"), like a real account; when None, sessions take any
        # price_ ID and no price can be retrieved.
        self.prices = prices
        self._state = _State()
        self._released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> StripeStub:
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._released.clear()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # wakes hanging requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StripeStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it saw -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def sessions(self) -> list[dict[str, str]]:
        """The decoded bodies of the session-create requests that created a session."""
        with self._state.lock:
            return list(self._state.sessions)

    def clear(self) -> None:
        """Forget recorded requests, sessions and queued faults; hangs hang again."""
        self._released.clear()
        with self._state.lock:
            self._state.requests.clear()
            self._state.sessions.clear()
            self._state.faults.clear()

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, *, should_retry: bool | None = None) -> None:
        """Answer the next ``count`` requests with a Stripe error of this HTTP status."""
        self._queue(_Fault(status=status, should_retry=should_retry), count)

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` requests without answering."""
        self._queue(_Fault(drop=True), count)

    def hang_next(self, count: int = 1, seconds: float = 60.0) -> None:
        """Answer nothing to the next ``count`` requests for ``seconds`` (or until stopped)."""
        self._queue(_Fault(hang=seconds), count)

    def release(self) -> None:
        """End every current hang, and any later one until :meth:`clear`."""
        self._released.set()

    def _queue(self, fault: _Fault, count: int) -> None:
        with self._state.lock:
            self._state.faults.extend([fault] * count)

    def _next_fault(self) -> _Fault | None:
        with self._state.lock:
            return self._state.faults.popleft() if self._state.faults else None

    # -- the API ---------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._state.lock:
            self._state.requests.append(request)

    def _create_session(self, request: RecordedRequest) -> tuple[int, dict]:
        """Validate like Stripe; answer (status, JSON) and remember a created session."""
        key = request.headers.get("idempotency-key")
        with self._state.lock:
            if key and key in self._state.by_idempotency_key:
                return 200, self._state.by_idempotency_key[key]
        problem = _invalid(request.form, self.prices)
        if problem:
            message, param = problem
            return 400, _error("invalid_request_error", message, param)
        params = request.params
        session_id = "cs_test_" + secrets.token_hex(12)
        session = SESSION_DEFAULTS | session_fields(params, session_id, self.url)
        with self._state.lock:
            self._state.sessions.append(params)
            self._state.by_id[session_id] = session
            if key:
                self._state.by_idempotency_key[key] = session
        return 200, session

    def _price(self, price_id: str) -> tuple[int, dict]:
        found = (self.prices or {}).get(price_id)
        if found is None:
            error = _error("invalid_request_error", f"No such price: '{price_id}'", "id")
            error["error"]["code"] = "resource_missing"
            return 404, error
        return 200, found

    def session(self, session_id: str) -> dict | None:
        """The Checkout Session JSON the stub answered for this id, or None."""
        with self._state.lock:
            return self._state.by_id.get(session_id)


# The rest of a Checkout Session as Stripe answers it (the fields of its API reference, at
# the values a new hosted session has): a client pays for parsing all of it, so the
# benchmark's stand-in answers as much as Stripe does.
SESSION_DEFAULTS: dict = {
    "adaptive_pricing": {"enabled": True},
    "after_expiration": None,
    "allow_promotion_codes": None,
    "amount_subtotal": 1900,
    "amount_total": 1900,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "billing_address_collection": None,
    "client_secret": None,
    "collected_information": None,
    "consent": None,
    "consent_collection": None,
    "currency": "usd",
    "currency_conversion": None,
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer": None,
    "customer_details": None,
    "customer_email": None,
    "discounts": [],
    "invoice": None,
    "invoice_creation": {
        "enabled": False,
        "invoice_data": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": None,
            "metadata": {},
            "rendering_options": None,
        },
    },
    "locale": None,
    "origin_context": None,
    "payment_intent": None,
    "payment_link": None,
    "payment_method_collection": "if_required",
    "payment_method_configuration_details": {"id": "pmc_stub", "parent": None},
    "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
    "payment_method_types": ["card", "link"],
    "payment_status": "unpaid",
    "permissions": None,
    "phone_number_collection": {"enabled": False},
    "presentment_details": None,
    "recovered_from": None,
    "redirect_on_completion": None,
    "return_url": None,
    "saved_payment_method_options": None,
    "setup_intent": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "submit_type": None,
    "subscription": None,
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "ui_mode": "hosted",
    "wallet_options": None,
}


def session_fields(params: dict[str, str], session_id: str, base_url: str) -> dict:
    """The fields of a new Checkout Session that its create request decides (the rest are
    :data:`SESSION_DEFAULTS`); ``params`` is the decoded form of the request."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 86400,
        "livemode": False,
        "mode": params["mode"],
        "status": "open",
        "url": f"{base_url}/pay/{session_id}",
        "success_url": params["success_url"],
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "customer_creation": params.get("customer_creation"),
        "metadata": {
            name[len("metadata[") : -1]: value
            for name, value in params.items()
            if name.startswith("metadata[")
        },
    }


def price(price_id: str, mode: str = "payment", *, active: bool = True) -> dict:
    """A Price as Stripe answers it, of the type a Checkout ``mode`` needs."""
    recurring = mode == "subscription"
    return {
        "id": price_id,
        "object": "price",
        "active": active,
        "currency": "usd",
        "unit_amount": 1900,
        "livemode": False,
        "type": "recurring" if recurring else "one_time",
        "recurring": {"interval": "month", "interval_count": 1} if recurring else None,
    }


def catalogue_prices(products: dict) -> dict[str, dict]:
    """The prices a catalogue (``config.products``) needs, each fitting its product's mode."""
    return {p.price_id: price(p.price_id, p.mode) for p in products.values()}


def _error(kind: str, message: str, param: str | None = None) -> dict:
    error = {"type": kind, "message": message}
    if param:
        error["param"] = param
    return {"error": error}


def _invalid(form: list[tuple[str, str]], prices: set[str] | None) -> tuple[str, str] | None:
    """What real Stripe would reject in a session-create body: (message, param), or None."""
    params = dict(form)
    for name, value in form:
        top = name.split("[", 1)[0]
        if top not in _KNOWN_PARAMS:
            return f"Received unknown parameter: {top}", top
        if value == "":
            return (
                f"You passed an empty string for '{name}'. We assume empty values are an "
                f"attempt to unset a parameter; however '{name}' cannot be unset.",
                name,
            )
    mode = params.get("mode")
    if mode not in ("payment", "subscription", "setup"):
        return "Invalid mode: must be one of payment, setup, or subscription", "mode"
    if "customer_creation" in params and mode != "payment":
        return "`customer_creation` can only be used in `payment` mode.", "customer_creation"
    if "allow_promotion_codes" in params and any(k.startswith("discounts[") for k in params):
        return (
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            "discounts",
        )
    for url_param in ("success_url", "cancel_url"):
        url = params.get(url_param)
        if url_param == "success_url" and url is None:
            return "Missing required param: success_url.", url_param
        if url is not None and (urlsplit(url).scheme not in ("http", "https") or "//" not in url):
            return "Not a valid URL", url_param
    if len(params.get("client_reference_id", "")) > 200:
        return "client_reference_id: must be at most 200 characters", "client_reference_id"
    return _invalid_line_item(params, prices)


def _invalid_line_item(params: dict[str, str], prices: set[str] | None) -> tuple[str, str] | None:
    price = params.get("line_items[0][price]")
    if not price or not price.startswith("price_"):
        return "line_items[0][price]: a price ID is required", "line_items[0][price]"
    if prices is not None and price not in prices:
        return f"No such price: '{price}'", "line_items[0][price]"
    if not re.fullmatch(r"[1-9][0-9]{0,5}", params.get("line_items[0][quantity]", "")):
        return "Invalid positive integer", "line_items[0][quantity]"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # a burst of new connections must not overflow the backlog (5)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a stopped server, a timed-out call) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    stub: StripeStub
    protocol_version = "HTTP/1.1"  # keep-alive: the checkout's pooled connections are reused
    # Buffer each answer and send headers and body in one write (the handler flushes after
    # every request): half the system calls and wake-ups of unbuffered writes.
    wbufsize = 1 << 16
    # Never let a small answer wait for the client's delayed ACK (~40 ms with Nagle on).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            form=parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True),
            peer=self.client_address[:2],
            at=time.monotonic(),
        )
        self.stub._record(request)
        fault = self.stub._next_fault()
        if fault and fault.hang is not None:
            self.stub._released.wait(fault.hang)
        if fault and (fault.drop or fault.hang is not None):
            self.close_connection = True
            return
        if self.stub.delay:
            time.sleep(self.stub.delay)
        if fault and fault.status is not None:
            self._fault_answer(fault)
        elif self.path.startswith("/pay/") and self.command == "GET":
            self._pay_page(self.path[len("/pay/") :])
        elif not _TEST_KEY.fullmatch(request.headers.get("authorization", "")):
            message = "Invalid API Key provided (the local stub takes sk_test_... keys)."
            self._json(401, _error("invalid_request_error", message))
        elif self.path == SESSIONS_PATH and self.command == "POST":
            self._json(*self.stub._create_session(request))
        elif self.path.startswith(PRICES_PATH) and self.command == "GET":
            self._json(*self.stub._price(self.path[len(PRICES_PATH) :]))
        else:
            self._json(
                404, _error("invalid_request_error", f"Unrecognized request URL ({self.path}).")
            )

    def _fault_answer(self, fault: _Fault) -> None:
        kind = "api_error" if fault.status >= 500 else "invalid_request_error"
        headers = {}
        if fault.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
        self._json(fault.status, _error(kind, f"Simulated HTTP {fault.status}"), headers)

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", "req_" + secrets.token_hex(8))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _pay_page(self, session_id: str) -> None:
        session = self.stub.session(session_id)
        if session is None:
            status, html = (
                404,
                "<!doctype html><title>No such session</title><h1>No such session</h1>",
            )
        else:
            success = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            cancel = session["cancel_url"] or "/"
            status, html = (
                200,
                (
                    "<!doctype html><html><head><meta charset='utf-8'>"
                    "<title>Stripe Checkout (local stub)</title></head><body>"
                    "<h1>Stripe Checkout (local stub)</h1>"
                    f"<p>Session <code>{escape(session_id)}</code></p>"
                    f"<p><a id='pay' href='{escape(success)}'>Pay</a> "
                    f"<a id='cancel' href='{escape(cancel)}'>Cancel</a></p></body></html>"
                ),
            )
        body = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
