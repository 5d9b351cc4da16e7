"""The checkout benchmark's Stripe stand-in answers the real stripe library as Stripe would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe
from stripe_stub import SESSION_DEFAULTS, price

from launchkit.checkout.stripe_api import (
    CheckoutFailure,
    StripeSettings,
    create_session,
    make_stripe_client,
)

STAND_IN = Path(__file__).resolve().parent.parent / "bench" / "stripe_standin.py"
PARAMS = {
    "mode": "payment",
    "line_items": [{"price": "price_pro", "quantity": 1}],
    "success_url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://shop.example/",
    "client_reference_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    "metadata": {"product": "pro"},
}


class StandIn:
    def __init__(self, delay: float) -> None:
        prices = json.dumps({"price_pro": price("price_pro")})
        command = [sys.executable, str(STAND_IN), "--delay", str(delay), "--prices", prices]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.url = self.process.stdout.readline().strip()

    def command(self, text: str) -> str:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    running = StandIn(delay=0.1)
    yield running
    running.process.stdin.close()
    running.process.wait(timeout=10)


def test_sessions_come_whole_after_the_delay_on_one_kept_alive_connection(
    stand_in: StandIn,
) -> None:
    client = make_stripe_client(StripeSettings("sk_test_bench", stand_in.url))
    began = time.monotonic()
    sessions = [create_session(client, PARAMS) for _ in range(3)]
    assert time.monotonic() - began >= 0.3  # 100 ms for each answer
    assert len({session.id for session in sessions}) == 3
    assert all(session.url == f"{stand_in.url}/pay/{session.id}" for session in sessions)
    assert all(session.request_id.startswith("req_") for session in sessions)
    full = client.raw_request("post", "/v1/checkout/sessions", **PARAMS).data
    assert set(SESSION_DEFAULTS) < set(full)  # every field Stripe answers
    assert full["client_reference_id"] == PARAMS["client_reference_id"]
    assert full["metadata"] == {"product": "pro"}
    assert full["success_url"] == PARAMS["success_url"]
    assert stand_in.command("count") == "4"
    assert stand_in.command("connections") == "1"


def test_prices_keys_and_hangs_as_stripe(stand_in: StandIn) -> None:
    client = make_stripe_client(StripeSettings("sk_test_bench", stand_in.url))
    assert client.v1.prices.retrieve("price_pro").type == "one_time"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.retrieve("price_gone")
    assert missing.value.code == "resource_missing"
    live = make_stripe_client(StripeSettings("sk_live_bench", stand_in.url))
    with pytest.raises(stripe.AuthenticationError):
        live.v1.prices.retrieve("price_pro")
    assert stand_in.command("hang 1") == "ok"
    hanging = make_stripe_client(
        StripeSettings("sk_test_bench", stand_in.url), timeout=(1.0, 0.5), max_network_retries=0
    )
    with pytest.raises(CheckoutFailure) as failure:
        create_session(hanging, PARAMS)
    assert failure.value.status == 504
    assert stand_in.command("release") == "ok"
    assert create_session(hanging, PARAMS).id.startswith("cs_test_")
