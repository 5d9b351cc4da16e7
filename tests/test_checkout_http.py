"""The checkout over real HTTP: a browser-like client -> the app (waitress) -> stripe-python
-> StripeStub. Every assertion about Stripe is on the decoded body the stub received.

The app runs in a threaded WSGI server inside the test process, so that faults can be set
up between requests; ``checkout_server.py``'s own gunicorn workers are run by
``test_checkout_startup.py`` and the end-to-end tests."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

import pytest
import requests
import waitress.server
from bs4 import BeautifulSoup
from stripe_stub import StripeStub, price
from test_checkout_params import REFERRAL, write_site

from launchkit.checkout.app import SECURITY_HEADERS, create_app
from launchkit.checkout.logs import ACCESS_LOGGER
from launchkit.checkout.stripe_api import StripeSettings, create_session, make_stripe_client
from launchkit.config import SiteConfig, load_config
from launchkit.errors import SiteError

SECRET = "sk_test_51SecretKeyThatMustNeverBeShown"
ENDPOINT = "/buy"
SITE_ORIGIN = "https://shop.example"


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve a WSGI app with waitress (threaded, in this process) on an ephemeral port."""
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=48)
    closing = threading.Event()

    def run() -> None:
        # Waitress has no stop call: closing its sockets ends its select() loop with EBADF
        # (webtest's StopableWSGIServer does the same), which is expected once we close.
        try:
            server.run()
        except OSError:
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        closing.set()
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    return load_config(write_site(tmp_path_factory.mktemp("site")))


@pytest.fixture(scope="module")
def stub() -> Iterator[StripeStub]:
    with StripeStub() as stub:
        yield stub


@pytest.fixture(autouse=True)
def fresh_stub(stub: StripeStub) -> None:
    stub.clear()
    stub.prices = None


def checkout_app(config: SiteConfig, api_base: str, *, timeout=(1.0, 2.0), trusted=True):
    client = make_stripe_client(StripeSettings(SECRET, api_base), timeout=timeout)
    return create_app(config, stripe_client=client, stripe_api_base=api_base if trusted else None)


@pytest.fixture(scope="module")
def server(config: SiteConfig, stub: StripeStub) -> Iterator[str]:
    with serve(checkout_app(config, stub.url)) as url:
        yield url


def fetch(method: str, url: str, **kwargs) -> requests.Response:
    """One HTTP request as a browser with redirects off would make it (never waits forever)."""
    return requests.request(method, url, timeout=30, allow_redirects=False, **kwargs)


