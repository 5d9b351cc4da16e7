"""Ask Stripe for the Checkout Session: settings from the environment, the client, the call.

* :func:`environ_over_dotenv` is that environment: the process's, over the ``.env`` file
  beside the config. :func:`stripe_settings` reads the secret key and API base from it and
  refuses to start on a key that cannot work; :func:`make_stripe_client` builds the one client.
* :func:`create_session` makes the call within one deadline (:data:`CHECKOUT_DEADLINE`) and
  turns Stripe's failures into :class:`CheckoutFailure`: a status code for the buyer and a
  log line for the owner.
* :func:`check_prices` asks Stripe whether each price of the catalogue exists, is active and
  fits its product's mode (``checkout_server.py --check``, and at start).

The parameters come from :mod:`launchkit.checkout.params`; the HTTP layer around both is
:mod:`launchkit.checkout.app`.
"""

from __future__ import annotations

import base64
import contextvars
import http.client
import os
import re
import ssl
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import httptools
import stripe
from dotenv import dotenv_values
from requests.structures import CaseInsensitiveDict

from ..config import Product, SiteConfig, key_line
from ..errors import SiteError

# Per attempt: at most 2 s to connect and 5 s between bytes of the answer (Stripe's answer is
# one small JSON body, so in practice 5 s for the whole answer). stripe-python makes up to
# 1 + max_network_retries = 3 attempts and sleeps 0.5-1 s between them; CHECKOUT_DEADLINE
# bounds all of it: an attempt gets only the time left, and no retry starts that could not
# finish in time. A buyer has an answer within 15 s whatever Stripe does, under nginx's 30 s
# proxy timeout and well within the server's graceful-shutdown period (serving.py).
STRIPE_TIMEOUT: tuple[float, float] = (2.0, 5.0)
STRIPE_RETRIES = 2
CHECKOUT_DEADLINE = 15.0
# A retry is only worth starting with at least this long left for it.
_MIN_ATTEMPT = 1.0
# The deadline of the Stripe call in progress in this thread or greenlet (None: no deadline).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "launchkit_stripe_deadline", default=None
)
SESSIONS_PATH = "/v1/checkout/sessions"
# Idle connections to Stripe a process keeps for later checkouts (more in flight at once are
# closed after their answer): a burst past it costs handshakes, not open sockets forever.
_IDLE_CONNECTIONS = 128


@dataclass(frozen=True)
class StripeSettings:
    """What the checkout needs from the environment to reach Stripe."""

    secret_key: str
    api_base: str | None = None

    def __repr__(self) -> str:  # never let the key reach a log through a repr
        return f"StripeSettings(secret_key='***', api_base={self.api_base!r})"


def environ_over_dotenv(folder: Path) -> dict[str, str]:
    """The process environment over the ``.env`` file in ``folder`` (which may not exist).

    A variable set in the environment wins over the same one in ``.env``, as with
    python-dotenv's ``load_dotenv()`` and Stripe's samples, so a deployment can override a
    developer's file. A ``.env`` line without ``=`` sets nothing.
    """
    merged = {**dotenv_values(folder / ".env"), **os.environ}
    return {name: value for name, value in merged.items() if value is not None}


