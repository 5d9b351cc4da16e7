"""``python checkout_server.py`` under attack and on a bad day, over real HTTP on loopback.

Slow and idle sockets, malformed requests, a hanging Stripe with a restart in the middle:
each test starts the real server (gunicorn, gevent workers) against the Stripe stand-in and
reads its log. Every attack is bounded in sockets and seconds and stops by itself.
"""

from __future__ import annotations

import itertools
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from checkout_support import (
    TEST_KEY,
    CheckoutProcess,
    form_post,
    raw_request,
    read_answer,
    status_of,
)
from stripe_stub import StripeStub, catalogue_prices
from test_checkout_params import REFERRAL

from launchkit.checkout.serving import HEADER_TIMEOUT
from launchkit.checkout.stripe_api import CHECKOUT_DEADLINE
from launchkit.config import load_config

ENDPOINT = "/buy"  # test_checkout_params' site
BUY = f"product=once&referral={REFERRAL}".encode()


@pytest.fixture(scope="module")
def server(
    shop_config: Path, shop_stripe: StripeStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CheckoutProcess]:
    log = tmp_path_factory.mktemp("log") / "server.log"
    limits_off = {"CHECKOUT_RATE_LIMIT": "off", "CHECKOUT_MAX_STRIPE_RPS": "off"}  # tested apart
    with CheckoutProcess(shop_config, shop_stripe.url, log, **limits_off) as running:
        yield running


def buy(url: str, **headers: str) -> requests.Response:
    return requests.post(
        url + ENDPOINT, data=BUY, headers=headers, allow_redirects=False, timeout=30
    )


def assert_page_without_traceback(answer: bytes, status: int) -> None:
    assert status_of(answer) == status, answer[:300]
    assert b"text/html" in answer.split(b"\r\n\r\n")[0]
    assert b"Traceback" not in answer and TEST_KEY.encode() not in answer


def assert_no_error_lines(server: CheckoutProcess) -> None:
    """Malformed requests are the client's doing: INFO or WARNING, never ERROR or a traceback."""
    text = "\n".join(server.log_lines())
    assert " ERROR " not in text and "Traceback" not in text, text[-3000:]


# --- slow and idle clients ------------------------------------------------------------------


def hostile(port: int, send: bool, stop: threading.Event, dropped: list, started: float) -> None:
    """A socket that sends its headers a byte a second and never finishes them (``send``), or
    sends nothing; records when the server dropped it."""
    headers = b"POST /buy HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(1)
        for byte in headers if send else itertools.repeat(None):
            if stop.is_set():
                return
            try:
                if byte is not None:
                    sock.send(bytes([byte]))
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
    dropped.append(time.monotonic() - started)


def test_slow_and_idle_sockets_cost_buyers_nothing_and_are_dropped(
    server: CheckoutProcess, stripe: StripeStub
) -> None:
    """150 sockets trickling headers, 150 idle: buyers and /healthz are still answered at
    once, a slow body gets a 408 page, and the server drops every hostile socket itself."""
    stop, dropped, started = threading.Event(), [], time.monotonic()
    with ThreadPoolExecutor(max_workers=301) as pool:
        for send in [True] * 150 + [False] * 150:
            pool.submit(hostile, server.port, send, stop, dropped, started)
        slow_body = pool.submit(
            raw_request, server.port, form_post(ENDPOINT, b"", "Content-Length: 40") + b"prod"
        )
        time.sleep(1)  # the attack holds its sockets
        try:
            began = time.monotonic()
            answers = [buy(server.url) for _ in range(5)]
            health = requests.get(server.url + "/healthz", timeout=30)
            served_in = time.monotonic() - began
            time.sleep(max(0.0, HEADER_TIMEOUT + 3 - (time.monotonic() - started)))
        finally:
            stop.set()
    assert [a.status_code for a in answers] == [303] * 5 and health.status_code == 200
    assert served_in < 5, f"buyers waited {served_in:.1f} s behind the attack"
    assert len(dropped) == 300
    assert max(dropped) <= HEADER_TIMEOUT + 3, "the server held hostile sockets too long"
    assert_page_without_traceback(slow_body.result(), 408)
    assert len(stripe.sessions) == 5


def test_workers_keep_their_connections_to_stripe_alive(
    server: CheckoutProcess, stripe: StripeStub
) -> None:
    """Under gevent's sockets the Stripe transport still reuses connections: 20 checkouts one
    after the other reach Stripe over one kept-alive connection per worker process."""
    answers = [buy(server.url, Connection="close") for _ in range(20)]
    assert [a.status_code for a in answers] == [303] * 20
    assert len({request.peer for request in stripe.requests}) <= 2


# --- malformed requests ---------------------------------------------------------------------


def test_non_utf8_origin_is_a_403_page(server: CheckoutProcess, stripe: StripeStub) -> None:
    answer = raw_request(server.port, form_post(ENDPOINT, BUY, "Origin: https://\xffevil.example"))
    assert_page_without_traceback(answer, 403)
    assert stripe.requests == []
    assert_no_error_lines(server)