def post(server: str, fields, **headers: str) -> requests.Response:
    return fetch("POST", server + ENDPOINT, data=fields, headers=headers)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The access lines logged meanwhile (each carries its fields as ``record.fields``)."""
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


def page(response: requests.Response) -> BeautifulSoup:
    assert response.headers["Content-Type"].startswith("text/html")
    return BeautifulSoup(response.text, "html.parser")


def assert_friendly_page(response: requests.Response, status: int, heading: str) -> None:
    assert response.status_code == status
    soup = page(response)
    assert heading in soup.h1.get_text()
    assert soup.find("a", class_="back")["href"] == "https://shop.example"
    assert "Test Shop" in soup.title.get_text()
    assert "Traceback" not in response.text and SECRET not in response.text


# --- the happy path and what reaches Stripe -------------------------------------------------


def test_checkout_redirects_to_the_session_stripe_returned(server: str, stub: StripeStub) -> None:
    response = post(server, {"product": "once", "referral": REFERRAL})
    assert response.status_code == 303
    session_id = response.headers["Location"].rsplit("/", 1)[-1]
    assert response.headers["Location"] == stub.session(session_id)["url"]
    (request,) = stub.requests
    assert request.path == "/v1/checkout/sessions"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.params == {
        "mode": "payment",
        "line_items[0][price]": "price_once",
        "line_items[0][quantity]": "1",
        "success_url": "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/pricing/",
        "metadata[product]": "once",
        "metadata[referral]": REFERRAL,
        "customer_creation": "always",
        "client_reference_id": REFERRAL,
    }
    # Form-encoded once on the wire, so Stripe decodes the placeholder back to the literal.
    assert b"%7BCHECKOUT_SESSION_ID%7D" in request.body and b"%257B" not in request.body


def test_the_stub_pay_page_leads_to_success_and_cancel_urls(server: str, stub: StripeStub) -> None:
    location = post(server, {"product": "monthly"}).headers["Location"]
    soup = page(fetch("GET", location))
    session_id = location.rsplit("/", 1)[-1]
    assert soup.find(id="pay")["href"] == f"https://shop.example/thanks/?session_id={session_id}"
    assert soup.find(id="cancel")["href"] == "https://shop.example/pricing/"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([REFERRAL], REFERRAL),
        ([f"  {REFERRAL} "], REFERRAL),
        ([REFERRAL.upper()], REFERRAL),
        (["garbage"], None),
        ([""], None),
        (["", "garbage", REFERRAL, str(uuid.uuid4())], REFERRAL),
        ([REFERRAL + "x" * 300], None),
    ],
)
def test_referral_reaches_stripe_iff_valid(server: str, stub: StripeStub, values, expected) -> None:
    fields = [("product", "monthly"), *(("referral", value) for value in values)]
    assert post(server, fields).status_code == 303
    (sent,) = stub.sessions
    assert sent.get("client_reference_id") == expected
    assert sent.get("metadata[referral]") == expected


@pytest.mark.parametrize("product", ["once", "monthly", "seats", "packs"])
def test_no_blank_values_and_customer_creation_only_in_payment_mode(
    server: str, stub: StripeStub, config: SiteConfig, product: str
) -> None:
    assert post(server, {"product": product, "referral": "", "coupon": ""}).status_code == 303
    (request,) = stub.requests
    assert all(value.strip() for _, value in request.form), request.form
    is_payment = config.products[product].mode == "payment"
    assert ("customer_creation" in request.params) == is_payment


@pytest.mark.parametrize(
    ("coupon", "discount"), [("PARTNER20", "PARTNER20"), ("FREE100", None), ("", None)]
)
def test_coupons_only_from_the_allow_list(server: str, stub: StripeStub, coupon, discount) -> None:
    assert post(server, {"product": "monthly", "coupon": coupon}).status_code == 303
    (sent,) = stub.sessions
    assert sent.get("discounts[0][coupon]") == discount
    assert sent.get("allow_promotion_codes") == (None if discount else "true")


@pytest.mark.parametrize(("quantity", "sent"), [(None, "2"), ("2", "2"), ("50", "50")])
def test_quantity_within_bounds(server: str, stub: StripeStub, quantity, sent) -> None:
    fields = {"product": "seats"} | ({"quantity": quantity} if quantity else {})
    assert post(server, fields).status_code == 303
    (body,) = stub.sessions
    assert body["line_items[0][quantity]"] == sent
    assert body["line_items[0][adjustable_quantity][enabled]"] == "true"
    assert body["line_items[0][adjustable_quantity][minimum]"] == "2"
    assert body["line_items[0][adjustable_quantity][maximum]"] == "50"


@pytest.mark.parametrize("quantity", ["0", "1", "51", "abc"])
def test_quantity_out_of_bounds_is_a_400_page(server: str, stub: StripeStub, quantity) -> None:
    response = post(server, {"product": "seats", "quantity": quantity})
    assert_friendly_page(response, 400, "We could not read that order")
    assert "quantity" in page(response).main.get_text().lower()
    assert stub.requests == []


def test_a_visitor_price_is_never_used(server: str, stub: StripeStub) -> None:
    fields = {"product": "once", "price": "price_cheap", "price_id": "price_cheap", "x": "y"}
    assert post(server, fields).status_code == 303
    (body,) = stub.sessions
    assert body["line_items[0][price]"] == "price_once"
    assert "price_cheap" not in stub.requests[0].body.decode()


@pytest.mark.parametrize("fields", [{"product": "nope"}, {}, {"quantity": "1"}])
def test_unknown_or_missing_product_is_a_400_page(server: str, stub: StripeStub, fields) -> None:
    assert_friendly_page(post(server, fields), 400, "We could not read that order")
    assert stub.requests == []


# --- HTTP edges --------------------------------------------------------------------------------


def test_get_on_the_endpoint_is_405(server: str) -> None:
    response = fetch("GET", server + ENDPOINT)
    assert_friendly_page(response, 405, "Use the buy button")
    assert "POST" in response.headers["Allow"]


def test_unknown_path_is_a_friendly_404(server: str) -> None:
    assert_friendly_page(fetch("GET", server + "/nope"), 404, "Page not found")


def test_oversized_body_is_413(server: str, stub: StripeStub) -> None:
    response = post(server, {"product": "once", "padding": "x" * 9000})
    assert_friendly_page(response, 413, "too large")
    assert stub.requests == []


@pytest.mark.parametrize("body", [b"product=once&referral=%ff%fe", "product=caf\u00e9".encode()])
def test_undecodable_body_is_400(server: str, stub: StripeStub, body: bytes) -> None:
    response = fetch(
        "POST",
        server + ENDPOINT,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_friendly_page(response, 400, "We could not read that order")
    assert "could not be decoded" in page(response).main.get_text()
    assert stub.requests == []


def test_a_body_that_is_not_a_form_is_415(server: str, stub: StripeStub) -> None:
    response = fetch("POST", server + ENDPOINT, json={"product": "once"})
    assert_friendly_page(response, 415, "We could not read that order")
    assert stub.requests == []


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://evil.example", 403),
        ("null", 403),
        ("https://shop.example.evil.example", 403),
        (SITE_ORIGIN, 303),
        ("https://staging.shop.example", 303),
        (None, 303),
    ],
)
def test_origin_must_be_the_site_or_configured(
    server: str, stub: StripeStub, origin, status
) -> None:
    headers = {"Origin": origin} if origin else {}
    response = post(server, {"product": "once"}, **headers)
    assert response.status_code == status
    assert len(stub.requests) == (1 if status == 303 else 0)
    if status == 403:
        assert_friendly_page(response, 403, "not ours")


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("POST", ENDPOINT, {"product": "once"}),
        ("POST", ENDPOINT, {"product": "nope"}),
        ("GET", ENDPOINT, None),
        ("GET", "/healthz", None),
        ("GET", "/missing", None),
    ],
)
def test_security_headers_on_every_answer(server: str, method, path, fields) -> None:
    response = fetch(method, server + path, data=fields)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_does_not_call_stripe(server: str, stub: StripeStub) -> None:
    response = fetch("GET", server + "/healthz")
    assert response.status_code == 200
    assert stub.requests == []


# --- Stripe's failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        lambda stub: stub.fail_next(500),
        lambda stub: stub.fail_next(429, should_retry=True),
        lambda stub: stub.drop_next(),
    ],
    ids=["500", "429-should-retry", "dropped-connection"],
)
def test_one_failure_is_retried_and_the_sale_goes_on(server: str, stub: StripeStub, fault) -> None:
    fault(stub)
    response = post(server, {"product": "once", "referral": REFERRAL})
    assert response.status_code == 303
    first, second = stub.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    assert len(stub.sessions) == 1
    assert stub.sessions[0]["client_reference_id"] == REFERRAL


def test_rate_limit_without_retry_advice_is_a_503_page(server: str, stub: StripeStub) -> None:
    # stripe-python retries a 429 only when Stripe says Stripe-Should-Retry: true.
    stub.fail_next(429)
    assert_friendly_page(post(server, {"product": "once"}), 503, "cannot be reached")


def test_stripe_5xx_after_retries_is_a_502_page_and_a_log_line(
    server: str, stub: StripeStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_next(503, count=3)
    with caplog.at_level(logging.INFO, logger="launchkit.checkout"):
        response = post(server, {"product": "once"})
    assert_friendly_page(response, 502, "We could not start the checkout")
    assert len(stub.requests) == 3
    (record,) = access_lines(caplog)
    assert record.levelno == logging.WARNING
    assert record.fields["status"] == "502"
    assert "request req_" in record.fields["stripe"]


def test_invalid_request_is_a_clear_page_and_a_loud_log_line(
    server: str, stub: StripeStub, caplog: pytest.LogCaptureFixture
) -> None:
    # The config's price_once does not exist in "Stripe".
    stub.prices = {"price_monthly": price("price_monthly", "subscription")}
    with caplog.at_level(logging.INFO, logger="launchkit.checkout"):
        response = post(server, {"product": "once"})
    assert_friendly_page(response, 502, "We could not start the checkout")
    assert len(stub.requests) == 1  # a 400 is not retried
    (record,) = access_lines(caplog)
    assert record.levelno == logging.ERROR
    assert "No such price: 'price_once'" in record.fields["stripe"]
    assert "request req_" in record.fields["stripe"]


def test_stripe_down_is_a_friendly_503(config: SiteConfig, stub: StripeStub) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with serve(checkout_app(config, closed)) as url:
        response = post(url, {"product": "once"})
    assert_friendly_page(response, 503, "cannot be reached")


def test_stripe_hanging_gets_the_buyer_a_504_within_the_timeout(
    config: SiteConfig, stub: StripeStub
) -> None:
    stub.hang_next(3, seconds=30)
    with serve(checkout_app(config, stub.url, timeout=(0.5, 0.3))) as url:
        response = post(url, {"product": "once"})
    stub.release()
    assert_friendly_page(response, 504, "took too long")
    assert len(stub.requests) == 3  # the first attempt and both retries timed out


def test_a_connection_stripe_closed_while_idle_is_replaced_at_once() -> None:
    """Stripe closes kept-alive connections it finds idle; the next checkout on one gets
    a new connection and its answer, without a retry of stripe-python's (none allowed
    here), which would first sleep for half a second."""
    with _OneAnswerPerConnection() as api:
        settings = StripeSettings(SECRET, api.url)
        client = make_stripe_client(settings, max_network_retries=0)
        params = {"mode": "payment", "success_url": "https://shop.example/thanks"}
        sessions = [create_session(client, params) for _ in range(3)]
    assert [session.id for session in sessions] == ["cs_test_idle"] * 3
    assert api.connections == 3


def test_stripe_through_the_proxy_the_environment_names(
    stub: StripeStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTP_PROXY`` (and ``HTTPS_PROXY`` for api.stripe.com) as urllib reads them: the
    request goes through the proxy, with the URL's credentials as Basic auth."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://buyer%40shop:s3cret@127.0.0.1:{proxy.port}")
        client = make_stripe_client(StripeSettings(SECRET, stub.url))
        session = create_session(client, {"mode": "payment", **_LINE_ITEM})
    assert session.url.startswith(stub.url + "/pay/")
    assert proxy.seen == [(f"{stub.url}/v1/checkout/sessions", "Basic YnV5ZXJAc2hvcDpzM2NyZXQ=")]


def test_a_proxy_that_is_not_plain_http_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:3128")
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SiteError, match="must be an http:// URL"):
        make_stripe_client(StripeSettings(SECRET))


_LINE_ITEM = {
    "success_url": "https://shop.example/thanks",
    "line_items": [{"price": "price_once", "quantity": 1}],
}


class _LocalServer(ThreadingHTTPServer):
    """A threaded HTTP server on an ephemeral loopback port, served while in a with block."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Stripe's API and proxies speak

    def log_message(self, *args: object) -> None:
        pass