def stripe_settings(environ: Mapping[str, str], config: SiteConfig) -> StripeSettings:
    """Read ``STRIPE_SECRET_KEY`` / ``STRIPE_API_BASE``; raise :class:`SiteError` if unusable.

    The messages are one line each and never contain the key.
    """
    key = environ.get("STRIPE_SECRET_KEY", "").strip()
    if not key:
        raise SiteError(
            "STRIPE_SECRET_KEY is not set: put your Stripe secret key in the environment or in "
            f"{config.root / '.env'} (see .env.example)"
        )
    if key.startswith("pk_"):
        raise SiteError(
            "STRIPE_SECRET_KEY is a publishable key (pk_...): the server needs the secret key "
            "(sk_...) or a restricted key (rk_...)"
        )
    if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+", key):
        raise SiteError(
            "STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_test_..., sk_live_..., "
            "rk_test_... or rk_live_...)"
        )
    if "_live_" in key[:8]:
        insecure = [url for url in _site_urls(config) if urlsplit(url).scheme != "https"]
        if insecure:
            raise SiteError(
                f"STRIPE_SECRET_KEY is a live key but {insecure[0]} is not https: "
                "use https URLs in site.toml or a test key (sk_test_...)"
            )
    api_base = environ.get("STRIPE_API_BASE", "").strip() or None
    if api_base:
        parts = urlsplit(api_base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SiteError(f"STRIPE_API_BASE must be an http(s) URL, got {api_base!r}")
        api_base = api_base.rstrip("/")
    return StripeSettings(secret_key=key, api_base=api_base)


def _site_urls(config: SiteConfig) -> list[str]:
    """The URLs a buyer's browser visits around a checkout; a live key needs them all https."""
    urls = [config.site.base_url, config.checkout.success_url, config.checkout.cancel_url]
    if urlsplit(config.checkout.endpoint).scheme:
        urls.append(config.checkout.endpoint)
    return urls


def make_stripe_client(
    settings: StripeSettings,
    *,
    timeout: tuple[float, float] = STRIPE_TIMEOUT,
    max_network_retries: int = STRIPE_RETRIES,
    http_client: PooledHTTPClient | None = None,
) -> stripe.StripeClient:
    """The one Stripe client of the process; share it between threads and greenlets.

    Its pool keeps a connection to Stripe alive per checkout in progress. The proxy settings
    of the environment are read here, once.
    """
    return stripe.StripeClient(
        settings.secret_key,
        base_addresses={"api": settings.api_base} if settings.api_base else None,
        max_network_retries=max_network_retries,
        http_client=http_client or pooled_http_client(settings, timeout),
    )


def pooled_http_client(
    settings: StripeSettings, timeout: tuple[float, float] = STRIPE_TIMEOUT
) -> PooledHTTPClient:
    """The transport of :func:`make_stripe_client`, for a caller that must close it."""
    return PooledHTTPClient(timeout, proxy=_proxy_for(settings.api_base or stripe.DEFAULT_API_BASE))


def _proxy_for(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) sets for ``url``."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class PooledHTTPClient(stripe.HTTPClient):
    """stripe-python's transport: kept-alive connections, reused by checkouts.

    A process keeps the connections its checkouts opened (as many as were in flight at
    once) and hands an idle one to the next checkout, so a checkout normally costs no TCP
    or TLS handshake. stripe-python still builds the request, retries (``_should_retry``
    below, as its own clients decide it, within the deadline) and parses the answer. Each
    layer between it and the socket cost CPU on every checkout: ``requests`` re-merged
    settings and re-read the proxy environment (0.6 ms), urllib3's pool, header and response
    objects 0.3 ms more than ``http.client`` alone, and ``http.client`` parsed each answer's
    headers with the email package. ``http.client`` now only opens connections (TLS, proxy
    tunnels); a request is one write and its answer is parsed by httptools (llhttp, the
    parser of Node.js). Threads and greenlets share one client: taking and returning an idle
    connection are single atomic deque operations.
    """

    name = "httptools"

    def __init__(self, timeout: tuple[float, float], *, proxy: str | None = None) -> None:
        super().__init__(proxy=proxy)
        self._attempt_timeout = timeout
        self._tls = ssl.create_default_context(cafile=stripe.ca_bundle_path)
        self._proxy = urlsplit(proxy) if proxy else None
        if self._proxy and (self._proxy.scheme != "http" or not self._proxy.hostname):
            raise SiteError(f"the proxy for Stripe must be an http:// URL, got {proxy!r}")
        self._idle: dict[_Origin, deque[http.client.HTTPConnection]] = {}

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        left = time_left()
        if left is not None and left <= 0:
            raise stripe.APIConnectionError(
                "No time left to call Stripe", should_retry=False
            ) from TimeoutError("deadline passed")
        connect, read = self._attempt_timeout
        if left is not None:
            connect, read = min(connect, left), min(read, left)
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme])
        body = post_data.encode() if isinstance(post_data, str) else post_data
        headers = dict(headers or {})
        if self._proxy and parts.scheme == "http":  # a plain forward proxy sees the request
            headers.update(self._proxy_authorization())
        message = _request_message(
            method.upper(), self._target(parts), parts.netloc.rpartition("@")[2], body, headers
        )
        idle = self._idle.setdefault(origin, deque())
        try:
            connection = _take(idle)
            if connection is not None:
                try:
                    return self._done(idle, connection, _exchange(connection, read, message))
                except ConnectionError:
                    # Stripe closed the idle connection meanwhile: a new one at once (the
                    # request is idempotent; stripe-python's retry would first sleep).
                    pass
            connection = self._connect(origin, connect)
            return self._done(idle, connection, _exchange(connection, read, message))
        except (OSError, http.client.HTTPException, httptools.HttpParserError) as exc:
            # A certificate that does not verify will not verify on a retry either.
            raise stripe.APIConnectionError(
                f"Network error talking to Stripe ({type(exc).__name__}: {exc})",
                should_retry=not isinstance(exc, ssl.SSLCertVerificationError),
            ) from exc

    def _target(self, parts: SplitResult) -> str:
        """What the request line names: the path, or the whole URL for a plain-http proxy."""
        if self._proxy and parts.scheme == "http":
            return parts.geturl()
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _connect(self, origin: _Origin, timeout: float) -> http.client.HTTPConnection:
        """A new connection to ``origin`` (through the proxy, if any), connected in time."""
        scheme, host, port = origin
        if self._proxy is None:
            connection = (
                http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
                if scheme == "https"
                else http.client.HTTPConnection(host, port, timeout=timeout)
            )
        else:
            proxy_port = self._proxy.port or 80
            if scheme == "https":  # a CONNECT tunnel, TLS to Stripe inside it
                connection = http.client.HTTPSConnection(
                    self._proxy.hostname, proxy_port, timeout=timeout, context=self._tls
                )
                connection.set_tunnel(host, port, headers=self._proxy_authorization())
            else:
                connection = http.client.HTTPConnection(
                    self._proxy.hostname, proxy_port, timeout=timeout
                )
        try:
            connection.connect()
        except BaseException:
            connection.close()
            raise
        return connection

    def _proxy_authorization(self) -> dict[str, str]:
        if self._proxy is None or self._proxy.username is None:
            return {}
        credentials = f"{unquote(self._proxy.username)}:{unquote(self._proxy.password or '')}"
        return {"Proxy-Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}

    @staticmethod
    def _done(
        idle: deque[http.client.HTTPConnection],
        connection: http.client.HTTPConnection,
        answer: _Answer,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Keep the connection for the next checkout unless the answer closes it."""
        if not answer.keep_alive or len(idle) >= _IDLE_CONNECTIONS:
            connection.close()
        else:
            idle.append(connection)
        return b"".join(answer.body), answer.status, answer.headers

    def _should_retry(self, response, api_connection_error, num_retries, max_network_retries):
        """stripe-python's decision, unless the retry could not finish within the deadline."""
        left = time_left()
        if left is not None and left < self._longest_sleep(num_retries + 1) + _MIN_ATTEMPT:
            return False
        return super()._should_retry(
            response, api_connection_error, num_retries, max_network_retries
        )

    def _sleep_time_seconds(self, num_retries: int) -> float:
        left = time_left()
        sleep = super()._sleep_time_seconds(num_retries)
        return sleep if left is None else max(0.0, min(sleep, left - _MIN_ATTEMPT))

    @staticmethod
    def _longest_sleep(num_retries: int) -> float:
        delay = stripe.HTTPClient.INITIAL_DELAY * 2 ** (num_retries - 1)
        return min(delay, stripe.HTTPClient.MAX_DELAY)

    def close(self) -> None:
        """Close the idle connections (those in use are closed by their checkout)."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()


_Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _take(idle: deque[http.client.HTTPConnection]) -> http.client.HTTPConnection | None:
    """An idle connection, or None; another thread may take the last one at any moment."""
    try:
        return idle.pop()
    except IndexError:
        return None


def _request_message(
    method: str, target: str, host: str, body: bytes | None, headers: Mapping[str, str]
) -> bytes:
    """One HTTP/1.1 request, head and body, as it goes on the wire (what ``http.client``
    would send, in one write); a header that could split the message is refused."""
    if any("\r" in text or "\n" in text for text in (target, host, *headers, *headers.values())):
        raise ValueError("a request line or header for Stripe holds a line break")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b"")


class _Answer:
    """httptools' callbacks for one response: its status, headers, body and whether the
    connection stays open after it. Headers are looked up case-insensitively, as
    stripe-python expects of them (``Request-Id``, ``stripe-should-retry``)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        self.body: list[bytes] = []
        self.complete = False
        self.status = 0
        self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def ends_at_close(self) -> bool:
        """Whether the connection closing now ends the answer: its headers are in and name
        no length (an HTTP/1.0-style proxy's answer is read until the connection closes)."""
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        return bool(self.status) and "content-length" not in self.headers and not chunked

    def on_message_complete(self) -> None:
        # Asked now: once the message is over, the parser is ready for the next one.
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True


def _exchange(
    connection: http.client.HTTPConnection, read_timeout: float, message: bytes
) -> _Answer:
    """Send one request on ``connection`` and read its whole answer with httptools' C parser
    (``http.client`` parsed the answer's headers with the email package: a tenth of a
    checkout's CPU). On failure the connection is closed (its state is unknown) and the
    error raised: a :class:`ConnectionError` when the peer closed it before answering."""
    sock = connection.sock
    answer = _Answer()
    try:
        sock.settimeout(read_timeout)
        sock.sendall(message)
        received = False
        while not answer.complete:
            data = sock.recv(_RECEIVE_SIZE)
            if not data:
                if answer.ends_at_close():
                    return answer  # keep_alive stays False: the connection is closed
                if received:
                    raise http.client.IncompleteRead(b"".join(answer.body))
                raise http.client.RemoteDisconnected("Stripe closed the connection")
            received = True
            answer.parser.feed_data(data)
        return answer
    except BaseException:
        connection.close()
        raise


_RECEIVE_SIZE = 64 * 1024


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every Stripe call made inside this block, retries and back-off included, ends within
    ``seconds`` (per thread or greenlet: the deadline is a context variable)."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline, or None outside :func:`deadline`."""
    at = _DEADLINE.get()
    return None if at is None else at - time.monotonic()


@dataclass(frozen=True)
class CheckoutSession:
    """What the HTTP layer needs from a created session."""

    id: str
    url: str
    request_id: str | None


class CheckoutFailure(Exception):
    """Stripe did not give us a session: ``status`` for the buyer, ``log`` for the owner.

    ``owner_must_act`` marks failures that retrying will not fix (a wrong price ID, a revoked
    key): they are logged at ERROR, the rest at WARNING.
    """

    def __init__(self, status: int, log: str, *, owner_must_act: bool = False) -> None:
        super().__init__(log)
        self.status = status
        self.log = log
        self.owner_must_act = owner_must_act


def create_session(client: stripe.StripeClient, params: dict[str, Any]) -> CheckoutSession:
    """Create the Checkout Session; raise :class:`CheckoutFailure` for anything but success.

    The whole call, retries included, ends within :data:`CHECKOUT_DEADLINE`. One
    idempotency key per checkout, so that stripe-python's retries of a timed-out or
    failed attempt can never create two sessions; it is in every log line for the owner to
    find the request in Stripe's dashboard when Stripe never answered with a request id.
    """
    idempotency_key = f"launchkit-{uuid.uuid4()}"
    try:
        with deadline(CHECKOUT_DEADLINE):
            # The same request, retries and errors as ``client.v1.checkout.sessions.create``,
            # minus turning Stripe's answer into nested StripeObjects: a real session has
            # some 70 fields, and that conversion took 1.2 ms of CPU for the two we read.
            response = client.raw_request(
                "post", SESSIONS_PATH, **params, idempotency_key=idempotency_key
            )
    except stripe.StripeError as exc:
        raise _failure(exc, idempotency_key) from None
    session, request_id = response.data, response.request_id
    if not session.get("url"):
        raise CheckoutFailure(
            502,
            f"Stripe answered without a session URL (request {request_id}, "
            f"idempotency key {idempotency_key})",
            owner_must_act=True,
        )
    return CheckoutSession(id=session["id"], url=session["url"], request_id=request_id)


def _failure(exc: stripe.StripeError, idempotency_key: str) -> CheckoutFailure:
    """Map a Stripe error to the buyer's status code and the owner's log line."""
    where = f"request {exc.request_id or 'none'}, idempotency key {idempotency_key}"
    message = _one_line(exc.user_message or str(exc))
    if isinstance(exc, stripe.APIConnectionError):
        # A connect or read timeout of an attempt, or no time left for one.
        timed_out = isinstance(exc.__cause__, TimeoutError)
        what = "did not answer in time" if timed_out else "could not be reached"
        return CheckoutFailure(504 if timed_out else 503, f"Stripe {what} after retries ({where})")
    if isinstance(exc, stripe.RateLimitError):
        return CheckoutFailure(503, f"Stripe rate limit: {message} ({where})")
    if isinstance(exc, stripe.APIError):
        return CheckoutFailure(502, f"Stripe error {exc.http_status}: {message} ({where})")
    # Invalid request, authentication, permission: retrying will not help, the owner must act.
    return CheckoutFailure(
        502,
        f"Stripe refused the checkout ({type(exc).__name__}, HTTP {exc.http_status}): "
        f"{message} ({where}); check the price IDs in site.toml and STRIPE_SECRET_KEY",
        owner_must_act=True,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the catalogue against Stripe ----------------------------------------------------------

# What a product's mode needs of its price (Price.type).
_PRICE_TYPE = {"payment": "one_time", "subscription": "recurring"}
# All prices of a check together; past it, the rest are reported as not checked.
CHECK_DEADLINE = 20.0


@dataclass(frozen=True)
class PriceCheck:
    """What Stripe says about one product's price: ``problem`` None means it can be sold.

    ``definite`` tells a price that is wrong (missing, inactive, wrong type, key refused)
    from one that could not be checked (Stripe unreachable, a key not allowed to read
    prices): the server refuses to start on the first only.
    """

    product: Product
    line: int | None
    problem: str | None = None
    definite: bool = False


def check_prices(
    settings: StripeSettings,
    config: SiteConfig,
    config_file: Path,
    *,
    seconds: float = CHECK_DEADLINE,
) -> list[PriceCheck]:
    """Retrieve the price of every product and say whether it fits (one entry per product).

    All of it ends within ``seconds``: once they are spent, the prices left are reported as
    not checked rather than holding up a server's start. The check's connections are closed
    after it, so that a server's workers forked later never share one.
    """
    transport = pooled_http_client(settings)
    client = make_stripe_client(settings, http_client=transport)
    checks = []
    try:
        with deadline(seconds):
            for product in config.products.values():
                line = key_line(config_file, ["products", product.key, "price_id"])
                checks.append(PriceCheck(product, line, *_price_problem(client, product)))
    finally:
        transport.close()
    return checks


def _price_problem(client: stripe.StripeClient, product: Product) -> tuple[str | None, bool]:
    """(problem, definite) for one product's price; (None, False) when it is sellable."""
    try:
        price = client.v1.prices.retrieve(product.price_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            return f"price {product.price_id} does not exist in this Stripe account", True
        return f"Stripe refused to look up price {product.price_id}: {_one_line(str(exc))}", True
    except stripe.AuthenticationError:
        return "Stripe refused STRIPE_SECRET_KEY (revoked or mistyped?)", True
    except stripe.PermissionError:
        return f"the key may not read prices, so {product.price_id} was not checked", False
    except stripe.StripeError as exc:
        return f"Stripe could not be reached to check the price ({type(exc).__name__})", False
    if not price.active:
        return f"price {product.price_id} is archived (inactive): Stripe will not sell it", True
    wanted = _PRICE_TYPE[product.mode]
    if price.type != wanted:
        return (
            f"price {product.price_id} is {price.type.replace('_', '-')} but mode = "
            f"{product.mode!r} needs a {wanted.replace('_', '-')} price",
            True,
        )
    return None, False
