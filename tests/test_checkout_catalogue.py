"""The catalogue checked against Stripe (``--check`` and at start), and dry runs kept away
from buyers: ``python checkout_server.py`` as the owner runs it, against the Stripe stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from checkout_support import SERVER, TEST_KEY, CheckoutProcess, free_port
from stripe_stub import StripeStub, catalogue_prices, price
from test_checkout_params import write_site

from launchkit.config import load_config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_site(tmp_path)


def run(config_file: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SERVER), "--config", str(config_file), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def where(config_file: Path, price_id: str) -> str:
    """``site.toml:LINE`` of the line that sets ``price_id``."""
    line = config_file.read_text().splitlines().index(f'price_id = "{price_id}"') + 1
    return f"{config_file}:{line}"


def wrong_prices(config_file: Path) -> dict[str, dict]:
    """The catalogue's prices with one missing, one archived and one of the wrong type."""
    prices = catalogue_prices(load_config(config_file).products)
    del prices["price_once"]
    prices["price_monthly"]["active"] = False
    prices["price_seat"] = price("price_seat", "payment")  # one-time, for a subscription
    return prices


def test_check_reports_every_product_with_its_line(config_file: Path) -> None:
    with StripeStub(prices=wrong_prices(config_file)) as stub:
        result = run(
            config_file, {"STRIPE_SECRET_KEY": TEST_KEY, "STRIPE_API_BASE": stub.url}, "--check"
        )
    assert result.returncode == 1, result.stderr
    lines = dict(line.split(": product ", 1) for line in result.stdout.splitlines())
    once, monthly = where(config_file, "price_once"), where(config_file, "price_monthly")
    seats, packs = where(config_file, "price_seat"), where(config_file, "price_pack")
    assert "'once': price price_once does not exist" in lines[once]
    assert "'monthly': price price_monthly is archived (inactive)" in lines[monthly]
    assert (
        "'seats': price price_seat is one-time but mode = 'subscription' needs a recurring"
        in (lines[seats])
    )
    assert lines[packs].startswith("'packs': ok")
    assert TEST_KEY not in result.stdout + result.stderr


def test_check_passes_a_catalogue_stripe_sells(config_file: Path) -> None:
    with StripeStub(prices=catalogue_prices(load_config(config_file).products)) as stub:
        result = run(
            config_file, {"STRIPE_SECRET_KEY": TEST_KEY, "STRIPE_API_BASE": stub.url}, "--check"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 4
    assert all(": ok: " in line for line in result.stdout.splitlines())
    assert [r.path for r in stub.requests] == [
        "/v1/prices/price_once",
        "/v1/prices/price_monthly",
        "/v1/prices/price_seat",
        "/v1/prices/price_pack",
    ]


def test_the_server_refuses_to_start_on_a_wrong_price(config_file: Path) -> None:
    with StripeStub(prices=wrong_prices(config_file)) as stub:
        result = run(
            config_file,
            {"STRIPE_SECRET_KEY": TEST_KEY, "STRIPE_API_BASE": stub.url},
            "--port",
            str(free_port()),
        )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"checkout_server: {where(config_file, 'price_once')}: ")
    assert "does not exist" in line and "2 more: run --check" in line


def test_the_server_starts_with_a_warning_when_stripe_is_unreachable(
    config_file: Path, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with CheckoutProcess(config_file, closed, tmp_path / "log") as server:
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    warnings = [line for line in server.log_lines() if " WARNING " in line]
    assert len(warnings) == 4 and all("not checked" in line for line in warnings)


# --- dry runs serve no buyer --------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "args", "reason"),
    [
        ({"STRIPE_SECRET_KEY": "sk_live_abc123"}, [], "live STRIPE_SECRET_KEY"),
        ({"STRIPE_SECRET_KEY": "rk_live_abc123"}, [], "live STRIPE_SECRET_KEY"),
        ({}, ["--host", "0.0.0.0"], "loopback"),
        ({"HOST": "192.0.2.10"}, [], "loopback"),
    ],
)
def test_dry_run_refuses_where_buyers_could_reach_it(
    config_file: Path, env: dict, args: list[str], reason: str
) -> None:
    result = run(config_file, env, "--dry-run", "--port", str(free_port()), *args)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert reason in line and "sk_live_abc123" not in line


def test_dry_run_health_check_keeps_load_balancers_away(config_file: Path, tmp_path: Path) -> None:
    env = {"STRIPE_SECRET_KEY": ""}
    with CheckoutProcess(
        config_file, "http://127.0.0.1:9", tmp_path / "log", "--dry-run", **env
    ) as server:
        health = requests.get(server.url + "/healthz", timeout=10)
        shown = requests.post(server.url + "/buy", data={"product": "once"}, timeout=10)
    assert health.status_code == 503 and "dry run" in health.text
    assert shown.status_code == 200 and "Dry run" in shown.text


def test_the_missing_key_message_does_not_suggest_a_dry_run(config_file: Path) -> None:
    result = run(config_file, {}, "--port", str(free_port()))
    assert result.returncode == 2
    assert "STRIPE_SECRET_KEY is not set" in result.stderr and "--dry-run" not in result.stderr