class _ForwardProxy(_LocalServer):
    """A plain-HTTP forward proxy: records each request's URL and Proxy-Authorization,
    forwards it and relays the answer."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                outer.seen.append((self.path, self.headers["Proxy-Authorization"]))
                body = self.rfile.read(int(self.headers["Content-Length"]))
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k != "Proxy-Authorization"}
                upstream.request("POST", target.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        super().__init__(Handler)


class _OneAnswerPerConnection(_LocalServer):
    """Answers a session, then closes the connection without saying so (no
    ``Connection: close``), as a server does with a kept-alive connection it found idle."""

    def __init__(self) -> None:
        self.connections = 0
        outer = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                outer.connections += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps({"id": "cs_test_idle", "url": "https://pay.example/c"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())
                self.close_connection = True

        super().__init__(Handler)


@pytest.mark.parametrize(
    ("framing", "connections"), [("chunked", 1), ("chunked, close", 3), ("until close", 3)]
)
def test_answers_in_pieces_are_read_whole_and_connections_kept_as_the_answer_says(
    framing: str, connections: int
) -> None:
    """An answer in several writes, headers in any case (a proxy may send them so), chunked
    or (as an HTTP/1.0-style proxy answers) without a length until the connection closes,
    is read whole; the connection is reused unless the answer closes it."""
    with _PiecewiseAnswers(framing) as api:
        client = make_stripe_client(StripeSettings(SECRET, api.url), max_network_retries=0)
        params = {"mode": "payment", "success_url": "https://shop.example/thanks"}
        sessions = [create_session(client, params) for _ in range(3)]
    assert [(s.id, s.url, s.request_id) for s in sessions] == [
        ("cs_test_chunked", "https://pay.example/c", "req_chunked")
    ] * 3
    assert api.connections == connections


class _PiecewiseAnswers(_LocalServer):
    """Answers each session in two writes with lower-case headers, framed as ``framing``
    says: ``chunked``, ``chunked, close`` (and ``Connection: close``) or ``until close``
    (no length; the connection is closed after the body)."""

    def __init__(self, framing: str) -> None:
        self.connections = 0
        outer = self

        class Handler(_QuietHandler):
            def setup(self) -> None:
                outer.connections += 1
                super().setup()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps({"id": "cs_test_chunked", "url": "https://pay.example/c"})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", "req_chunked")
                chunked = framing.startswith("chunked")
                if chunked:
                    self.send_header("transfer-encoding", "chunked")
                if framing.endswith("close"):
                    self.send_header("connection", "close")
                    self.close_connection = True
                self.end_headers()
                for part in (body[:10], body[10:]):
                    framed = f"{len(part):x}\r\n{part}\r\n" if chunked else part
                    self.wfile.write(framed.encode())
                    self.wfile.flush()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")

        super().__init__(Handler)


def test_a_non_https_session_url_is_never_a_redirect_target(
    config: SiteConfig, stub: StripeStub
) -> None:
    # Not pointed at a trusted local API base: the stub's http:// session URL is refused.
    with serve(checkout_app(config, stub.url, trusted=False)) as url:
        response = post(url, {"product": "once"})
    assert_friendly_page(response, 502, "We could not start the checkout")
    assert "Location" not in response.headers


def test_parallel_checkouts_each_keep_their_own_referral(server: str, stub: StripeStub) -> None:
    referrals = [str(uuid.uuid4()) for _ in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(
            pool.map(lambda r: post(server, {"product": "seats", "referral": r}), referrals)
        )
    for referral, response in zip(referrals, responses, strict=True):
        assert response.status_code == 303
        session = stub.session(response.headers["Location"].rsplit("/", 1)[-1])
        assert session["client_reference_id"] == referral
    assert len(stub.sessions) == 40


def test_the_key_never_appears_in_answers_or_logs(
    config: SiteConfig, stub: StripeStub, caplog: pytest.LogCaptureFixture
) -> None:
    answers = []
    with caplog.at_level(logging.DEBUG), serve(checkout_app(config, stub.url)) as url:
        answers.append(post(url, {"product": "once", "referral": REFERRAL}))
        stub.fail_next(500, count=3)
        answers.append(post(url, {"product": "once"}))
        stub.prices = {}
        answers.append(post(url, {"product": "once"}))
        answers.append(post(url, {"product": "nope"}))
        answers.append(fetch("GET", url + ENDPOINT))
    assert [a.status_code for a in answers] == [303, 502, 502, 400, 405]
    assert any("stripe" in record.name for record in caplog.records)  # DEBUG was captured
    for answer in answers:
        assert SECRET not in answer.text and SECRET not in str(answer.headers)
    assert SECRET not in caplog.text


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_shows_the_exact_parameters_and_calls_nobody(config: SiteConfig) -> None:
    with serve(create_app(config, dry_run=True)) as url:
        response = post(url, {"product": "seats", "quantity": "3", "referral": REFERRAL.upper()})
        rejected = post(url, {"product": "seats", "quantity": "99"})
    assert response.status_code == 200
    soup = page(response)
    assert json.loads(soup.find("pre", id="params").get_text()) == {
        "mode": "subscription",
        "line_items": [
            {
                "price": "price_seat",
                "quantity": 3,
                "adjustable_quantity": {"enabled": True, "minimum": 2, "maximum": 50},
            }
        ],
        "success_url": "https://shop.example/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/pricing/",
        "metadata": {"product": "seats", "referral": REFERRAL},
        "client_reference_id": REFERRAL,
    }
    assert REFERRAL in soup.main.p.get_text()
    assert rejected.status_code == 400


def test_create_app_needs_a_client_unless_dry_run(config: SiteConfig) -> None:
    with pytest.raises(ValueError, match="stripe_client"):
        create_app(config)


def test_stub_rejects_what_stripe_rejects(stub: StripeStub) -> None:
    """The stub is only a safety net if it refuses what Stripe refuses."""
    good = {
        "mode": "payment",
        "line_items[0][price]": "price_x",
        "line_items[0][quantity]": "1",
        "success_url": "https://shop.example/ok",
    }
    bad_bodies = [
        {**good, "client_reference_id": ""},
        {**good, "mode": "subscription", "customer_creation": "always"},
        {**good, "discounts[0][coupon]": "C", "allow_promotion_codes": "true"},
        {**good, "success_url": "/thanks/"},
        {**good, "payment_method_types[0]": "card"},
    ]
    auth = {"Authorization": "Bearer sk_test_x"}
    url = stub.url + "/v1/checkout/sessions"
    assert fetch("POST", url, data=good, headers=auth).status_code == 200
    for body in bad_bodies:
        answer = fetch("POST", url, data=body, headers=auth)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert answer.headers["Request-Id"].startswith("req_")
    assert fetch("POST", url, data=good).status_code == 401
    assert (
        fetch("POST", url, data=good, headers={"Authorization": "Bearer sk_live_x"}).status_code
        == 401
    )
