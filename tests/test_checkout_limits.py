"""Rate limits and the Stripe ceiling of ``python checkout_server.py``, and its log lines.

Each test runs the real server (two gevent worker processes) against the Stripe stand-in;
the shared storage across instances is a real Redis server (Debian's ``redis-server``)
started on a free port.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bs4 import BeautifulSoup
from checkout_support import (
    TEST_KEY,
    CheckoutProcess,
    form_post,
    free_port,
    raw_request,
    read_answer,
    status_of,
)
from stripe_stub import StripeStub
from test_checkout_params import REFERRAL

ENDPOINT = "/buy"
BUY = {"product": "once", "referral": REFERRAL}


def start(shop_config: Path, stripe: StripeStub, log: Path, **env: str) -> CheckoutProcess:
    return CheckoutProcess(shop_config, stripe.url, log, "--workers", "2", **env)


def post(url: str, **headers: str) -> requests.Response:
    # A new connection each time, as new visitors arrive: they land on either worker.
    headers = {"Connection": "close", **headers}
    return requests.post(
        url + ENDPOINT, data=BUY, headers=headers, allow_redirects=False, timeout=30
    )


def test_the_limit_holds_for_the_instance_whatever_its_workers(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    with start(shop_config, stripe, tmp_path / "log", CHECKOUT_RATE_LIMIT="5/minute") as server:
        answers = [post(server.url) for _ in range(12)]
    assert [a.status_code for a in answers] == [303] * 5 + [429] * 7
    assert len(stripe.sessions) == 5  # Stripe was never asked for the refused ones
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = BeautifulSoup(refused.text, "html.parser")
    assert "Too many orders" in page.h1.get_text()
    assert "Nothing was charged" in page.main.get_text()


def test_forwarded_for_counts_only_from_a_trusted_proxy(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    env = {"CHECKOUT_RATE_LIMIT": "2/minute"}
    with start(shop_config, stripe, tmp_path / "trusted", **env) as server:  # 127.0.0.1 trusted
        first = [post(server.url, **{"X-Forwarded-For": "198.51.100.7"}) for _ in range(3)]
        other = post(server.url, **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
    assert [a.status_code for a in first] == [303, 303, 429]
    assert other.status_code == 429  # the proxy appended the real client: .7 again
    with start(
        shop_config, stripe, tmp_path / "untrusted", FORWARDED_ALLOW_IPS="192.0.2.1", **env
    ) as server:
        spoofed = [post(server.url, **{"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(3)]
    assert [a.status_code for a in spoofed] == [303, 303, 429]  # all counted as 127.0.0.1


def test_the_ceiling_sheds_load_before_stripe_would(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    """Twelve buy forms in the same instant, a ceiling of 4 a second: 4 reach Stripe."""
    env = {"CHECKOUT_RATE_LIMIT": "off", "CHECKOUT_MAX_STRIPE_RPS": "4"}
    body = b"product=once"
    with start(shop_config, stripe, tmp_path / "log", **env) as server:
        # Connected first, then sent together: all twelve arrive well within one second.
        address = ("127.0.0.1", server.port)
        sockets = [socket.create_connection(address, timeout=30) for _ in range(12)]
        for sock in sockets:
            sock.sendall(form_post(ENDPOINT, body))
        answers = [read_answer(sock) for sock in sockets]
        for sock in sockets:
            sock.close()
    statuses = [status_of(answer) for answer in answers]
    # Stripe was asked only for the checkouts the buyers were sent to, never 5 in a second.
    assert sorted(set(statuses)) == [303, 503] and statuses.count(303) >= 4
    arrivals = [request.at for request in stripe.requests if request.method == "POST"]
    assert len(arrivals) == statuses.count(303) == len(stripe.sessions)
    # The moving window admits a fifth checkout a full second after the first; at Stripe each
    # arrives later by its own trip through the server, which the twelve requests landing at
    # once stretch for the first ones on a loaded machine (a CI run saw more than 0.2 s).
    gaps = [later - first for first, later in zip(arrivals, arrivals[4:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), gaps
    busy = next(answer for answer in answers if status_of(answer) == 503)
    assert b"\r\nRetry-After: 1\r\n" in busy
    assert b"taking a lot of orders" in busy


def test_workers_counting_their_first_hits_at_once_share_the_ceiling() -> None:
    """Four just-forked workers hit a new Guard's ceiling of 4 in the same instant: 4 pass.

    When each worker's first hit also made the file's table, one of them could fail with
    "database is locked", a failing storage lets the request through, and more passed in
    3 to 34 of 100 starts.
    """
    script = Path(__file__).with_name("ceiling_race.py")
    run = subprocess.run(
        [sys.executable, str(script), "100", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert run.stdout.splitlines() == ["4"] * 100, run.stdout


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's redis-server on a free port of 127.0.0.1, nothing written to disk."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _answers_ping(port):
            assert time.monotonic() < deadline and process.poll() is None, "redis did not start"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers_ping(port: int) -> bool:
    try:
        return b"PONG" in raw_request(port, b"PING\r\n", timeout=1)
    except OSError:
        return False


def test_instances_share_the_limit_through_redis(
    shop_config: Path, stripe: StripeStub, tmp_path: Path, redis_url: str
) -> None:
    env = {"CHECKOUT_RATE_LIMIT": "4/minute", "RATE_LIMIT_STORAGE_URL": redis_url}
    with (
        start(shop_config, stripe, tmp_path / "a", **env) as one,
        start(shop_config, stripe, tmp_path / "b", **env) as two,
    ):
        answers = [post(server.url) for _ in range(4) for server in (one, two)]
    assert [a.status_code for a in answers] == [303] * 4 + [429] * 4
    assert len(stripe.sessions) == 4


def test_json_access_lines_carry_what_an_owner_needs(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    env = {"LOG_FORMAT": "json", "CHECKOUT_RATE_LIMIT": "1/minute"}
    with start(shop_config, stripe, tmp_path / "log", **env) as server:
        post(server.url)
        post(server.url)
        raw_request(server.port, form_post(ENDPOINT + "%0Ainjected", b"", "Origin: https://\xff"))
        requests.get(server.url + "/healthz", timeout=10)
    text = server.log.read_text()
    assert TEST_KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    access = server.access_lines()
    sold, limited, foreign, health = access
    assert sold["client"] == "127.0.0.1" and sold["method"] == "POST" and sold["path"] == ENDPOINT
    assert sold["status"] == "303" and sold["ms"] > 0
    assert sold["product"] == "once" and sold["referral"] == "yes"
    assert sold["stripe_request"].startswith("req_") and sold["level"] == "INFO"
    assert limited["status"] == "429" and limited["level"] == "WARNING"
    assert foreign["path"] == ENDPOINT + "\ninjected" and foreign["status"] == "404"
    assert health["path"] == "/healthz" and health["status"] == "200"
    assert len(lines) > len(access)  # gunicorn's own lines are JSON too


def test_text_access_lines_keep_attacker_text_on_one_line(
    shop_config: Path, stripe: StripeStub, tmp_path: Path
) -> None:
    with start(shop_config, stripe, tmp_path / "log") as server:
        raw_request(server.port, form_post(ENDPOINT + "%0D%0AFAKE%20level=ERROR", b"product=x"))
        post(server.url)
    lines = server.log_lines()
    assert not any(line.startswith("FAKE") for line in lines)
    (rejected,) = [line for line in lines if "FAKE" in line]
    assert 'path="/buy\\r\\nFAKE level=ERROR"' in rejected and " status=404 " in rejected
    (sold,) = [line for line in lines if "status=303" in line]
    assert "client=127.0.0.1 method=POST path=/buy status=303 ms=" in sold
    assert "product=once" in sold and "referral=yes" in sold and "stripe_request=req_" in sold
    assert TEST_KEY not in "\n".join(lines)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"CHECKOUT_RATE_LIMIT": "lots"}, "CHECKOUT_RATE_LIMIT"),
        ({"CHECKOUT_MAX_STRIPE_RPS": "-3"}, "CHECKOUT_MAX_STRIPE_RPS"),
        ({"RATE_LIMIT_STORAGE_URL": "nosuch://x"}, "RATE_LIMIT_STORAGE_URL"),
        ({"FORWARDED_ALLOW_IPS": "not-an-ip"}, "FORWARDED_ALLOW_IPS"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_unusable_settings_are_refused_in_one_line(
    shop_config: Path, stripe: StripeStub, tmp_path: Path, env: dict, reason: str
) -> None:
    with pytest.raises(RuntimeError, match=reason) as refused:
        start(shop_config, stripe, tmp_path / "log", **env)
    assert "Traceback" not in str(refused.value)