def test_malformed_chunked_body_is_a_400_page(server: CheckoutProcess, stripe: StripeStub) -> None:
    request = form_post(ENDPOINT, b"zz\r\nproduct=once\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
    assert_page_without_traceback(raw_request(server.port, request), 400)
    assert stripe.requests == []
    assert_no_error_lines(server)


def test_body_shorter_than_its_length_never_reaches_stripe(
    server: CheckoutProcess, stripe: StripeStub
) -> None:
    """``quantity=25`` announced, ``quantity=2`` sent, then the client stops sending."""
    body = b"product=seats&quantity=25"
    request = form_post(ENDPOINT, body[:-1], f"Content-Length: {len(body)}")
    answer = raw_request(server.port, request, half_close=True)
    assert_page_without_traceback(answer, 400)
    assert b"incomplete" in answer
    assert stripe.requests == []
    assert_no_error_lines(server)


def test_valid_chunked_form_is_accepted(server: CheckoutProcess, stripe: StripeStub) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BUY[:7], BUY[7:]))
    request = form_post(ENDPOINT, chunks + b"0\r\n\r\n", "Transfer-Encoding: chunked")
    assert status_of(raw_request(server.port, request)) == 303
    assert stripe.sessions[0]["client_reference_id"] == REFERRAL


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /buy HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /buy HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /buy HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\nproduct=once",
        b"NONSENSE\r\n\r\n",
    ],
    ids=["two-lengths", "bad-length", "non-utf8-path", "huge-length", "garbage"],
)
def test_other_malformed_requests_get_a_4xx_without_traceback(
    server: CheckoutProcess, stripe: StripeStub, request_bytes: bytes
) -> None:
    answer = raw_request(server.port, request_bytes, half_close=True)
    assert 400 <= status_of(answer) < 500, answer[:300]
    assert b"Traceback" not in answer
    assert stripe.requests == []
    assert_no_error_lines(server)


# --- a hanging Stripe, and a restart in the middle of it ------------------------------------


def test_hanging_stripe_answers_every_buyer_even_through_a_restart(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    """40 buyers while Stripe answers nothing: /healthz stays instant, a SIGTERM in the middle
    still lets every buyer have an answer (a 504 page), within the checkout's deadline."""
    limits_off = {"CHECKOUT_RATE_LIMIT": "off", "CHECKOUT_MAX_STRIPE_RPS": "off"}  # tested apart
    server = CheckoutProcess(shop_config, stripe.url, tmp_path / "server.log", **limits_off)
    stripe.hang_next(200, seconds=120)
    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            began = time.monotonic()
            buyers = [
                pool.submit(raw_request, server.port, form_post(ENDPOINT, BUY), timeout=60)
                for _ in range(40)
            ]
            time.sleep(1.5)
            health_began = time.monotonic()
            health = requests.get(server.url + "/healthz", timeout=30)
            health_took = time.monotonic() - health_began
            exit_code = server.stop()
            answers = [buyer.result() for buyer in buyers]
            slowest = time.monotonic() - began
    finally:
        stripe.release()
        server.stop()
    assert health.status_code == 200 and health_took < 1
    assert [status_of(answer) for answer in answers] == [504] * 40
    assert slowest < CHECKOUT_DEADLINE + 5
    assert exit_code == 0


# --- a stop with kept-alive connections -----------------------------------------------------


def test_a_stop_closes_idle_kept_alive_connections_at_once(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    """A browser keeps its connection after a checkout: on SIGTERM the server closes it and
    exits, instead of waiting out the keep-alive wait (which used to hold the stop ~10 s)."""
    server = CheckoutProcess(shop_config, stripe.url, tmp_path / "server.log")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(form_post(ENDPOINT, BUY, keep_alive=True))
            answer = read_answer(sock)
            began = time.monotonic()
            exit_code = server.stop()
            stopped_in = time.monotonic() - began
            closed = sock.recv(1) == b""
    finally:
        server.stop()
    assert status_of(answer) == 303 and b"connection: close" not in answer.lower()
    assert closed and exit_code == 0
    assert stopped_in < HEADER_TIMEOUT, f"the stop took {stopped_in:.1f} s"
    assert_no_error_lines(server)


def test_a_stop_still_answers_every_request_under_way(shop_config: Path, tmp_path: Path) -> None:
    """On SIGTERM a checkout waiting on a slow Stripe, and a kept-alive connection's next
    request of which only a part has arrived, are both answered in full, then closed."""
    prices = catalogue_prices(load_config(shop_config).products)
    with StripeStub(prices=prices) as slow_stripe, ThreadPoolExecutor(1) as pool:
        server = CheckoutProcess(shop_config, slow_stripe.url, tmp_path / "server.log")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as kept:
                kept.sendall(form_post(ENDPOINT, BUY, keep_alive=True))
                first = read_answer(kept)
                slow_stripe.clear()
                slow_stripe.delay = 3
                waiting = pool.submit(raw_request, server.port, form_post(ENDPOINT, BUY))
                while not slow_stripe.requests:  # that checkout now waits on Stripe
                    time.sleep(0.05)
                second = form_post(ENDPOINT, BUY, keep_alive=True)
                kept.sendall(second[:20])
                time.sleep(0.5)  # the worker reads the first bytes
                server.process.send_signal(signal.SIGTERM)
                time.sleep(1)  # the worker stops: it closes its idle connections
                kept.sendall(second[20:])
                answers = [waiting.result(), read_answer(kept)]
                closed = kept.recv(1) == b""
            exit_code = server.stop()
        finally:
            server.stop()
    assert status_of(first) == 303
    assert [status_of(answer) for answer in answers] == [303, 303]
    assert b"connection: close" in answers[1].lower() and closed
    assert exit_code == 0
    assert len(slow_stripe.sessions) == 2
    assert_no_error_lines(server)
